"""Temporary chats: a turn answered like any other but written nowhere, its history kept by the client.

R1's rules hold as in a stored conversation (the history as model input, the persona in the
user turn, the context fitted, the rate limits and the quota), and its tokens count in the
owner's usage (a number, not the text: quotas must hold). Nothing of the chat is stored:
no conversation, no message, no checkpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import replace

from webapp.chat.draft import Draft, final_fields
from webapp.chat.events import ChatEvent, Notice, TurnEnded
from webapp.chat.service import ChatService
from webapp.db.records import MessageRecord
from webapp.db.tables import MessageState
from webapp.errors import AppError, InvalidInput
from webapp.llm.client import StreamEnd
from webapp.llm.sampling import RECOMMENDED, Sampling

MAX_TEMPORARY_MESSAGES = 400
ROLES = ("user", "assistant")


async def begin_temporary(
    service: ChatService, owner: str, earlier: Sequence[Mapping[str, object]], content: object
) -> list[dict[str, str]]:
    """The earlier messages a client kept and its new one, as model input (`begin`'s twin, storing
    nothing): refused if a role is unknown or a text is not one the chat would take (InvalidInput,
    TooLarge), or past the owner's quota (QuotaExceeded), before the model is called."""
    if len(earlier) >= MAX_TEMPORARY_MESSAGES:
        raise InvalidInput(f"A temporary chat holds at most {MAX_TEMPORARY_MESSAGES} messages: start a new one.")
    messages = []
    for message in earlier:
        role, text = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(text, str):
            raise InvalidInput("Each earlier message needs a role (user or assistant) and its text.")
        if role == "user":
            service.validate(text)
        if text.strip():  # an answer that failed with no text is left out, as in a stored chat
            messages.append({"role": str(role), "content": text})
    messages.append({"role": "user", "content": service.validate(content)})
    await service.quotas.check(owner)
    return messages


def unsaved_question(text: str) -> MessageRecord:
    """The person's message of a temporary chat, as a stored one would read (id 0: it is not)."""
    return MessageRecord(
        0, "", "user", text, "", MessageState.COMPLETE, None, None, None, None, None, None, None, None, None, None,
        None, None, False, time.time(),
    )  # fmt: skip


def unsaved(
    draft: Draft, state: MessageState, error: AppError | None, model: str | None, sampling: Sampling
) -> MessageRecord:
    """The answer as it would be stored, with id 0: it is not."""
    fields = final_fields(draft, state, error, model, sampling)
    return MessageRecord(id=0, conversation_id="", role="assistant", created_at=time.time(), **fields)


async def answer_temporary(
    service: ChatService, owner: str, messages: list[dict[str, str]], sampling: Sampling = RECOMMENDED
) -> AsyncGenerator[ChatEvent, None]:
    """Answer `messages` (from `begin_temporary`), writing nothing but the owner's token count."""
    if sampling.persona.strip():
        messages = [*messages[:-1], {"role": "system", "content": sampling.persona}, messages[-1]]
    draft, state, error, model = Draft(), MessageState.ERROR, None, None
    service.metrics.requests.inc()
    service.metrics.active.inc()
    try:
        service.engine.require_ready()
        model = await service.client.amodel_name()
        fitted, dropped, max_tokens, draft.prompt_estimate = await service.fit(messages, sampling, None)
        if dropped:
            yield Notice(f"{dropped} earlier messages were left out to fit the model's context.")
        draft.started = time.monotonic()
        async for event in service.client.astream(fitted, replace(sampling, max_tokens=max_tokens or None)):
            if isinstance(event, StreamEnd):
                draft.end = event
                continue
            if draft.first_token is None:
                service.metrics.ttft.observe(time.monotonic() - draft.started)
            draft.add(event)
            service.metrics.tokens.inc(event.tokens)
            yield event
        state = MessageState.TRUNCATED if draft.end and draft.end.finish_reason == "length" else MessageState.COMPLETE
    except AppError as exc:
        error = exc
        service.metrics.errors.labels(exc.kind).inc()
    except (asyncio.CancelledError, GeneratorExit):
        state = MessageState.STOPPED
        raise
    finally:
        service.metrics.active.dec()
        # Shielded: a reader gone mid-answer still has what the engine spent counted.
        await asyncio.shield(service.quotas.spend(owner, draft.spent()))
    yield TurnEnded(unsaved(draft, state, error, model, sampling), error)
