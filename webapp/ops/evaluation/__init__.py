"""Evaluation: the same question run N times, k at once; time to first token, latency, tokens/s, agreement.

The source article's advice, done: "run the same query several times, average the
response time, check the consistency". `questions` (what is asked), `answers` (what a
reply answers, and when two agree) and `summary` (runs in figures) are pure; `report`
puts them as text and CSV; `runner` streams through `ModelClient` (so R1's rules apply:
no system prompt, temperature 0.6 / top_p 0.95, the math instruction for math
questions); `cli` is `python -m webapp.ops.evaluation --help`.
"""
