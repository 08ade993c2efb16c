#!/usr/bin/env python3
"""Turn the printed reports of the benchmarks that only print into JSON.

    python3 bench/collect.py KIND REPORT.txt OUT.json [--meta key=value ...]
    python3 bench/collect.py provisioning bench/results/provisioning/ OUT.json   # a folder: every *.txt in it

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
    # since each configuration prints the load average when it ends (the machine is shared)
    for e, ct, beam, load in re.findall(rf"done: (\S+) (\S+) beam (\d+): RTF [\d.]+, load average {NUM}", text):
        for r in rows:
            if (r["engine"], r["compute_type"], r["beam"]) == (e, ct, int(beam)):
                r["loadavg"] = float(load)
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
    """bench/provisioning.sh: converge and idempotent re-run seconds per scenario, with the load during each.

    The report is bench/results/provisioning/ (one file a scenario, so that a rerun of some
    scenarios replaces only theirs) or one printed table. A scenario seen twice keeps its last row.
    """
    row = re.compile(rf"^(\S+)\s+(\d+)\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s*$")
    rows: dict[str, dict] = {}
    date = None
    for line in text.splitlines():
        stamp = re.match(r"^# bench/provisioning\.sh, (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", line)
        if stamp:
            date = stamp.group(1)
            continue
        m = row.match(line)
        if m:
            s, hosts, c, i, r, lc, li = m.groups()
            rows[s] = {"scenario": s, "hosts": int(hosts), "converge_s": float(c), "idempotent_s": float(i),
                       "ratio": float(r), "load_converge": float(lc), "load_idempotent": float(li), "date": date}
    if not rows:
        raise ValueError("no scenario rows in the report")
    return {"rows": list(rows.values())}


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
        # since the Celery worker's own endpoint is scraped too (the second target)
        "celery_workers": r"Celery worker's endpoint, (\d+) workers",
        "celery_pool_processes": r"\((\d+) pool processes",
        "celery_jobs": r"after (\d+) transcriptions",
        "celery_pool_writers": r"(\d+) pool processes with values",
        "celery_scrape_median_ms": rf"celery median {NUM} ms",
        "celery_scrape_p95_ms": rf"celery median {NUM} ms, p95 {NUM} ms",
        "celery_series": rf"celery {NUM} series",
        "celery_scrape_bytes": rf"celery {NUM} series, {NUM} bytes",
        "total_scrape_ms": rf"Both targets: {NUM} ms",
        "total_series": rf"Both targets: .*?, {NUM} series",
        "total_bytes": rf"Both targets: .*? series, {NUM} bytes",
        "loadavg": rf"Both targets: .*\| load average {NUM}",
    }
    second = {"celery_scrape_p95_ms", "celery_scrape_bytes"}  # the second number of their line
    found = {}
    for key, pattern in patterns.items():
        m = re.search(pattern, text, re.M)
        if m is None:
            continue
        if key in second:
            found[key] = float(m.group(2))
        elif key.endswith("_ms") and m.lastindex == 2:  # "best / median round" pairs
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
    if report.is_dir():  # one report a part (bench/results/provisioning/SCENARIO.txt), in name order
        text = "\n".join(p.read_text(errors="replace") for p in sorted(report.glob("*.txt")))
    else:
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
