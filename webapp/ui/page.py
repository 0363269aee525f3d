"""The Gradio chat page: thin; it turns chat-service events into page updates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import gradio as gr

from webapp.auth.accounts import Identity
from webapp.auth.authenticator import Authenticator
from webapp.auth.gate import from_this_machine
from webapp.chat.render import display
from webapp.chat.service import ChatEvent, ChatService, Notice, Preferences, Sampling, TurnEnded
from webapp.db.store import ConversationInfo, MessageRecord
from webapp.db.tables import MessageState
from webapp.engine import logfile as engine_log
from webapp.errors import AppError
from webapp.llm.reasoning import Piece
from webapp.ops.status import StatusMonitor
from webapp.ui.account import build_account_controls, build_admin_tab, build_share_controls, translated
from webapp.ui.evaluation import build_eval_tab
from webapp.ui.i18n import DEFAULT_LANG, Lang, t
from webapp.ui.status_view import banner_markdown, phases_markdown, status_markdown

# One page update per this many seconds at most: a browser re-renders on every
# update and falls behind at about 180 updates/s, while a fast engine writes more.
UPDATE_INTERVAL = 0.05

LATEX_DELIMITERS: list[dict[str, str | bool]] = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "\\[", "right": "\\]", "display": True},
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
]

Chat = list[dict[str, Any]]


def stats_line(message: MessageRecord, lang: Lang) -> str:
    """Time to first token, tokens/s, thinking and answer tokens, under an answer."""
    parts = []
    if message.ttft_ms is not None:
        parts.append(f"{t('ttft', lang)} {message.ttft_ms:.0f} ms")
    if message.tokens_per_s is not None:
        parts.append(f"{message.tokens_per_s:.1f} tok/s")
    if message.reasoning_tokens is not None:
        parts.append(f"{t('reasoning_tokens', lang)} {message.reasoning_tokens} tok")
    if message.answer_tokens is not None:
        parts.append(f"{t('answer_tokens', lang)} {message.answer_tokens} tok")
    return " · ".join(parts)


def thought_block(reasoning: str, lang: Lang, *, done: bool, seconds: float) -> dict[str, Any]:
    metadata: dict[str, Any] = {"title": t("thought", lang), "status": "done", "duration": round(seconds, 1)}
    if not done:
        metadata = {"title": f"{t('thinking', lang)} {seconds:.0f}s", "status": "pending"}
    return {"role": "assistant", "content": display(reasoning), "metadata": metadata}


def answer_bubbles(message: MessageRecord, lang: Lang, show_reasoning: bool = True) -> Chat:
    """A stored answer as the chat shows it: thought block, answer, state, figures."""
    out: Chat = []
    if message.reasoning and show_reasoning:
        out.append(thought_block(message.reasoning, lang, done=True, seconds=message.thinking_s or 0.0))
    body = display(message.content)
    notes = []
    if message.state == MessageState.STOPPED:
        notes.append(f"⏹ {t('stopped', lang)}")
    elif message.state == MessageState.STREAMING:  # a turn the page left goes on unseen (`stream_turn`)
        notes.append(f"⏳ {t('writing', lang)}")
    elif message.state == MessageState.TRUNCATED:
        notes.append(f"✂ {t('truncated', lang)}")
    elif message.state == MessageState.ERROR:
        notes.append(f"⚠️ {t('error', lang)}: {display(message.error or '')}")
    figures = stats_line(message, lang)
    if figures and message.state != MessageState.ERROR:
        notes.append(figures)
    footer = "\n\n".join(f"<sub>{note}</sub>" for note in notes)
    content = "\n\n".join(part for part in (body, footer) if part)
    if content:
        out.append({"role": "assistant", "content": content})
    return out


def render(history: Sequence[MessageRecord], lang: Lang, show_reasoning: bool = True) -> Chat:
    chat: Chat = []
    for message in history:
        if message.role == "user":
            chat.append({"role": "user", "content": display(message.content)})
        else:
            chat.extend(answer_bubbles(message, lang, show_reasoning))
    return chat


class LiveAnswer:
    """One answer being streamed, rendered after the chat so far."""

    def __init__(self, before: Chat, lang: Lang, show_reasoning: bool = True) -> None:
        self.before = before
        self.lang = lang
        self.show_reasoning = show_reasoning
        self.started = time.monotonic()
        self.reasoning = ""
        self.answer = ""
        self.notice = ""
        self.answer_began: float | None = None

    def add(self, event: ChatEvent) -> None:
        if isinstance(event, Notice):
            self.notice = event.text
        elif isinstance(event, Piece):
            if event.kind == "reasoning":
                self.reasoning += event.text
            else:
                self.answer_began = self.answer_began or time.monotonic()
                self.answer += event.text

    def render(self) -> Chat:
        chat = list(self.before)
        if self.notice:
            chat.append({"role": "assistant", "content": f"<sub>ℹ️ {display(self.notice)}</sub>"})
        if self.reasoning and self.show_reasoning:
            done = self.answer_began is not None
            seconds = (self.answer_began or time.monotonic()) - self.started
            chat.append(thought_block(self.reasoning, self.lang, done=done, seconds=seconds))
        if self.answer:
            chat.append({"role": "assistant", "content": display(self.answer)})
        return chat


class PageSessions:
    """The page sessions whose user has changed the chat (sent, chose, cleared), and what each shows.

    The page restores the latest conversation when it opens, but that load can finish after
    the user's first send has begun: its output then replaced the chat under the streamed
    answer, whose later updates are diffs against what the turn itself had sent, and the chat
    ended blank. A load that finds its session here leaves the chat alone.

    A streamed answer updates the page only while the page shows its conversation: a person
    who opens another one mid-answer stays there (see `stream_turn`). The oldest sessions are
    forgotten past `limit`; a forgotten one counts as showing whatever is streamed to it.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._shown: dict[str, str | None] = {}  # insertion-ordered: the oldest first

    def mark(self, request: gr.Request, shown: str | None) -> None:
        """The user acted, and the page now shows conversation `shown` (None: a new, empty chat)."""
        if request.session_hash is None:
            return
        self._shown[request.session_hash] = shown
        if len(self._shown) > self.limit:
            del self._shown[next(iter(self._shown))]

    def __contains__(self, request: gr.Request) -> bool:
        return request.session_hash in self._shown

    def shows(self, request: gr.Request, conversation: str) -> bool:
        return self._shown.get(request.session_hash or "", conversation) == conversation


