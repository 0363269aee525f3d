"""Alembic migrations of the history database, applied by the app at startup."""
