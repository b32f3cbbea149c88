/* The time-left rule in the browser: the twin of dashboard/ui/timeleft.py (same thresholds, same words).
   The words come from the server (i18n) in a data-cc-timeleft attribute holding JSON (timeleft.words_json):
   {"dh": "{d}天{h}小时", "hm": "{h}小时{m}分", "m": "{m}分", "over": "超期 {time}", "soon_seconds": 7200}.
   window.ccTimeLeft.urgency(secondsLeft, isOpen) → "over" | "soon" | "ok";
   window.ccTimeLeft.text(secondsLeft, words?) → "2天3小时" / "超期 45分" (words default: the page's first
   [data-cc-timeleft] element). */
(function () {
  "use strict";
  var SOON_SECONDS = 2 * 3600;
  function pageWords() {
    var el = document.querySelector("[data-cc-timeleft]");
    if (!el) { return null; }
    try { return JSON.parse(el.getAttribute("data-cc-timeleft")); } catch (e) { return null; }
  }

  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : all;
    });
  }

  function span(minutes, words) {
    var days = Math.floor(minutes / 1440);
    var rest = minutes - days * 1440;
    var hours = Math.floor(rest / 60);
    var mins = rest - hours * 60;
    if (days) { return fill(words.dh, { d: days, h: hours }); }
    if (hours) { return fill(words.hm, { h: hours, m: mins }); }
    return fill(words.m, { m: mins });
  }

  function urgency(secondsLeft, isOpen) {
    if (isOpen === false || secondsLeft === null || secondsLeft === undefined || isNaN(secondsLeft)) { return "ok"; }
    if (secondsLeft < 0) { return "over"; }
    var soon = (pageWords() || {}).soon_seconds || SOON_SECONDS;
    return secondsLeft <= soon ? "soon" : "ok";
  }

  function text(secondsLeft, words) {
    words = words || pageWords();
    if (!words || secondsLeft === null || secondsLeft === undefined || isNaN(secondsLeft)) { return ""; }
    if (secondsLeft < 0) { return fill(words.over, { time: span(Math.ceil(-secondsLeft / 60), words) }); }
    return span(Math.floor(secondsLeft / 60), words);
  }

  window.ccTimeLeft = { SOON_SECONDS: SOON_SECONDS, urgency: urgency, text: text };
})();
