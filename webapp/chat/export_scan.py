"""An uploaded export scanned once before it is parsed: its shape, and whether parsing it is safe.

The scan builds nothing (ijson's basic events, in C), so it costs a pass over the file and no
memory. It refuses what would cost the parser far more than the file's size:
- nesting deeper than any export (`[[[[…` 100,000 deep): ijson makes a prefix per level, each as
  long as the path to it, so 200 KB of brackets would take gigabytes;
- one conversation (or a document read whole) of more JSON values than any conversation has:
  a megabyte of `{},{},…` is tens of megabytes of Python objects once built.
It stops at the owner's limit of entries: those after it are not read at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Literal

import ijson  # type: ignore[import-untyped]

from webapp.errors import MalformedBody, TooLarge

MAX_DEPTH = 64  # an export nests about ten deep
MAX_VALUES = 500_000  # JSON values in one conversation: a ChatGPT message is about 30
OPENS = frozenset({"start_map", "start_array"})
CLOSES = frozenset({"end_map", "end_array"})
UTF8_HINT = "Exports are UTF-8 JSON files: upload the file as it was exported."
Kind = Literal["list", "all", "whole"]  # a list of conversations | this app's {"conversations": [...]} | one document


@dataclass
class Shape:
    """What the scan saw: `kind` says how to parse the file; `cut` that entries past the limit were left unread."""

    kind: Kind = "whole"
    cut: bool = False
    keys: set[str] = field(default_factory=set)  # of a document that is an object
    listed: bool = False  # its "conversations" is an array


def scan(file: BinaryIO, *, most: int | None = None) -> Shape:
    """The shape of the JSON file from where it stands, or MalformedBody (400) / TooLarge (413)."""
    try:
        return _scan(file, most)
    except ijson.JSONError as exc:
        raise malformed(exc) from exc


def malformed(exc: Exception) -> MalformedBody:
    """What is wrong with a file ijson could not read."""
    detail = str(exc).splitlines()[0] if str(exc) else "it ends too soon"
    if "UTF8" in detail:
        return MalformedBody(f"The file is not UTF-8 text ({detail}).", hint=UTF8_HINT)
    return MalformedBody(f"The file is not valid JSON: {detail}.", hint="Upload the exported .json file.")


def _scan(file: BinaryIO, most: int | None) -> Shape:
    shape = Shape()
    depth = 0
    listed_at = 0  # the depth inside the array whose entries are conversations; 0 while in none
    key: str | None = None
    entries = values = total = 0
    for event, value in ijson.basic_parse(file):
        total += 1
        values += 1
        if listed_at and depth == listed_at and event not in CLOSES:  # an entry begins
            entries += 1
            values = 1
            if most is not None and entries > most:
                shape.cut = True
                break
        if listed_at and values > MAX_VALUES:
            raise _too_many()
        if event == "map_key" and depth == 1:
            key = value
            shape.keys.add(value)
        if event in OPENS:
            if depth == 0 and event == "start_array":
                shape.kind, listed_at = "list", 1
            elif depth == 1 and shape.kind == "whole" and event == "start_array" and key == "conversations":
                listed_at, shape.listed = 2, True
            depth += 1
            if depth > MAX_DEPTH:
                raise MalformedBody(
                    f"The file nests deeper than {MAX_DEPTH} levels, which no export does.",
                    hint="Upload the exported .json file.",
                )
        elif event in CLOSES:
            depth -= 1
            if depth < listed_at:
                listed_at = 0
    if shape.listed and not {"mapping", "messages"} & shape.keys:  # as `importing._items` tells them apart
        shape.kind = "all"
    elif shape.kind == "whole" and total > MAX_VALUES:
        raise _too_many()
    return shape


def _too_many() -> TooLarge:
    return TooLarge(
        f"A conversation in the file holds more than {MAX_VALUES:,} JSON values, which no export does.",
        hint="Upload the exported .json file.",
    )
