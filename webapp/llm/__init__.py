"""Talking to the model: OpenAI client and transport, streaming, reasoning split, R1's prompt rules, endpoints.

May import: engine; settings, limits, errors (checked by `make lint`, import-linter).
"""
