"""The Gradio page, one module per area, and its words in two languages.

May import: ops and everything below it, never web (checked by `make lint`, import-linter).
"""
