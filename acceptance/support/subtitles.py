"""SRT and WebVTT, parsed strictly enough to catch a broken export."""
from __future__ import annotations

import re

TIMING = {
    "srt": re.compile(r"^(\d{2}):(\d{2}):(\d{2}),(\d{3}) --> (\d{2}):(\d{2}):(\d{2}),(\d{3})$"),
    "vtt": re.compile(r"^(?:(\d{2,}):)?(\d{2}):(\d{2})\.(\d{3}) --> (?:(\d{2,}):)?(\d{2}):(\d{2})\.(\d{3})(?: .*)?$"),
}


def _seconds(h, m, s, ms) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_cues(body: str, fmt: str) -> list[tuple[float, float, str]]:
    lines = body.replace("\r\n", "\n").split("\n")
    if fmt == "vtt":
        assert lines[0].startswith("WEBVTT"), f"a VTT file starts with WEBVTT, not {lines[0]!r}"
        lines = lines[1:]
    blocks = [b for b in "\n".join(lines).split("\n\n") if b.strip()]
    cues = []
    for n, block in enumerate(blocks, 1):
        rows = block.strip("\n").split("\n")
        if fmt == "srt":
            assert rows[0].strip() == str(n), f"SRT cue {n} is numbered {rows[0]!r}"
            rows = rows[1:]
        elif "-->" not in rows[0]:
            rows = rows[1:]  # a VTT cue identifier
        m = TIMING[fmt].match(rows[0].strip()) if rows else None
        assert m, f"{fmt.upper()} cue {n}: bad timing line {rows[:1]!r}"
        g = m.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        text = " ".join(r.strip() for r in rows[1:]).strip()
        assert end >= start, f"{fmt.upper()} cue {n} ends before it starts: {rows[0]!r}"
        assert text, f"{fmt.upper()} cue {n} has no text"
        cues.append((start, end, text))
    assert cues, f"the {fmt.upper()} file has no cue"
    starts = [c[0] for c in cues]
    assert starts == sorted(starts), f"{fmt.upper()} cues are not in time order: {starts}"
    return cues
