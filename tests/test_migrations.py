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
