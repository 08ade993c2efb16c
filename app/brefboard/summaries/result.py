"""The one result type of this package: what a summary of a transcript is.

``generate.generate_summary`` returns it for every method (LLM, extractive
fallback, too short); ``extractive.summarize`` returns it too, so the fallback
is the LLM path's answer as is, not a copy of it field by field.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

LLM = "llm"
EXTRACTIVE = "extractive"
TOO_SHORT = "too_short"


@dataclass
class Summary:
    title: str
    summary: str
    key_points: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    action_items: list[str] = field(default_factory=list)
    # The action items' parts where the method knows them (extractive):
    # [{"owner": "Maria", "task": "draft two options", "due": "by Friday"}].
    # Not stored: action_items already says all of it, in one line each.
    actions: list[dict] = field(default_factory=list)
    language: str = "fr"
    method: str = LLM  # LLM | EXTRACTIVE | TOO_SHORT
    model: str = ""
    chunks: int = 1
    structured_valid: bool = True
    llm_calls: int = 0

    @property
    def is_extractive(self) -> bool:
        return self.method == EXTRACTIVE

    def to_dict(self) -> dict:
        return asdict(self)
