"""Recall of decisions and action items on scripted meetings.

A meeting is a JSON file: ``language``, Whisper-like ``segments``
(``start``, ``end``, ``text``) and what a reader must find in its summary::

    "decisions": [{"keywords": ["monthly", "schedule"]}],
    "actions": [{"owner": "Maria", "due": "Friday", "keywords": ["draft", "option"]}]

An expected item is found when one item of the same section contains all its
keywords, its owner and its due date (case, accents and spacing ignored:
"15 mars" matches "avant le 15 mars"); each produced item counts for one
expected item at most. Recall = found / expected, per section. Precision is
reported too (produced items that match nothing expected) but not judged:
a meeting says more than its script lists.

``score()`` takes any summarizer (``transcript, language, segments`` in, a
``Summary`` out), so the same meetings score the extractive path and the LLM
path (``bench/summaries_eval.py --llm``).
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .result import Summary

Summarizer = Callable[[str, str, list], Summary]


class MeetingError(ValueError):
    """A meeting file that is not what the scorer reads."""


@dataclass
class Meeting:
    name: str
    language: str
    segments: list[dict]
    decisions: list[dict]
    actions: list[dict]

    @property
    def transcript(self) -> str:
        return " ".join(s["text"].strip() for s in self.segments)


@dataclass
class SectionScore:
    expected: int = 0
    found: int = 0
    produced: int = 0
    matched_produced: int = 0
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.matched_produced / self.produced if self.produced else 1.0

    def add(self, other: "SectionScore") -> None:
        self.expected += other.expected
        self.found += other.found
        self.produced += other.produced
        self.matched_produced += other.matched_produced
        self.missed += other.missed


@dataclass
class MeetingScore:
    name: str
    decisions: SectionScore
    actions: SectionScore
    overlap: list[str]  # items found in two sections of the summary
    title: str = ""


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("’", "'")
    return " ".join(text.split())


def load_meeting(path: Path) -> Meeting:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MeetingError(f"{path}: unreadable meeting ({exc})") from exc
    try:
        segments = [{"start": float(s["start"]), "end": float(s["end"]), "text": str(s["text"])}
                    for s in data["segments"]]
        meeting = Meeting(name=Path(path).stem, language=str(data["language"]), segments=segments,
                          decisions=list(data.get("decisions", [])), actions=list(data.get("actions", [])))
    except (KeyError, TypeError, ValueError) as exc:
        raise MeetingError(f"{path}: a meeting needs language and segments (start, end, text): {exc}") from exc
    for item in meeting.decisions + meeting.actions:
        if not isinstance(item, dict) or not item.get("keywords"):
            raise MeetingError(f"{path}: every expected item needs keywords: {item!r}")
    if not segments or not (meeting.decisions or meeting.actions):
        raise MeetingError(f"{path}: no segments, or nothing expected")
    return meeting


def load_meetings(folder: Path) -> list[Meeting]:
    paths = sorted(Path(folder).glob("*.json"))
    if not paths:
        raise MeetingError(f"{folder}: no meeting (*.json)")
    return [load_meeting(p) for p in paths]


def _needles(expected: dict) -> list[str]:
    needles = [fold(k) for k in expected["keywords"]]
    needles += [fold(expected[k]) for k in ("owner", "due") if expected.get(k)]
    return needles


def match_section(expected: list[dict], produced: list[str]) -> SectionScore:
    folded = [fold(p) for p in produced]
    used: set[int] = set()
    score = SectionScore(expected=len(expected), produced=len(produced))
    for item in expected:
        needles = _needles(item)
        hit = next((i for i, text in enumerate(folded)
                    if i not in used and all(n in text for n in needles)), None)
        if hit is None:
            score.missed.append(" + ".join(needles))
        else:
            used.add(hit)
            score.found += 1
    score.matched_produced = len(used)
    return score


def _overlap(summary: Summary) -> list[str]:
    sections = {
        "summary": [fold(summary.summary)] if summary.summary else [],
        "key_points": [fold(x) for x in summary.key_points],
        "decisions": [fold(x) for x in summary.decisions],
        "action_items": [fold(x) for x in summary.action_items],
    }
    seen: dict[str, str] = {}
    repeated = []
    for name, items in sections.items():
        for item in items:
            # a section item inside the summary's paragraph is a repeat too
            for other, where in seen.items():
                if where != name and (item == other or (len(item) > 20 and (item in other or other in item))):
                    repeated.append(f"{where}/{name}: {item[:80]}")
            seen.setdefault(item, name)
    return repeated


def score_meeting(meeting: Meeting, summarizer: Summarizer) -> MeetingScore:
    summary = summarizer(meeting.transcript, meeting.language, meeting.segments)
    return MeetingScore(
        name=meeting.name,
        decisions=match_section(meeting.decisions, summary.decisions),
        actions=match_section(meeting.actions, summary.action_items),
        overlap=_overlap(summary),
        title=summary.title,
    )


def score(meetings: list[Meeting], summarizer: Summarizer) -> tuple[list[MeetingScore], SectionScore, SectionScore]:
    """Per-meeting scores and the decisions' and actions' totals."""
    results = [score_meeting(m, summarizer) for m in meetings]
    decisions, actions = SectionScore(), SectionScore()
    for r in results:
        decisions.add(r.decisions)
        actions.add(r.actions)
    return results, decisions, actions


def report(results: list[MeetingScore], decisions: SectionScore, actions: SectionScore) -> str:
    lines = [f"{'meeting':<22} {'decisions':>10} {'actions':>10}  repeats  title"]
    for r in results:
        lines.append(f"{r.name:<22} {r.decisions.found:>4}/{r.decisions.expected:<5} "
                     f"{r.actions.found:>4}/{r.actions.expected:<5}  {len(r.overlap):>7}  {r.title}")
        for miss in r.decisions.missed:
            lines.append(f"    missed decision: {miss}")
        for miss in r.actions.missed:
            lines.append(f"    missed action:   {miss}")
        for rep in r.overlap:
            lines.append(f"    repeated: {rep}")
    lines.append(f"recall: decisions {decisions.recall:.2f} ({decisions.found}/{decisions.expected}), "
                 f"actions {actions.recall:.2f} ({actions.found}/{actions.expected}); "
                 f"precision: decisions {decisions.precision:.2f}, actions {actions.precision:.2f}")
    return "\n".join(lines)
