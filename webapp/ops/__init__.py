"""Operating the app: the status report, the public share tunnel, evaluation runs.

May import: chat, auth, llm, db, engine; settings, limits, errors (checked by `make lint`, import-linter).
"""
