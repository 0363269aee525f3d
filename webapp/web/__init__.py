"""The HTTP edge: REST routes, the sign-in and share pages, errors turned into HTTP.

May import: ops and everything below it, never ui (checked by `make lint`, import-linter).
"""
