"""The database.

engine and sessions, models, migrations, bulk writes, KPI counters, locks, and the hooks installed
on a Database.
"""
