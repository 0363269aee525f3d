"""Talking to the model: client, transport, stream parser, pacer, failures, reasoning, R1's prompt, endpoints.

May import: engine; settings, limits, errors (checked by `make lint`, import-linter).
"""
