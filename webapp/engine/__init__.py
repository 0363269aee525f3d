"""The vLLM engine: launch, supervision, preflight checks, weights download, its log and metrics, the demo model.

May import: settings, limits, errors (checked by `make lint`, import-linter).
"""
