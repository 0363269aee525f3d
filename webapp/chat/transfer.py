"""Whole histories in and out: an exported file imported through the store, an owner's conversations exported.

An import is refused whole only when the file is not an export (422) or not JSON (400); a
conversation that cannot be used, or that is past the owner's MAX_CONVERSATIONS, is skipped
with its reason and the others are kept.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import unicodedata
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import BinaryIO

import ijson  # type: ignore[import-untyped]
import orjson

from webapp.chat.export import to_json, to_markdown
from webapp.chat.export_scan import UTF8_HINT, malformed, scan
from webapp.chat.importing import Parsed, Skipped, parse_export, parse_items
from webapp.chat.service import ChatService
from webapp.db.records import ConversationInfo, MessageRecord
from webapp.errors import MalformedBody, NotFound

EXPORT_FORMAT = "r1-chat-history"  # names this app's export of every conversation
_UNSAFE_NAME = re.compile(r"[^\w\- ]+")
NAME_CHARS = 60
BATCH = 200  # conversations stored per transaction: a large ChatGPT export holds thousands


@dataclass(frozen=True, slots=True)
class Imported:
    ids: list[str]
    skipped: list[Skipped]


def decode(raw: bytes) -> object:
    """The JSON document in an uploaded file, or MalformedBody (400) saying what is wrong with it."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte order mark, as some editors save
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise MalformedBody(
                f"The file is not UTF-8 text (byte {bad.start:,} cannot be read).",
                hint=UTF8_HINT,
            ) from exc
        raise MalformedBody(f"The file is not valid JSON: {exc}.", hint="Upload the exported .json file.") from exc


def parse_file(file: BinaryIO, *, max_user_chars: int, most: int | None = None) -> Parsed:
    """The conversations of an uploaded export, scanned first (`export_scan`). A list (ChatGPT's, Open
    WebUI's: the large ones) and this app's export of every conversation are parsed one entry at a
    time, so only the drafts are held, never the whole document; a single conversation is read
    whole. At most twice `most` entries (the owner's MAX_CONVERSATIONS) are read: room for every
    conversation one may keep and as many unusable entries beside them, and a bound on what is held."""
    limit = None if most is None else 2 * most
    start = 3 if file.read(3) == b"\xef\xbb\xbf" else 0  # a UTF-8 byte order mark, as some editors save
    file.seek(start)
    shape = scan(file, most=limit)
    file.seek(start)
    if shape.kind == "whole":
        return parse_export(decode(file.read()), max_user_chars=max_user_chars)
    prefix = "item" if shape.kind == "list" else "conversations.item"
    entries = ijson.items(file, prefix, use_float=True)
    if limit is not None:
        entries = itertools.islice(entries, limit)
    try:
        parsed = parse_items(entries, max_user_chars=max_user_chars)
    except ijson.JSONError as exc:
        raise malformed(exc) from exc
    if shape.cut:
        parsed.skipped.append(
            Skipped(
                (limit or 0) + 1,
                "",
                f"this entry and those after it were not read: a file is read up to {limit:,} entries "
                "(twice MAX_CONVERSATIONS)",
            )
        )
    return parsed


async def import_history(service: ChatService, owner: str, file: BinaryIO, *, address: str | None = None) -> Imported:
    """Store the conversations of an exported file as new conversations of the owner's."""
    parsed = await asyncio.to_thread(
        parse_file, file, max_user_chars=service.max_message_chars, most=service.max_conversations
    )
    service.new_conversations.admit(owner, address)  # one import counts as one new conversation
    drafts = [draft for _index, draft in parsed.conversations]
    stored: list[ConversationInfo] = []
    for start in range(0, len(drafts), BATCH):  # a transaction each: others' writes wait for one batch only
        batch = drafts[start : start + BATCH]
        added = await asyncio.to_thread(service.store.add_conversations, owner, batch, most=service.max_conversations)
        stored += added
        if len(added) < len(batch):
            break  # the owner's conversations are at MAX_CONVERSATIONS
    skipped = list(parsed.skipped)
    for index, draft in parsed.conversations[len(stored) :]:
        limit = service.max_conversations
        skipped.append(
            Skipped(index, draft.title, f"over the {limit:,} conversations one may keep (MAX_CONVERSATIONS)")
        )
    skipped.sort(key=lambda s: s.index)
    return Imported([info.id for info in stored], skipped)


async def _each(service: ChatService, owner: str) -> AsyncIterator[tuple[ConversationInfo, list[MessageRecord]]]:
    """The owner's conversations one by one with their messages: only one is held at a time."""
    for info in await asyncio.to_thread(service.store.all_conversations, owner):
        try:
            messages = await service.messages(owner, info.id)
        except NotFound:
            continue  # deleted since the list was read
        yield info, messages


async def export_json(service: ChatService, owner: str) -> AsyncIterator[bytes]:
    """Every conversation of the owner's as this app's JSON (what `import_history` reads back), in pieces."""
    yield f'{{"format": "{EXPORT_FORMAT}", "version": 1, "conversations": ['.encode()
    first = True
    async for info, messages in _each(service, owner):
        yield ("\n" if first else ",\n").encode() + to_json(info, messages).encode()
        first = False
    yield b"\n]}\n"


def file_name(index: int, title: str) -> str:
    """A safe file name for a conversation: its number, then its title's letters, digits, spaces and dashes."""
    words = _UNSAFE_NAME.sub("_", unicodedata.normalize("NFKC", title)).strip(" _")[:NAME_CHARS].strip()
    return f"{index:04d}-{words or 'conversation'}.md"


class _Chunks(io.RawIOBase):
    """Where a zip is written: bytes gathered until taken (a stream, so the zip is never held whole)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        chunk = bytes(data)  # type: ignore[call-overload]
        self._chunks.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


async def export_zip(service: ChatService, owner: str) -> AsyncIterator[bytes]:
    """Every conversation of the owner's as a Markdown file in a zip, written as it is sent."""
    sink = _Chunks()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        index = 0
        async for info, messages in _each(service, owner):
            index += 1
            archive.writestr(file_name(index, info.title), to_markdown(info, messages))
            yield sink.take()
    yield sink.take()
