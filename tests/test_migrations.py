"""Alembic migrations: empty → head → base on both backends, and the models match head."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from dashboard.store import migrate
from dashboard.store.database import make_engine
from dashboard.store.models import Base


def test_upgrade_to_head_and_down_to_base(empty_database_url):
    engine = make_engine(empty_database_url)
    assert migrate.current_revision(engine) is None

    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(engine) == migrate.head_revision(empty_database_url)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables

    migrate.downgrade(empty_database_url, "base")
    assert migrate.current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

    # And up again: a downgrade leaves nothing behind that blocks the next upgrade.
    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(engine) == migrate.head_revision(empty_database_url)
    engine.dispose()


def test_models_match_the_migrated_schema(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == [], f"models and migrations differ: {differences}"


def test_api_key_scope_migration_keeps_existing_keys_unnarrowed(empty_database_url):
    from sqlalchemy import text

    engine = make_engine(empty_database_url)
    migrate.upgrade(empty_database_url, "0006")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO api_keys (name, key_hash, source, created_at)"
                " VALUES ('old-feed', :hash, 'hotline_12345', CURRENT_TIMESTAMP)"
            ),
            {"hash": "a" * 64},
        )
        connection.execute(text("INSERT INTO regions (code, name, level) VALUES ('510107', 'Wuhou', 'district')"))
    migrate.upgrade(empty_database_url, "0007")
    columns = {column["name"] for column in inspect(engine).get_columns("api_keys")}
    assert {"region_code", "actions"} <= columns
    foreign_keys = inspect(engine).get_foreign_keys("api_keys")
    assert [(fk["name"], fk["referred_table"], fk["constrained_columns"]) for fk in foreign_keys] == [
        ("fk_api_keys_region_code_regions", "regions", ["region_code"])
    ]
    with engine.begin() as connection:
        assert connection.execute(text("SELECT name, region_code, actions FROM api_keys")).all() == [
            ("old-feed", None, None)
        ]
        connection.execute(text("UPDATE api_keys SET region_code = '510107', actions = 'ingest'"))
    migrate.downgrade(empty_database_url, "0006")
    assert not {"region_code", "actions"} & {column["name"] for column in inspect(engine).get_columns("api_keys")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM api_keys")).scalars().all() == ["old-feed"]
    engine.dispose()
