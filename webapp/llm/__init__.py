"""Talking to the model: client, sampling, transport, stream parser, pacer, failures, reasoning, R1 prompt, endpoints.

May import: engine; settings, limits, errors (checked by `make lint`, import-linter).
"""
