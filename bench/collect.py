#!/usr/bin/env python3
"""Turn the printed reports of the benchmarks that only print into JSON.

    python3 bench/collect.py KIND REPORT.txt OUT.json [--meta key=value ...]

KIND is engines, pipeline, provisioning, summaries or instrumentation. The
benchmarks themselves (bench/engines.py, bench/transcribe_pipeline.py, ...)
are used as they are; their report lines have a fixed format, parsed here
with one regular expression each. A report that does not parse is an error
(exit 1), never an empty result: a format change must be noticed.
Standard library only.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

NUM = r"([-+]?\d+(?:\.\d+)?)"


def engines(text: str) -> dict:
    """bench/engines.py: one table row per (engine, compute type, beam)."""
    row = re.compile(rf"^(openai-whisper|faster-whisper)\s+(\S+)\s+(\d+)\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s+"
                     rf"{NUM}%\s+{NUM}\s+{NUM}\s+{NUM}\s*$")
    rows = []
    for line in text.splitlines():
        m = row.match(line)
        if m:
            e, ct, beam, load, tr, rtf, cpu, rss, wer, x_rtf, x_cpu, x_rss = m.groups()
            rows.append({"engine": e, "compute_type": ct, "beam": int(beam), "load_s": float(load),
                         "transcribe_s": float(tr), "rtf": float(rtf), "cpu_rtf": float(cpu), "peak_mib": float(rss),
                         "wer": float(wer) / 100, "rtf_vs_int8": float(x_rtf), "cpu_vs_int8": float(x_cpu),
                         "rss_vs_int8": float(x_rss)})
    head = re.search(r"^(\S+), (\d+) s of espeak-ng speech, (\d+) threads, (\d+) CPUs", text, re.M)
    if not rows or not head:
        raise ValueError("no engines table in the report")
    return {"model": head.group(1), "audio_s": float(head.group(2)), "threads": int(head.group(3)), "rows": rows}


def pipeline(text: str) -> dict:
    """bench/transcribe_pipeline.py: engine alone vs upload-to-transcript, best of the rounds."""
    audio = re.search(rf"^audio: {NUM} s of espeak-ng speech", text, re.M)
    final = re.search(rf"engine RTF {NUM} \| pipeline RTF {NUM} \| pipeline/engine {NUM}", text)
    if not audio or not final:
        raise ValueError("no final 'engine RTF ... | pipeline RTF ...' line in the report")
    engine_s = [float(x) for x in re.findall(rf"engine alone {NUM} s", text)]
    pipeline_s = [float(x) for x in re.findall(rf"pipeline\s+{NUM} s", text)]
    out = {"audio_s": float(audio.group(1)), "engine_rtf": float(final.group(1)),
           "pipeline_rtf": float(final.group(2)), "ratio": float(final.group(3)),
           "engine_s": engine_s, "pipeline_s": pipeline_s}
    # since the bench also reports CPU seconds (steadier than wall time on a busy machine)
    cpu = re.search(rf"pipeline/engine {NUM} \(wall\) {NUM} \(CPU seconds\)", text)
    if cpu:
        out["cpu_ratio"] = float(cpu.group(2))
        out["engine_cpu_s"] = [float(x) for x in re.findall(rf"engine alone [^\n]*?, CPU {NUM} s", text)]
        out["pipeline_cpu_s"] = [float(x) for x in re.findall(rf"pipeline\s+[^\n]*?, CPU {NUM} s", text)]
    load = re.search(rf"load average {NUM}", text)
    if load:
        out["loadavg"] = float(load.group(1))
    return out


def provisioning(text: str) -> dict:
    """bench/provisioning.sh: converge and idempotent re-run seconds per scenario."""
    rows = [{"scenario": s, "converge_s": float(c), "idempotent_s": float(i), "ratio": float(r)}
            for s, c, i, r in re.findall(rf"^(\S+)\s+{NUM}\s+{NUM}\s+{NUM}\s*$", text, re.M)]
    if not rows:
        raise ValueError("no scenario rows in the report")
    return {"rows": rows}


def summaries(text: str) -> dict:
    """bench/summaries_bench.py: extractive summary, chunking, exports."""
    head = re.search(r"transcript: (\d+) min, (\d+) words", text)
    ext = re.search(rf"extractive summary: {NUM} ms", text)
    if not head or not ext:
        raise ValueError("no 'extractive summary' line in the report")
    return {
        "minutes": int(head.group(1)), "words": int(head.group(2)), "extractive_ms": float(ext.group(1)),
        "chunking": [{"context": int(c), "chunks": int(n), "ms": float(ms)} for c, n, ms in
                     re.findall(rf"chunking for a (\d+)-token context: (\d+) chunks, {NUM} ms", text)],
        "exports": [{"format": f, "ms": float(ms), "kib": float(kib)} for f, ms, kib in
                    re.findall(rf"export\s+(\w+):\s+{NUM} ms,\s+{NUM} KiB", text)],
    }


def instrumentation(text: str) -> dict:
    """bench/instrumentation.py: per-request overhead, and one scrape's time and series count."""
    patterns = {
        "ratio": rf"ratio instrumented/bare\s+{NUM}",
        "ratio_ours_vs_django_prometheus": rf"ratio ours \(vs django-prometheus\)\s+{NUM}",
        "instrumented_ms": rf"^\s*instrumented\s+{NUM} ms / {NUM} ms",
        "django_prometheus_only_ms": rf"^\s*django-prometheus only\s+{NUM} ms / {NUM} ms",
        "bare_ms": rf"^\s*bare\s+{NUM} ms / {NUM} ms",
        "scrape_workers": r"gunicorn with (\d+) workers",
        "scrape_median_ms": rf"median {NUM} ms, p95",
        "scrape_p95_ms": rf"p95 {NUM} ms",
        "series": rf"{NUM} series",
        "scrape_bytes": rf"series, {NUM} bytes",
    }
    found = {}
    for key, pattern in patterns.items():
        m = re.search(pattern, text, re.M)
        if m is None:
            continue
        if key.endswith("_ms") and m.lastindex == 2:  # "best / median round" pairs
            found[key] = {"best": float(m.group(1)), "median": float(m.group(2))}
        else:
            found[key] = float(m.group(1))
    if "ratio" not in found and "scrape_median_ms" not in found:
        raise ValueError("neither 'ratio instrumented/bare' nor a scrape median in the report")
    return found


PARSERS = {"engines": engines, "pipeline": pipeline, "provisioning": provisioning, "summaries": summaries,
           "instrumentation": instrumentation}


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in PARSERS:
        print(__doc__, file=sys.stderr)
        return 2
    kind, report, out = argv[0], Path(argv[1]), Path(argv[2])
    text = report.read_text(errors="replace")
    try:
        data = PARSERS[kind](text)
    except ValueError as exc:
        print(f"{report}: {exc}", file=sys.stderr)
        return 1
    meta = dict(item.split("=", 1) for item in argv[3:] if "=" in item and not item.startswith("--"))
    data = {"bench": kind, **meta, **data, "report": report.name}
    out.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
