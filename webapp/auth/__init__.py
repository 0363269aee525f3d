"""Who is asking: accounts, sessions, API tokens, passwords, anonymous owners, and the request gate.

May import: db; settings, limits, errors (checked by `make lint`, import-linter).
"""