def _conversation_choices(conversations: Sequence[ConversationInfo], lang: Lang) -> list[tuple[str, str]]:
    return [(c.title or t("untitled", lang), c.id) for c in conversations]


def build_ui(service: ChatService, auth: Authenticator, monitor: StatusMonitor) -> gr.Blocks:
    """The chat page, wired to `service`; `auth` says who each event comes from."""

    def identity_of(request: gr.Request) -> Identity:
        client = request.client.host if request.client else None
        local = from_this_machine(client, request.headers)
        who = auth.identify(dict(request.cookies), request.headers.get("authorization"), local=local)
        if who is None:  # the session expired, or the page was loaded without the app's cookie
            raise gr.Error("Your session has ended: reload the page (and sign in again).")
        return who

    background: set[asyncio.Task[None]] = set()  # tasks started by a click, kept until they end
    acted = PageSessions()

    def owner_of(request: gr.Request) -> str:
        return identity_of(request).owner

    def admit(owner: str, request: gr.Request) -> None:
        try:
            service.admit(owner, request.client.host if request.client else None)
        except AppError as exc:
            raise gr.Error(str(exc)) from exc

    def sampling_from(temperature: float, top_p: float, max_tokens: float, math: bool, persona: str) -> Sampling:
        return Sampling(
            temperature=float(temperature),
            top_p=float(top_p),
            max_tokens=int(max_tokens) or None,
            math=bool(math),
            persona=persona or "",
        )

    async def view(owner: str, history: Sequence[MessageRecord], lang: Lang) -> Chat:
        """The chat as this owner has chosen to see it (with or without the thinking)."""
        return render(history, lang, (await service.preferences(owner)).show_reasoning)

    async def sidebar(owner: str, lang: Lang, selected: str | None, search: str = "") -> Any:
        conversations = await service.conversations(owner, search)
        return gr.update(choices=_conversation_choices(conversations, lang), value=selected)

    async def on_load(lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        owner = owner_of(request)
        conversations = await service.conversations(owner)
        if not conversations:  # nothing to restore: the page opens empty, and no update can race a send
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        latest = conversations[0]
        chat = await view(owner, await service.messages(owner, latest.id), lang)
        if request in acted:  # checked last: the user may have acted while this load read
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        choices = gr.update(choices=_conversation_choices(conversations, lang), value=latest.id)
        return latest.id, choices, chat, latest.title

    async def on_select(conversation_id: str | None, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        acted.mark(request, conversation_id or None)
        if not conversation_id:
            return None, [], ""
        owner = owner_of(request)
        info = await service.conversation(owner, conversation_id)
        return conversation_id, await view(owner, await service.messages(owner, conversation_id), lang), info.title

    async def on_new(lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        acted.mark(request, None)
        owner_of(request)
        return None, [], "", gr.update(value=None), False

    async def on_search(text: str, current: str | None, lang: Lang, request: gr.Request) -> Any:
        return await sidebar(owner_of(request), lang, current, text)

    async def on_rename(title: str, current: str | None, lang: Lang, request: gr.Request) -> Any:
        owner = owner_of(request)
        if not current:
            raise gr.Error(t("untitled", lang))
        try:
            await service.rename(owner, current, title)
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        return await sidebar(owner, lang, current)

    async def on_delete(current: str | None, lang: Lang, request: gr.Request) -> tuple[Any, ...]:
        acted.mark(request, None)
        owner = owner_of(request)
        if current:
            await service.delete(owner, current)
        return None, [], "", await sidebar(owner, lang, None)

    def finish_unseen(turn: AsyncIterator[ChatEvent]) -> None:
        """Let a turn run to its end (and be saved) without the page that began it."""

        async def drain() -> None:
            async for _ in turn:
                pass

        background.add(task := asyncio.create_task(drain(), name="unseen-turn"))
        task.add_done_callback(background.discard)

    async def stream_turn(
        owner: str,
        current: str,
        lang: Lang,
        before: Chat,
        turn: AsyncIterator[ChatEvent],
        request: gr.Request,
        continuing: MessageRecord | None = None,
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Page updates (conversation, chat, Send button) for one streamed answer.

        At most one per UPDATE_INTERVAL, the first at once. Send is off from the first (the
        service would refuse a second turn of this conversation) until the event is over.
        Once the page shows another conversation, the updates end (they would pull the page
        back) and the answer goes on unseen: it is there, whole, when the person returns.
        The event ends with them, so the person can send in the conversation they went to.
        """
        live = LiveAnswer(before, lang, (await service.preferences(owner)).show_reasoning)
        if continuing is not None:
            live.add(Piece("reasoning", continuing.reasoning))
            live.add(Piece("content", continuing.content))
        yield current, live.render(), gr.update(interactive=False)
        last = 0.0
        async for event in turn:
            if isinstance(event, TurnEnded):
                break
            live.add(event)
            now = time.monotonic()
            if now - last >= UPDATE_INTERVAL:
                last = now
                if not acted.shows(request, current):
                    finish_unseen(turn)
                    return
                yield current, live.render(), gr.skip()
        if acted.shows(request, current):
            yield current, await view(owner, await service.messages(owner, current), lang), gr.skip()

    async def on_send(
        text: str, current: str | None, editing: bool, lang: Lang,
        temperature: float, top_p: float, max_tokens: float, math: bool, persona: str,
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:  # fmt: skip
        acted.mark(request, current)
        owner = owner_of(request)
        try:
            sampling = sampling_from(temperature, top_p, max_tokens, math, persona)
            service.validate(text)
            service.admit(owner, request.client.host if request.client else None)
            if current is None:
                current = (await service.new_conversation(owner)).id
                acted.mark(request, current)
            # Stored (or refused: a turn of this conversation still under way) before the box is
            # cleared, so a refused message stays where it was typed.
            history = await service.begin(owner, current, text, replace_last=editing)
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        turn = service.answer(owner, current, history, sampling)
        before = await view(owner, history, lang)
        yield "", False, current, before, await sidebar(owner, lang, current), gr.skip(), gr.update(interactive=False)
        async for current_id, chat, button in stream_turn(owner, current, lang, before, turn, request):
            yield gr.skip(), gr.skip(), current_id, chat, gr.skip(), gr.skip(), button
        if not acted.shows(request, current):
            return
        title = (await service.conversation(owner, current)).title
        yield gr.skip(), gr.skip(), current, gr.skip(), await sidebar(owner, lang, current), title, gr.skip()

    async def on_regenerate(
        current: str | None, lang: Lang,
        temperature: float, top_p: float, max_tokens: float, math: bool, persona: str,
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:  # fmt: skip
        acted.mark(request, current)
        owner = owner_of(request)
        if not current:
            return
        sampling = sampling_from(temperature, top_p, max_tokens, math, persona)
        admit(owner, request)
        try:  # refused (a turn under way, nothing to answer) before the chat changes
            history = await service.begin_again(owner, current)
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        turn = service.answer(owner, current, history, sampling)
        async for update in stream_turn(owner, current, lang, await view(owner, history, lang), turn, request):
            yield update

    async def on_continue(
        current: str | None, lang: Lang,
        temperature: float, top_p: float, max_tokens: float, math: bool, persona: str,
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:  # fmt: skip
        acted.mark(request, current)
        owner = owner_of(request)
        if not current:
            return
        sampling = sampling_from(temperature, top_p, max_tokens, math, persona)
        admit(owner, request)
        try:  # refused (a turn under way, nothing cut to go on with) before the chat changes
            history, cut = await service.begin_continuing(owner, current)
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        turn = service.answer(owner, current, history, sampling, continuing=cut)
        before = await view(owner, history, lang)
        async for update in stream_turn(owner, current, lang, before, turn, request, continuing=cut):
            yield update

    def on_turn_over() -> Any:
        """Send again, once a turn's event is over (not at its last update: until the event
        ends, Gradio drops a second press of the key that began it)."""
        return gr.update(interactive=True)

    async def on_stopped(current: str | None, lang: Lang, request: gr.Request) -> Any:
        """After a stop, show the answer as it was saved (with its partial text and state)."""
        if not current:
            return gr.skip()
        owner = owner_of(request)
        return await view(owner, await service.settled_messages(owner, current), lang)

    async def on_edit(current: str | None, request: gr.Request) -> tuple[Any, ...]:
        owner = owner_of(request)
        if not current:
            return gr.skip(), False
        history = await service.messages(owner, current)
        last = next((m for m in reversed(history) if m.role == "user"), None)
        return (last.content, True) if last else (gr.skip(), False)

    def controls(preferences: Preferences, max_model_len: int | None) -> tuple[Any, ...]:
        return (
            preferences.temperature,
            preferences.top_p,
            gr.update(value=preferences.max_tokens or 0, maximum=max_model_len),
            preferences.math,
            preferences.show_reasoning,
            preferences.persona,
        )

    async def on_load_settings(request: gr.Request) -> tuple[Any, ...]:
        """The owner's saved settings; controls whose saved value is the page's default are left alone.

        The page can be used before this event ends: what someone typed meanwhile is kept
        unless they had saved something else.
        """
        report = await monitor.report()
        saved = controls(await service.preferences(owner_of(request)), report["engine"]["max_model_len"])
        built = controls(Preferences(), report["engine"]["max_model_len"])
        return tuple(
            (gr.update(maximum=report["engine"]["max_model_len"]) if index == 2 else gr.skip())
            if mine == page
            else mine
            for index, (mine, page) in enumerate(zip(saved, built, strict=True))
        )

    async def on_settings(
        temperature: float, top_p: float, max_tokens: float | None, math: bool, show: bool, persona: str,
        request: gr.Request,
    ) -> None:  # fmt: skip
        preferences = Preferences(
            float(temperature), float(top_p), int(max_tokens or 0) or None, bool(math), bool(show), persona or ""
        )
        try:
            await service.save_preferences(owner_of(request), preferences)
        except AppError as exc:
            raise gr.Error(str(exc)) from exc

    async def on_reset(request: gr.Request) -> tuple[Any, ...]:
        owner = owner_of(request)
        report = await monitor.report()
        return controls(await service.save_preferences(owner, Preferences()), report["engine"]["max_model_len"])

    async def on_restart(language: Lang, request: gr.Request) -> str:
        if not identity_of(request).is_admin:
            raise gr.Error("Only an admin may do this.")
        background.add(task := asyncio.create_task(service.engine.restart(), name="engine-restart"))
        task.add_done_callback(background.discard)
        return t("restarting", language)

    def on_load_access(request: gr.Request) -> Any:
        """The status tab (log, engine details) is for admins only; its handlers check again."""
        return gr.update(visible=identity_of(request).is_admin)

    async def on_tick(lang: Lang, level: str, search: str, request: gr.Request) -> tuple[Any, ...]:
        report = await monitor.report()
        engine = report["engine"]
        banner = banner_markdown(engine, lang)
        if not identity_of(request).is_admin:  # everyone sees the loading banner; only admins the rest
            return gr.update(value=banner, visible=bool(banner)), gr.skip(), gr.skip(), gr.skip()
        tail = await monitor.log_lines()
        log_text = "\n".join(engine_log.view(tail, level=level or "", search=search or "", limit=400))
        return (
            gr.update(value=banner, visible=bool(banner)),
            status_markdown(engine, lang),
            phases_markdown(engine, lang),
            log_text,
        )

    blocks = gr.Blocks(title="DeepSeek-R1 Chat", analytics_enabled=False)
    with blocks:
        lang = gr.State(DEFAULT_LANG)
        current = gr.State(None)
        editing = gr.State(False)
        with gr.Sidebar(elem_id="sidebar", open=True):
            new = gr.Button(t("new", DEFAULT_LANG), elem_id="new-chat", variant="primary")
            search = gr.Textbox(elem_id="search", show_label=False, placeholder=t("search", DEFAULT_LANG))
            conversations = gr.Radio(
                choices=[], elem_id="conversations", show_label=False, container=False, type="value"
            )
            with gr.Group():
                title = gr.Textbox(elem_id="title", label=t("title", DEFAULT_LANG), max_lines=1)
                with gr.Row():
                    rename = gr.Button(t("rename", DEFAULT_LANG), elem_id="rename", size="sm")
                    delete = gr.Button(t("delete", DEFAULT_LANG), elem_id="delete", size="sm", variant="stop")
            language = gr.Radio(
                [("中文", "zh"), ("English", "en")], value=DEFAULT_LANG, elem_id="language", show_label=False
            )
            extra_labels = build_account_controls(blocks, auth, identity_of, lang) if auth.required else []
        with gr.Tabs():
            chat_tab = gr.Tab(t("chat_tab", DEFAULT_LANG), elem_id="chat-tab")
            # Hidden until the page load shows it to an admin: Gradio 6.31 can show a hidden tab
            # from an event, but an update cannot hide the button of a shown one.
            status_tab = gr.Tab(t("status_tab", DEFAULT_LANG), elem_id="status-tab", visible=False)
            if auth.required:
                extra_labels += build_admin_tab(blocks, auth, identity_of)[1]
            extra_labels += build_eval_tab(blocks, service.client, identity_of, lang)[1]
        with status_tab:
            with gr.Row():
                restart = gr.Button(t("restart_engine", DEFAULT_LANG), elem_id="restart-engine", size="sm", scale=0)
                restart_note = gr.Markdown(elem_id="restart-note")
            summary = gr.Markdown(elem_id="engine-summary")
            timeline = gr.Markdown(elem_id="engine-phases")
            with gr.Row():
                log_level = gr.Dropdown(
                    [("ALL", ""), "INFO", "WARNING", "ERROR"], value="", label=t("log_level", DEFAULT_LANG), scale=1
                )
                log_search = gr.Textbox(label=t("log_search", DEFAULT_LANG), scale=3)
                gr.HTML(f'<a href="/api/engine/log" download id="download-log">{t("download_log", DEFAULT_LANG)}</a>')
            log_box = gr.Textbox(
                elem_id="engine-log", show_label=False, lines=20, max_lines=20, interactive=False, autoscroll=True
            )
        with chat_tab:
            banner = gr.Markdown(elem_id="banner", visible=False)
            chatbot = gr.Chatbot(
                elem_id="chat",
                show_label=False,
                height="68vh",
                latex_delimiters=LATEX_DELIMITERS,
                buttons=["copy"],
                feedback_options=None,
                sanitize_html=True,
                allow_tags=False,
                placeholder=t("placeholder", DEFAULT_LANG),
            )
            with gr.Row(equal_height=True):
                box = gr.Textbox(
                    elem_id="prompt",
                    show_label=False,
                    placeholder=t("prompt", DEFAULT_LANG),
                    scale=8,
                    autofocus=True,
                    lines=1,
                    max_lines=8,
                )
                send = gr.Button(t("send", DEFAULT_LANG), elem_id="send", variant="primary", scale=1, min_width=80)
                stop = gr.Button(t("stop", DEFAULT_LANG), elem_id="stop", scale=1, min_width=80)
            with gr.Row():
                regenerate = gr.Button(t("regenerate", DEFAULT_LANG), elem_id="regenerate", size="sm")
                edit = gr.Button(t("edit", DEFAULT_LANG), elem_id="edit", size="sm")
                resume = gr.Button(t("continue", DEFAULT_LANG), elem_id="continue", size="sm")
            with gr.Accordion(t("settings", DEFAULT_LANG), open=False, elem_id="settings") as settings_box:
                temperature = gr.Slider(0, 2, value=0.6, step=0.05, label=t("temperature", DEFAULT_LANG))
                top_p = gr.Slider(0.05, 1, value=0.95, step=0.05, label=t("top_p", DEFAULT_LANG))
                max_tokens = gr.Number(value=0, minimum=0, precision=0, label=t("max_tokens", DEFAULT_LANG))
                math = gr.Checkbox(value=False, label=t("math", DEFAULT_LANG))
                show_reasoning = gr.Checkbox(
                    value=True, label=t("show_reasoning", DEFAULT_LANG), elem_id="show-reasoning"
                )
                persona = gr.Textbox(label=t("persona", DEFAULT_LANG), lines=2, max_lines=6)
                reset = gr.Button(t("reset", DEFAULT_LANG), elem_id="reset-settings", size="sm")
            extra_labels += build_share_controls(blocks, service, identity_of, current, lang)
        extra_labels.append((restart, "restart_engine", "value"))
        sampling_inputs = [temperature, top_p, max_tokens, math, persona]
        timer = gr.Timer(2.0)
        status_outputs = [banner, summary, timeline, log_box]
        timer.tick(on_tick, [lang, log_level, log_search], status_outputs, api_visibility="private")

        private: dict[str, Any] = {"api_visibility": "private"}
        preference_controls = [temperature, top_p, max_tokens, math, show_reasoning, persona]
        blocks.load(on_load_settings, None, preference_controls, **private)
        for control in (max_tokens, math, persona):
            control.change(on_settings, preference_controls, None, **private)
        for slider in (temperature, top_p):
            slider.release(on_settings, preference_controls, None, **private)
        show_reasoning.input(on_settings, preference_controls, None, **private).then(
            on_select, [current, lang], [current, chatbot, title], **private
        )
        reset.click(on_reset, None, preference_controls, **private).then(
            on_select, [current, lang], [current, chatbot, title], **private
        )
        blocks.load(on_load, [lang], [current, conversations, chatbot, title], **private)
        blocks.load(on_tick, [lang, log_level, log_search], status_outputs, **private)
        blocks.load(on_load_access, None, [status_tab], **private)
        log_level.change(on_tick, [lang, log_level, log_search], status_outputs, **private)
        log_search.submit(on_tick, [lang, log_level, log_search], status_outputs, **private)
        conversations.input(on_select, [conversations, lang], [current, chatbot, title], **private)
        new.click(on_new, [lang], [current, chatbot, title, conversations, editing], **private)
        # `.change`, not `.input`: Gradio sends no input event for keys that delete text, and
        # the list stayed filtered after the search box was emptied. Keys typed while a search
        # runs must not be dropped (the default mode): the text as it stands then is searched next.
        search.change(on_search, [search, current, lang], [conversations], trigger_mode="always_last", **private)
        rename.click(on_rename, [title, current, lang], [conversations], **private)
        delete.click(on_delete, [current, lang], [current, chatbot, title, conversations], **private)
        edit.click(on_edit, [current], [box, editing], **private)
        # No concurrency limit: vLLM batches many chats; Gradio's default of 1 would queue them.
        streaming: dict[str, Any] = {"concurrency_limit": None, "show_progress": "hidden", **private}
        send_inputs = [box, current, editing, lang, *sampling_inputs]
        send_outputs = [box, editing, current, chatbot, conversations, title, send]
        turn_inputs = [current, lang, *sampling_inputs]
        turns: list[Any] = [
            trigger(on_send, send_inputs, send_outputs, **streaming) for trigger in (box.submit, send.click)
        ]
        turns.append(regenerate.click(on_regenerate, turn_inputs, [current, chatbot, send], **streaming))
        turns.append(resume.click(on_continue, turn_inputs, [current, chatbot, send], **streaming))
        for turn in turns:  # `.then`: however the turn ends (done, failed, stopped), Send comes back
            turn.then(on_turn_over, None, [send], concurrency_limit=None, **private)
        stop.click(None, cancels=turns, **private).then(on_stopped, [current, lang], [chatbot], **private)

        def relabel(choice: Lang) -> tuple[Any, ...]:
            return (
                choice,
                gr.update(value=t("new", choice)),
                gr.update(placeholder=t("search", choice)),
                gr.update(label=t("title", choice)),
                gr.update(value=t("rename", choice)),
                gr.update(value=t("delete", choice)),
                gr.update(placeholder=t("placeholder", choice)),
                gr.update(placeholder=t("prompt", choice)),
                gr.update(value=t("send", choice)),
                gr.update(value=t("stop", choice)),
                gr.update(value=t("regenerate", choice)),
                gr.update(value=t("edit", choice)),
                gr.update(value=t("continue", choice)),
                gr.update(label=t("settings", choice)),
                gr.update(label=t("temperature", choice)),
                gr.update(label=t("max_tokens", choice)),
                gr.update(label=t("math", choice)),
                gr.update(label=t("persona", choice)),
                gr.update(label=t("show_reasoning", choice)),
                gr.update(value=t("reset", choice)),
            )

        language.change(
            relabel,
            [language],
            [
                lang, new, search, title, rename, delete, chatbot, box, send, stop,
                regenerate, edit, resume, settings_box, temperature, max_tokens, math, persona, show_reasoning, reset,
            ],
            **private,
        )  # fmt: skip
        language.change(on_select, [current, language], [current, chatbot, title], **private)
        language.change(
            lambda choice: translated(extra_labels, choice), [language], [c for c, _, _ in extra_labels], **private
        )
        restart.click(on_restart, [lang], [restart_note], **private)
    return blocks
