"""The chat service: one place that runs a chat turn, for the API and the UI alike.

A turn stores the user's message before the model is called, streams the answer,
and writes the assistant's message once when it ends, whatever ends it (done,
stop, engine error, client gone), checkpointing long answers every few seconds
so that even a killed process keeps most of one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import replace
from typing import Any, TypeVar

from webapp.chat.batches import Batches
from webapp.chat.claims import TurnClaims
from webapp.chat.context import model_messages
from webapp.chat.draft import Draft, final_fields
from webapp.chat.events import ChatEvent, Notice, TurnEnded
from webapp.chat.fitting import fit
from webapp.chat.keeping import ListKeeping
from webapp.chat.metrics import ChatMetrics
from webapp.chat.preferences import Preferences, language_of
from webapp.chat.starts import Begun, TurnStart, TurnStarts
from webapp.chat.usage import Quotas
from webapp.db.records import ConversationInfo, MessageRecord, SharedSnapshot, ShareInfo
from webapp.db.store import FinalAnswer, Store
from webapp.db.tables import MessageState
from webapp.db.tree import Tree
from webapp.engine.supervisor import Engine
from webapp.errors import AppError, InvalidInput, NotFound, TooLarge
from webapp.limits import Admission
from webapp.llm.client import ChatBackend, StreamEnd
from webapp.llm.sampling import RECOMMENDED, Sampling

MAX_MESSAGE_CHARS = 32_000
CHECKPOINT_SECONDS = 5.0

T = TypeVar("T")


def validate_message(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """The user's message, or a clear reason it cannot be sent."""
    if not isinstance(text, str):
        raise InvalidInput(f"A message must be text, not {type(text).__name__}.", code="message_not_text")
    if not text.replace("\x00", "").strip():  # NUL characters are left out when it is stored
        raise InvalidInput("The message is empty.", hint="Type a question first.", code="message_empty")
    if len(text) > limit:
        raise TooLarge(
            f"The message has {len(text):,} characters; the limit is {limit:,}.",
            hint="Shorten it or split it over several messages.",
            code="message_too_long",
            params={"chars": len(text), "limit": limit},
        )
    return text


