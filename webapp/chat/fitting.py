"""Fitting a conversation into the model's context: the newest turns that fit, counted by the engine
when a bound cannot tell (`webapp.chat.context` holds the pure rules)."""

from __future__ import annotations

from webapp.chat.context import answer_budget, cut_points, history_target, prompt_token_bound
from webapp.llm.client import ChatBackend
from webapp.llm.prompt import r1_messages
from webapp.llm.sampling import Sampling


async def fit(
    client: ChatBackend, messages: list[dict[str, str]], sampling: Sampling, prefix: str | None
) -> tuple[list[dict[str, str]], int, int, int]:
    """The newest turns that fit, how many messages were left out, the max tokens to ask for (0: all),
    and the prompt's tokens (counted by the engine, or else their bound)."""
    known = client.context_length
    bound = prompt_token_bound(r1_messages(messages, math=sampling.math), prefix)
    if known is not None:
        requested = sampling.max_tokens
        if bound <= history_target(known, requested) and (requested is None or bound + requested <= known):
            # Surely fits, answer and all: no need to have the engine count it (a round trip
            # and a tokenization per turn). With no max tokens asked, the engine gives the rest.
            return messages, 0, requested or 0, bound
    cost = await client.acount_tokens(messages, math=sampling.math, prefix=prefix)
    if cost is None:  # not a vLLM server: no exact counts, the engine enforces its own limit
        return messages, 0, sampling.max_tokens or 0, bound
    target = history_target(cost.max_model_len, sampling.max_tokens)
    fitted, count = messages, cost.count
    cuts = cut_points(messages)
    if count > target and cuts:
        # Binary search for the fewest oldest turns to leave out: log2(turns) /tokenize calls.
        measured: dict[int, int] = {}
        low, high = 0, len(cuts) - 1
        while low <= high:
            middle = (low + high) // 2
            tokens = await client.acount_tokens(messages[cuts[middle] :], math=sampling.math, prefix=prefix)
            assert tokens is not None
            measured[middle] = tokens.count
            if tokens.count <= target:
                high = middle - 1
            else:
                low = middle + 1
        chosen = min(low, len(cuts) - 1)  # nothing fits: keep the newest message alone
        fitted, count = messages[cuts[chosen] :], measured[chosen]
    budget = answer_budget(count, cost.max_model_len, sampling.max_tokens)
    return fitted, len(messages) - len(fitted), budget, count
