"""An action's outcome (services.actions.ActionOutcome) in words, the step named in the page's language."""

from __future__ import annotations

from dashboard.domain.pii import mask_free_text
from dashboard.domain.vocab import Channel, TransitionAction
from dashboard.ui.i18n import label, normalise_language, t

# Actors that are no person: the feeds' and the demo's stand-ins, the simulator, the system's jobs, the CLI.
SYSTEM_ACTORS = ("feed", "command_center", "department", "reporter", "simulator", "system", "system:sla", "cli")


def step_words(code: str, lang: str) -> str:
    """A workflow step as a button or a message names it ("派遣", "Dispatch")."""
    return t(f"actions.step.{TransitionAction(code).value}", lang)


def outcome_text(message_key: str, values: dict, lang: str) -> str:
    """The outcome's message; a step code among its values is said as the step's name."""
    values = dict(values)
    if values.get("changed_by"):
        values["changed_by"] = actor_text(values["changed_by"], lang, values.pop("changed_by_name", None))
    if values.get("step") in set(TransitionAction):
        values["step"] = step_words(values["step"], lang)
    if values.get("allowed"):
        values["allowed"] = ("、" if normalise_language(lang) == "zh" else ", ").join(
            step_words(code, lang) if code in set(TransitionAction) else code
            for code in str(values["allowed"]).split(", ")
        )
    return t(message_key, lang, **values)


def actor_text(actor: str | None, lang: str, display_name: str | None = None) -> str:
    """Who took a step, in words: a person's name, a feed's channel ("12345热线 数据接入"), an API key's name,
    the system's own actors (指挥中心, 演示模拟器, automatic escalation…); else the masked text."""
    if not actor:
        return "—"
    if display_name:
        return t("actions.actor_user", lang, name=display_name, username=actor)
    if actor in SYSTEM_ACTORS:
        return t(f"actions.actor.{actor}", lang)
    kind, _, rest = actor.partition(":")
    if kind == "feed" and rest in set(Channel):
        return t("actions.actor_feed", lang, channel=label(Channel(rest), lang))
    if kind == "api" and rest:
        return t("actions.actor_api", lang, name=mask_free_text(rest))
    return mask_free_text(actor)
