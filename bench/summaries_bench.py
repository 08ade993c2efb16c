"""Cost of the offline parts of summaries and exports on a long meeting.

Prints numbers; asserts nothing (speed checks stay out of the tests).

    .venv-app/bin/python bench/summaries_bench.py [--minutes 60]

What it measures, for a synthetic French transcript of N minutes of speech
(about 150 words a minute, one Whisper-like segment every ~5 s):
  * the extractive summary (the fallback when no LLM is configured),
  * the chunking a model with an 8k-token context needs (chunk count),
  * each export format: time and size.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from brefboard.summaries import exports, extractive, prompts  # noqa: E402
from brefboard.transcription.base import Segment  # noqa: E402

WORDS = (
    "budget projet équipe réunion décision planning fournisseur licence recrutement client "
    "livraison qualité risque sprint version délai contrat coût objectif indicateur "
    "développeur comité prochaine semaine mars avril priorité tests déploiement serveur"
).split()
GLUE = "le la les de du des et à pour avec sur dans nous vous on a est sont doit va".split()


def synthetic_meeting(minutes: int, seed: int = 7) -> tuple[str, list[Segment]]:
    rng = random.Random(seed)
    segments, t = [], 0.0
    words_left = minutes * 150
    while words_left > 0:
        n = rng.randint(8, 18)
        words = [rng.choice(WORDS if i % 2 == 0 else GLUE) for i in range(n)]
        text = " ".join(words).capitalize() + rng.choice([".", ".", ".", " ?", " !"])
        dur = n / 2.5
        segments.append(Segment(t, t + dur, text))
        t += dur
        words_left -= n
    return " ".join(s.text for s in segments), segments


def timed(fn, repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    text, segments = synthetic_meeting(args.minutes)
    print(f"transcript: {args.minutes} min, {len(text.split())} words, {len(text)} chars, "
          f"{len(segments)} segments, ~{prompts.estimate_tokens(text)} tokens (estimate)")

    secs, result = timed(lambda: extractive.summarize(text, "fr"), args.repeat)
    print(f"extractive summary: {secs * 1000:.1f} ms (median of {args.repeat}), "
          f"{len(result.summary.split())} words, title {result.title!r}")

    for context in (8192, 32768):
        budget = prompts.input_budget(context, min(1024, context // 4), "fr")
        secs, chunks = timed(lambda b=budget: prompts.chunk_text(text, b), args.repeat)
        print(f"chunking for a {context}-token context: {len(chunks)} chunks, {secs * 1000:.1f} ms")

    doc = exports.ExportDocument(title="Réunion de synthèse — été", created=datetime(2026, 6, 1, 10, 0),
                                 transcript=text, summary=result.summary, segments=segments,
                                 key_points=result.key_points, decisions=result.decisions,
                                 action_items=result.action_items, extractive=True)
    for fmt in exports.FORMATS:
        secs, (body, _) = timed(lambda f=fmt: exports.render(doc, f), args.repeat)
        print(f"export {fmt:>3}: {secs * 1000:8.1f} ms, {len(body) / 1024:8.1f} KiB")


if __name__ == "__main__":
    main()
