"""An owner's saved settings: how their next answers are sampled, and whether the thinking shows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from webapp.llm.sampling import RECOMMENDED, Sampling


@dataclass(frozen=True, slots=True)
class Preferences:
    """An owner's settings: how their next answers are sampled and shown."""

    sampling: Sampling = RECOMMENDED
    show_reasoning: bool = True

    def columns(self) -> dict[str, Any]:
        """These settings as the store keeps them: one flat row."""
        sampling = {field.name: getattr(self.sampling, field.name) for field in fields(Sampling)}
        return sampling | {"show_reasoning": self.show_reasoning}

    @classmethod
    def from_columns(cls, row: Mapping[str, Any]) -> Preferences:
        """Preferences from the store's row (`columns`' inverse)."""
        sampling = Sampling(**{field.name: row[field.name] for field in fields(Sampling)})
        return cls(sampling, show_reasoning=row["show_reasoning"])
