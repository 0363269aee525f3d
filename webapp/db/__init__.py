"""The database: schema, migrations, the history store and its search.

May import: settings, limits, errors (checked by `make lint`, import-linter).
"""
