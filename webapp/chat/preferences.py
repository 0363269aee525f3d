"""An owner's saved settings: how their next answers are sampled, whether the thinking shows, their language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from webapp.errors import InvalidInput
from webapp.llm.sampling import RECOMMENDED, Sampling

LANGUAGES = ("en", "zh")  # the page's languages; an owner's language is one of them, or "" (not chosen)


def language_of(value: object) -> str:
    """`value` if it is one of the page's languages, else InvalidInput naming them."""
    if not isinstance(value, str) or value not in LANGUAGES:
        raise InvalidInput(f"The language must be {' or '.join(map(repr, LANGUAGES))}, not {value!r}.")
    return value


@dataclass(frozen=True, slots=True)
class Preferences:
    """An owner's settings: how their next answers are sampled and shown, and their page's language."""

    sampling: Sampling = RECOMMENDED
    show_reasoning: bool = True
    language: str = ""  # "": not chosen (the page follows the browser)

    def columns(self) -> dict[str, Any]:
        """These settings as the store keeps them: one flat row."""
        sampling = {field.name: getattr(self.sampling, field.name) for field in fields(Sampling)}
        return sampling | {"show_reasoning": self.show_reasoning, "language": self.language}

    @classmethod
    def from_columns(cls, row: Mapping[str, Any]) -> Preferences:
        """Preferences from the store's row (`columns`' inverse)."""
        sampling = Sampling(**{field.name: row[field.name] for field in fields(Sampling)})
        return cls(sampling, show_reasoning=row["show_reasoning"], language=row["language"])