class ChatService(ListKeeping):
    """Conversations and chat turns for one owner at a time; the UI and the API both call this."""

    def __init__(
        self,
        engine: Engine,
        client: ChatBackend,
        store: Store,
        *,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
        metrics: ChatMetrics | None = None,
        admission: Admission | None = None,
        max_message_chars: int = MAX_MESSAGE_CHARS,
        new_conversations: Admission | None = None,
        max_conversations: int | None = None,
        daily_tokens: int | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.store = store
        self.checkpoint_seconds = checkpoint_seconds
        self.metrics = metrics or ChatMetrics()
        self.admission = admission or Admission(None, None)
        self.max_message_chars = max_message_chars
        self.new_conversations = new_conversations or Admission(None, None)
        self.max_conversations = max_conversations
        self.quotas = Quotas(store.usage, daily_tokens)
        self._starts = TurnStarts(store, daily_tokens)
        self._answer_saves: Batches[FinalAnswer, MessageRecord] = Batches(store.save_answers)
        self._claims = TurnClaims()

    def validate(self, content: object) -> str:
        """The message as it will be stored, or InvalidInput/TooLarge saying why not."""
        return validate_message(content, self.max_message_chars)

    def admit(self, owner: str, address: str | None) -> None:
        """Count a turn against the rate limits (the edges call this before starting one)."""
        self.admission.admit(owner, address)

    @staticmethod
    async def _db(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # Database calls run in a thread so a slow disk never stalls every stream.
        return await asyncio.to_thread(call, *args, **kwargs)

    # -- conversations --------------------------------------------------------

    async def new_conversation(self, owner: str, title: str = "", *, address: str | None = None) -> ConversationInfo:
        """A new conversation of the owner's: refused past their or their address's rate, or their cap."""
        self.new_conversations.admit(owner, address)
        return await self._db(self.store.create_conversation, owner, title=title, most=self.max_conversations)

    async def conversations(self, owner: str, search: str = "") -> list[ConversationInfo]:
        return await self._db(self.store.list_conversations, owner, search=search)

    async def conversation(self, owner: str, conversation_id: str) -> ConversationInfo:
        return await self._db(self.store.conversation, owner, conversation_id)

    async def messages(self, owner: str, conversation_id: str) -> list[MessageRecord]:
        """The branch shown: the conversation as the page and the model see it."""
        return await self._db(self.store.messages, owner, conversation_id)

    async def tree(self, owner: str, conversation_id: str) -> Tree:
        """Every version of every message (`webapp.db.tree`)."""
        return await self._db(self.store.tree, owner, conversation_id)

    async def choose(self, owner: str, conversation_id: str, message_id: int) -> list[MessageRecord]:
        """Show a message among its versions; what follows is its own latest branch. The branch then."""
        return await self._db(self.store.choose, owner, conversation_id, message_id)

    async def preferences(self, owner: str) -> Preferences:
        """The owner's saved settings, or the model card's recommendations."""
        saved = await self._db(self.store.settings, owner)
        return Preferences.from_columns(saved) if saved else Preferences()

    async def save_preferences(self, owner: str, preferences: Preferences) -> Preferences:
        """Save how the owner's answers are sampled and shown; their language stays as it was."""
        changes = {name: value for name, value in preferences.columns().items() if name != "language"}
        return await self._save_settings(owner, changes)

    async def save_language(self, owner: str, language: object) -> Preferences:
        """Save the owner's page language: "en" or "zh", anything else refused (InvalidInput)."""
        return await self._save_settings(owner, {"language": language_of(language)})

    async def _save_settings(self, owner: str, changes: dict[str, Any]) -> Preferences:
        saved = await self._db(self.store.save_settings, owner, changes, defaults=Preferences().columns())
        return Preferences.from_columns(saved)

    async def settled_messages(self, owner: str, conversation_id: str, within: float = 3.0) -> list[MessageRecord]:
        """The messages once the last turn has been saved (a stopped turn saves as it unwinds)."""
        deadline = time.monotonic() + within
        while True:
            history = await self.messages(owner, conversation_id)
            last = history[-1] if history else None
            # A new answer version is saved only as its turn ends: until then the old one is shown.
            unsettled = (owner, conversation_id) in self._claims or (
                last is not None and (last.role == "user" or last.state == MessageState.STREAMING)
            )
            if not unsettled or time.monotonic() > deadline:
                return history
            await asyncio.sleep(0.05)

    async def rename(self, owner: str, conversation_id: str, title: str) -> ConversationInfo:
        """Rename (the store makes the title one line of text, and refuses an empty one)."""
        return await self._db(self.store.rename, owner, conversation_id, title)

    # -- share links ----------------------------------------------------------

    async def share(self, owner: str, conversation_id: str, expires_in_days: int | None = None) -> ShareInfo:
        expires_at = time.time() + expires_in_days * 86400 if expires_in_days else None
        return await self._db(self.store.share, owner, conversation_id, expires_at=expires_at)

    async def unshare(self, owner: str, conversation_id: str) -> None:
        await self._db(self.store.unshare, owner, conversation_id)

    async def shares(self, owner: str) -> list[ShareInfo]:
        return await self._db(self.store.shares, owner)

    async def shared(self, token: str) -> SharedSnapshot:
        return await self._db(self.store.shared, token)

    # -- turns ----------------------------------------------------------------

    async def begin(
        self,
        owner: str,
        conversation_id: str,
        content: object,
        *,
        replace_last: bool = False,
        replacing: int | None = None,
    ) -> list[MessageRecord]:
        """Store the user's message, before any model is called: the branch it ends, as the model sees it."""
        return (
            await self.start(owner, conversation_id, content, replace_last=replace_last, replacing=replacing)
        ).history

    async def start(
        self,
        owner: str,
        conversation_id: str,
        content: object,
        *,
        replace_last: bool = False,
        replacing: int | None = None,
        settings: bool = False,
    ) -> Begun:
        """`begin`, with the owner's saved settings too if `settings`, read on the same trip (`webapp.chat.starts`).

        Refused (Conflict) while another turn of this conversation is under way, and past the
        owner's quota (QuotaExceeded). An edit is a new version of a user message, a branch of
        its own (the old one is kept): of the last user message shown with `replace_last`, of
        the user message `replacing` (its id) otherwise.
        """
        text = self.validate(content)
        with self._claims.claimed((owner, conversation_id)):
            if replace_last:
                history = await self.messages(owner, conversation_id)
                replacing = next((m.id for m in reversed(history) if m.role == "user"), None)
                if replacing is None:
                    raise InvalidInput("There is no message to edit.", code="nothing_to_edit")
            # Nothing awaited before the batch: turns that start together would reach it apart.
            return await self._starts.begin(TurnStart(owner, conversation_id, text, replacing, settings))

    async def begin_again(self, owner: str, conversation_id: str, message_id: int | None = None) -> list[MessageRecord]:
        """Make ready for a new version of an answer (the others are kept): of `message_id` (an answer,
        or the question it answers), else of the last one shown. The history to answer, as the model sees it."""
        await self.quotas.check(owner)
        with self._claims.claimed((owner, conversation_id)):
            tree = await self.tree(owner, conversation_id)
            if message_id is not None and message_id not in tree.by_id:
                raise NotFound("No such message in this conversation.", code="no_message")
            question = tree.question(message_id)
            if question is None:
                raise InvalidInput("There is no message to answer again.", code="nothing_to_answer")
            return tree.path_to(question.id)

    async def begin_continuing(self, owner: str, conversation_id: str) -> tuple[list[MessageRecord], MessageRecord]:
        """Make ready to go on with the last answer, cut by the length limit: the history before it, and it."""
        await self.quotas.check(owner)
        with self._claims.claimed((owner, conversation_id)):
            history = await self.messages(owner, conversation_id)
            if not history or history[-1].role != "assistant" or history[-1].state != MessageState.TRUNCATED:
                raise InvalidInput("Only an answer cut by the length limit can be continued.", code="not_cut")
            return history[:-1], history[-1]

    def answer(
        self,
        owner: str,
        conversation_id: str,
        history: list[MessageRecord],
        sampling: Sampling = RECOMMENDED,
        continuing: MessageRecord | None = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Answer the conversation as a `begin…` call returned it (and go on with `continuing`)."""
        # The turn's own generator, not one wrapped around it: every piece would cross one more.
        return self._answer(owner, conversation_id, sampling, history, continuing)

    # The turns in one call each, for callers with no use for the refusals before the stream.
    # A wrapper closes the turn it reads (`aclosing`): a reader that closes a turn rather than
    # cancel it still has its answer saved and its conversation given back at once.

    async def send(
        self, owner: str, conversation_id: str, content: object, sampling: Sampling = RECOMMENDED
    ) -> AsyncGenerator[ChatEvent, None]:
        """Store the user's message, then answer it."""
        history = await self.begin(owner, conversation_id, content)
        async with aclosing(self.answer(owner, conversation_id, history, sampling)) as events:
            async for event in events:
                yield event

    async def edit_last(
        self, owner: str, conversation_id: str, content: object, sampling: Sampling = RECOMMENDED
    ) -> AsyncGenerator[ChatEvent, None]:
        """A new version of the last user message (a branch of its own), answered."""
        history = await self.begin(owner, conversation_id, content, replace_last=True)
        async with aclosing(self.answer(owner, conversation_id, history, sampling)) as events:
            async for event in events:
                yield event

    async def regenerate(
        self, owner: str, conversation_id: str, sampling: Sampling = RECOMMENDED, message_id: int | None = None
    ) -> AsyncGenerator[ChatEvent, None]:
        """A new version of an answer (the others are kept): see `begin_again`."""
        history = await self.begin_again(owner, conversation_id, message_id)
        async with aclosing(self.answer(owner, conversation_id, history, sampling)) as events:
            async for event in events:
                yield event

    async def continue_answer(
        self, owner: str, conversation_id: str, sampling: Sampling = RECOMMENDED
    ) -> AsyncGenerator[ChatEvent, None]:
        """Go on with the last answer where the length limit cut it."""
        history, cut = await self.begin_continuing(owner, conversation_id)
        async with aclosing(self.answer(owner, conversation_id, history, sampling, continuing=cut)) as events:
            async for event in events:
                yield event

    async def fit(
        self, messages: list[dict[str, str]], sampling: Sampling, prefix: str | None
    ) -> tuple[list[dict[str, str]], int, int, int]:
        """`webapp.chat.fitting.fit` on this service's engine."""
        return await fit(self.client, messages, sampling, prefix)

    async def _answer(
        self,
        owner: str,
        conversation_id: str,
        sampling: Sampling,
        history: list[MessageRecord],
        continuing: MessageRecord | None = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """The answer to `history` (which `continuing`, if any, does not include)."""
        key = (owner, conversation_id)
        self._claims.start(key)
        try:
            prefix = None
            if continuing is not None:
                # Thinking goes on from inside the block; an answer goes on from its own text.
                prefix = continuing.content if continuing.content else f"<think>\n{continuing.reasoning}"
            messages = model_messages(history)
            if sampling.persona.strip():
                messages.insert(len(messages) - 1, {"role": "system", "content": sampling.persona})
            draft = Draft.continuing(continuing) if continuing is not None else Draft()
            state = MessageState.ERROR
            error: AppError | None = None
            model = None
            self.metrics.requests.inc()
            self.metrics.active.inc()
            try:
                self.engine.require_ready()
                model = await self.client.amodel_name()
                fitted, dropped, max_tokens, draft.prompt_estimate = await self.fit(messages, sampling, prefix)
                if dropped:
                    yield Notice(f"{dropped} earlier messages were left out to fit the model's context.")
                draft.started = time.monotonic()
                last_checkpoint = draft.started
                async for event in self.client.astream(
                    fitted,
                    replace(sampling, max_tokens=max_tokens or None),
                    prefix=prefix,
                    answer_only=continuing is not None and bool(continuing.content),
                ):
                    if isinstance(event, StreamEnd):
                        draft.end = event
                        continue
                    if draft.first_token is None:
                        self.metrics.ttft.observe(time.monotonic() - draft.started)
                    draft.add(event)
                    self.metrics.tokens.inc(event.tokens)
                    yield event
                    if time.monotonic() - last_checkpoint >= self.checkpoint_seconds:
                        last_checkpoint = time.monotonic()
                        await self._checkpoint(owner, conversation_id, draft, history[-1].id)
                finish = draft.end.finish_reason if draft.end else None
                state = MessageState.TRUNCATED if finish == "length" else MessageState.COMPLETE
            except AppError as exc:
                error = exc
            except (asyncio.CancelledError, GeneratorExit):
                state = MessageState.STOPPED
                raise
            finally:
                self.metrics.active.dec()
                if error is not None:
                    self.metrics.errors.labels(error.kind).inc()
                # Written by a thread that a cancellation cannot stop, so a stopped turn still keeps
                # what it had; a second cancellation while it writes ends the wait, not the write.
                # Answers that end together are written together, as turns that start together are.
                fields = final_fields(draft, state, error, model, sampling) | {"parent_id": history[-1].id}
                final = (owner, conversation_id, draft.message_id, fields, draft.spent())
                record = await asyncio.shield(self._answer_saves.call(final))
        finally:
            # Once the answer is written (the next turn reads it), and before TurnEnded: a reader
            # that stops there need not close this generator for the conversation to be free.
            self._claims.release(key)
        yield TurnEnded(record, error)

    async def _checkpoint(self, owner: str, conversation_id: str, draft: Draft, parent_id: int) -> None:
        fields = draft.fields() | {"state": MessageState.STREAMING, "parent_id": parent_id}
        if draft.message_id is None:
            record = await self._db(self.store.add_message, owner, conversation_id, role="assistant", **fields)
            draft.message_id = record.id
        else:
            await self._db(self.store.update_message, draft.message_id, **fields)
