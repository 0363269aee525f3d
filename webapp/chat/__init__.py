"""The chat service: conversations, turns, preferences, write batches, context fitting, export, display text, counters.

May import: llm, db, engine; settings, limits, errors (checked by `make lint`, import-linter).
"""
