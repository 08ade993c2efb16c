#!/usr/bin/env python
"""Plots (docs/img/*.png) and tables (docs/benchmarks.md) from bench/results/*.json.

    .venv-bench/bin/python bench/plots.py [--results bench/results] [--doc docs/benchmarks.md]

Only the parts of docs/benchmarks.md between ``<!-- BEGIN GENERATED: name -->``
and ``<!-- END GENERATED: name -->`` are rewritten; the prose around them is
kept. A bench with no result gets a line saying so (and how to produce it)
instead of a table, so a partial run still gives a correct document.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
IMG_REL = "img"  # relative to the doc
COLORS = {"instrumented": "#c0392b", "bare": "#2471a3", "engine": "#2471a3", "pipeline": "#c0392b"}


def load(results: Path, name: str) -> dict | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def missing(name: str, note: str = "", flags: str = "") -> str:
    return f"_No result yet: run `bench/run_all.sh {flags}--only {name}`{note}._\n"


def fmt(x, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def save(fig, img_dir: Path, name: str) -> str:
    img_dir.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(img_dir / name, dpi=110)
    plt.close(fig)
    return f"![{name}]({IMG_REL}/{name})"


# --- sections ----------------------------------------------------------------------------------

def machine_section(results: Path) -> str:
    m = load(results, "machine")
    if not m:
        return missing("web", "")
    return (f"Measured on {m['date']} ({m['sizes']} sizes): {m['cpu']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, "
            f"{m['os']}. Load average at the end of the run: "
            f"{', '.join(f'{x:.1f}' for x in m['loadavg_at_end'])} — the machine was shared with other work.\n")


def engines_section(results: Path, img: Path) -> str:
    e = load(results, "engines")
    if not e:
        return missing("engines", "")
    rows = e["rows"]
    out = [f"{e['model']}, {e['audio_s']:.0f} s of espeak-ng speech, {e['threads']} threads. "
           "RTF = transcription seconds per audio second (lower is faster), model load excluded; "
           "× int8 = against faster-whisper int8 at the same beam size (the CPU workers' default).\n",
           "| engine | compute | beam | RTF | CPU s per audio s | peak RSS MiB | WER | RTF × int8 | RSS × int8 |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['engine']} | {r['compute_type']} | {r['beam']} | {r['rtf']:.3f} | {r['cpu_rtf']:.3f} | "
                   f"{r['peak_mib']:.0f} | {r['wer']:.1%} | {r['rtf_vs_int8']:.2f} | {r['rss_vs_int8']:.2f} |")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    labels = [f"{r['engine'].replace('-whisper', '')}\n{r['compute_type']}" for r in rows if r["beam"] == 5]
    for i, beam in enumerate((5, 1)):
        sel = [r for r in rows if r["beam"] == beam]
        xs = [j + (i - 0.5) * 0.38 for j in range(len(sel))]
        ax1.bar(xs, [r["rtf"] for r in sel], 0.38, label=f"beam {beam}" if beam > 1 else "greedy")
        ax2.bar(xs, [r["peak_mib"] for r in sel], 0.38, label=f"beam {beam}" if beam > 1 else "greedy")
    for ax, title in ((ax1, "real-time factor (lower is faster)"), (ax2, "peak RSS, MiB (load + one file)")):
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title(title)
        ax.legend()
        ax.grid(axis="y", alpha=0.3)
    out.append("\n" + save(fig, img, "engines.png"))
    return "\n".join(out) + "\n"


def scaling_section(results: Path, img: Path) -> str:
    runs = sorted((json.loads(p.read_text()) for p in results.glob("scaling-*.json")), key=lambda r: r["audio_s"])
    if not runs:
        return missing("scaling", "")
    out = ["faster-whisper tiny.en int8 on CPU, beam 5. *Engine*: the model's `transcribe` on the file; "
           "*pipeline*: the upload POST until the transcript is stored, through Redis and a warm Celery worker.\n",
           "| audio | engine s | pipeline s | engine RTF | pipeline RTF | pipeline / engine, wall | "
           "pipeline / engine, CPU s | load average |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        out.append(f"| {r['audio_s'] / 60:g} min | {min(r['engine_s']):.1f} | {min(r['pipeline_s']):.1f} | "
                   f"{r['engine_rtf']:.3f} | {r['pipeline_rtf']:.3f} | {r['ratio']:.2f} | {fmt(r.get('cpu_ratio'), 2)} | "
                   f"{fmt(r.get('loadavg'))} |")
    out.append("\nThe wall-time ratio moves with the machine's load (one round per length here); the CPU-seconds "
               "ratio (the web process plus the worker, against the engine alone) is the steadier one.")
    minutes = [r["audio_s"] / 60 for r in runs]
    with_cpu = all(r.get("engine_cpu_s") and r.get("pipeline_cpu_s") for r in runs)
    fig, axes = plt.subplots(1, 2 if with_cpu else 1, figsize=(10 if with_cpu else 6.5, 3.8), squeeze=False)
    panels = [(axes[0][0], "engine_s", "pipeline_s", "wall seconds")]
    if with_cpu:
        panels.append((axes[0][1], "engine_cpu_s", "pipeline_cpu_s", "CPU seconds (steadier on a busy machine)"))
    for ax, engine_key, pipeline_key, title in panels:
        ax.plot(minutes, [min(r[engine_key]) for r in runs], "o-", color=COLORS["engine"], label="engine alone")
        ax.plot(minutes, [min(r[pipeline_key]) for r in runs], "s-", color=COLORS["pipeline"],
                label="pipeline (upload → stored transcript)")
        ax.set_xlabel("audio length, minutes")
        ax.set_title(f"transcription time: {title}", fontsize=10)
        ax.set_xticks(minutes)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    out.append("\n" + save(fig, img, "scaling.png"))
    return "\n".join(out) + "\n"


def web_section(results: Path, img: Path) -> str:
    w = load(results, "web")
    if not w:
        return missing("web", "")
    p = w["params"]
    rows = [r for r in w["summary"] if r["kind"] == "page"]
    out = [f"`/profil/` (first page of 20, newest first) through nginx → gunicorn ({p['workers']} sync workers) → "
           f"{p['database']}; wrk, {p['connections']} connections, {p['seconds']:g} s × {p['rounds']} rounds "
           "alternating the two variants (medians). *Ratio* = instrumented / bare, median of the per-round ratios. "
           "*CPU ms/req* = gunicorn + nginx CPU time per request (all rounds pooled; the ratio row: pooled too), "
           "*DB CPU* = PostgreSQL's, both read from /proc. The CPU ratio is the instrumentation's cost to trust; "
           "latency ratios near 1 mostly show the noise of the machine.\n",
           "| transcriptions | variant | req/s | p50 ms | p99 ms | CPU ms/req | DB CPU ms/req | errors |",
           "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        for v in ("instrumented", "bare"):
            s = r[v]
            out.append(f"| {r['size']:,} | {v} | {s['rps']:.1f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | "
                       f"{fmt(s.get('cpu_ms_pooled', s['cpu_ms']))} | {fmt(s.get('db_cpu_ms'))} | {s['errors']} |")
        q = r["ratio_instrumented_over_bare"]
        out.append(f"| {r['size']:,} | **ratio** | {fmt(q['rps'], 2)} | {fmt(q['p50'], 2)} | {fmt(q['p99'], 2)} | "
                   f"**{fmt(q.get('cpu_pooled', q['cpu']), 2)}** | | |")
    if w.get("search"):
        out += ["", f"Search (`?search={w['search'][0]['word']}`, titles, transcripts and summaries; "
                f"{len(w['search'][0]['samples_ms'])} sequential requests, instrumented):", "",
                "| transcriptions | median ms | failed |", "|---:|---:|---:|"]
        out += [f"| {s['size']:,} | {fmt(s['median_ms'], 0)} | {s.get('failed', 0)} |" for s in w["search"]]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 3.8))
    sizes = [r["size"] for r in rows]
    for v in ("instrumented", "bare"):
        ax1.plot(sizes, [r[v]["p50_ms"] for r in rows], "o-", color=COLORS[v], label=f"{v} p50")
        ax1.plot(sizes, [r[v]["p99_ms"] for r in rows], "o--", color=COLORS[v], alpha=0.6, label=f"{v} p99")
        ax2.plot(sizes, [r[v]["rps"] for r in rows], "o-", color=COLORS[v], label=v)
        ax3.plot(sizes, [r[v].get("cpu_ms_pooled", r[v]["cpu_ms"]) for r in rows], "o-", color=COLORS[v],
                 label=f"{v}: gunicorn + nginx")
        ax3.plot(sizes, [r[v].get("db_cpu_ms", 0) for r in rows], "^:", color=COLORS[v], label=f"{v}: PostgreSQL")
    ax1.set_title("library page latency, ms")
    ax2.set_title("library page, requests/s")
    ax3.set_title("CPU ms per request (steadier)")
    for ax in (ax1, ax2, ax3):
        ax.set_xscale("log")
        ax.set_xlabel("transcriptions in the library")
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    out.append("\n" + save(fig, img, "web-library.png"))
    return "\n".join(out) + "\n"


def recorders_section(results: Path, img: Path) -> str:
    r = load(results, "recorders")
    if not r:
        return missing("recorders", "")
    p = r["params"]
    threshold = p["threshold_ms"]
    host = f"One web host ({p['workers']} gunicorn workers, this machine)"
    if r["degraded_reached"]:
        verdict = (f"**{host} carried {r['carried']} recorders** with a p99 chunk ack under {threshold:.0f} ms; "
                   f"at {min(s['recorders'] for s in r['steps'] if s['degraded'])} it degraded.")
    else:
        verdict = (f"**{host} carried at least {r['carried']} recorders** with a p99 chunk ack under "
                   f"{threshold:.0f} ms: it had not degraded at {r['carried']}, the most this run tried.")
    out = [f"Each recorder PUTs a {r['chunk_bytes_mean'] / 1024:.1f} KiB WebM/Opus chunk every {p['interval']:g} s "
           f"for {p['step_seconds']:g} s (PostgreSQL with fsync on, instrumentation and live transcript on). "
           "The first chunk of each session (checked with FFmpeg) is sent during set-up and shown apart.\n",
           verdict + "\n",
           "| recorders | chunks/s | p50 ms | p90 ms | p99 ms | max ms | first chunk p50 ms | CPU ms/chunk | errors |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in r["steps"]:
        out.append(f"| {s['recorders']} | {s['chunks_per_s']:.1f} | {fmt(s['p50_ms'])} | {fmt(s['p90_ms'])} | "
                   f"{fmt(s['p99_ms'])} | {fmt(s['max_ms'])} | {fmt(s['first_chunk_p50_ms'], 0)} | "
                   f"{s['server_cpu_ms_per_chunk']:.1f} | {s['errors']} |")
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ks = [s["recorders"] for s in r["steps"]]
    ax.plot(ks, [s["p50_ms"] for s in r["steps"]], "o-", label="p50")
    ax.plot(ks, [s["p99_ms"] for s in r["steps"]], "s-", label="p99")
    ax.axhline(threshold, color="grey", ls=":", label=f"threshold {threshold:.0f} ms")
    ax.set_xscale("log", base=2)
    ticks = [k for k in ks if k & (k - 1) == 0]  # powers of two; bisection steps would crowd the axis
    ax.set_xticks(ticks, [str(k) for k in ticks])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    if r["carried"]:
        ax.axvline(r["carried"], color="green", ls="--", alpha=0.6, label=f"carried: {r['carried']}")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("recorders sending a chunk every %g s" % p["interval"])
    ax.set_ylabel("chunk ack latency, ms")
    ax.set_title("concurrent recorders on one web host")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    out.append("\n" + save(fig, img, "recorders.png"))
    return "\n".join(out) + "\n"


def instrumentation_section(results: Path) -> str:
    i = load(results, "instrumentation")
    if not i:
        return missing("instrumentation", "")
    out = ["`bench/instrumentation.py` (another view of the web table's ratio, without the network and the "
           "database: one process, the login view, prometheus_client in multiprocess mode, CPU time per request; "
           "then gunicorn with its workers scraped on loopback). Full report: "
           "`bench/results/instrumentation.txt`.\n",
           "| what | value |", "|---|---:|"]
    for key, label in (("instrumented_ms", "instrumented"), ("django_prometheus_only_ms", "django-prometheus only"),
                       ("bare_ms", "bare")):
        if key in i:
            out.append(f"| CPU ms per request, {label} (best / median round) | "
                       f"{i[key]['best']:.3f} / {i[key]['median']:.3f} |")
    rows = (("ratio", "per request, instrumented / bare (median of per-round ratios)", 3),
            ("ratio_ours_vs_django_prometheus", "per request, BrefBoard's middlewares on top of django-prometheus", 3),
            ("scrape_median_ms", f"one /metrics scrape, median ms ({i.get('scrape_workers', 4):.0f} gunicorn workers)", 1),
            ("scrape_p95_ms", "one /metrics scrape, p95 ms", 1),
            ("series", "series in one scrape", 0),
            ("scrape_bytes", "bytes in one scrape", 0))
    out += [f"| {label} | {fmt(i[key], digits)} |" for key, label, digits in rows if key in i]
    return "\n".join(out) + "\n"


def summaries_section(results: Path) -> str:
    s = load(results, "summaries")
    if not s:
        return missing("summaries", "")
    out = [f"A synthetic French transcript of {s['minutes']} minutes ({s['words']:,} words): "
           f"extractive summary (the fallback without an LLM) {s['extractive_ms']:.0f} ms.\n",
           "| step | ms | size |", "|---|---:|---:|"]
    out += [f"| chunking for a {c['context']:,}-token context | {c['ms']:.1f} | {c['chunks']} chunks |"
            for c in s["chunking"]]
    out += [f"| export {e['format']} | {e['ms']:.1f} | {e['kib']:.0f} KiB |" for e in s["exports"]]
    return "\n".join(out) + "\n"


def provisioning_section(results: Path, img: Path) -> str:
    p = load(results, "provisioning")
    if not p:
        return missing("provisioning", " (Docker and Molecule; minutes per role)", "--with-provisioning ")
    out = ["Molecule scenario, container creation excluded; one run each.\n",
           "| scenario | converge s | idempotent re-run s | re-run / converge |", "|---|---:|---:|---:|"]
    out += [f"| {r['scenario']} | {r['converge_s']:.1f} | {r['idempotent_s']:.1f} | {r['ratio']:.2f} |"
            for r in p["rows"]]
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    names = [r["scenario"] for r in p["rows"]]
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [r["converge_s"] for r in p["rows"]], 0.4, label="converge")
    ax.bar([x + 0.2 for x in xs], [r["idempotent_s"] for r in p["rows"]], 0.4, label="idempotent re-run")
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("seconds")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    out.append("\n" + save(fig, img, "provisioning.png"))
    return "\n".join(out) + "\n"


def key_numbers_section(results: Path) -> str:
    """The few numbers a reader comes for, each from the same results as its table below."""
    lines = []
    e = load(results, "engines")
    if e:
        by = {(r["engine"], r["compute_type"], r["beam"]): r for r in e["rows"]}
        o, f = by.get(("openai-whisper", "float32", 5)), by.get(("faster-whisper", "int8", 5))
        if o and f:
            lines.append(f"- **Engines** (beam 5, same weights, CPU): faster-whisper int8 runs at RTF {f['rtf']:.3f} "
                         f"against {o['rtf']:.3f} for openai-whisper fp32 — {o['rtf'] / f['rtf']:.0f}× faster "
                         f"({o['cpu_rtf'] / f['cpu_rtf']:.0f}× less CPU), with {o['peak_mib'] / f['peak_mib']:.1f}× "
                         f"less peak memory ({f['peak_mib']:.0f} MiB against {o['peak_mib']:.0f}); "
                         f"WER {f['wer']:.1%} against {o['wer']:.1%}.")
    runs = sorted((json.loads(p.read_text()) for p in results.glob("scaling-*.json")), key=lambda r: r["audio_s"])
    if runs:
        last = runs[-1]
        cpu = f", {last['cpu_ratio']:.2f}× in CPU seconds" if "cpu_ratio" in last else ""
        lines.append(f"- **App pipeline vs bare engine** ({last['audio_s'] / 60:g} min of audio): upload to stored "
                     f"transcript takes {last['ratio']:.2f}× the engine's wall time{cpu}.")
    w = load(results, "web")
    if w:
        page = {r["size"]: r for r in w["summary"] if r["kind"] == "page"}
        ratios = [r["ratio_instrumented_over_bare"].get("cpu_pooled") for r in page.values()]
        ratios = [x for x in ratios if x]
        sizes = sorted(page)
        if ratios:
            lines.append(f"- **Instrumentation on the library page**: {min(ratios):.2f}–{max(ratios):.2f}× the "
                         "CPU per request of the bare app (gunicorn + nginx, by library size); the latency "
                         "ratios are within this machine's noise.")
        lo, hi = page[sizes[0]]["instrumented"], page[sizes[-1]]["instrumented"]
        lines.append(f"- **Library page against library size**: {sizes[0]:,} → {sizes[-1]:,} transcriptions: "
                     f"p50 {lo['p50_ms']:.0f} → {hi['p50_ms']:.0f} ms, PostgreSQL CPU "
                     f"{fmt(lo.get('db_cpu_ms'))} → {fmt(hi.get('db_cpu_ms'))} ms per page (paginated: 20 a page).")
        answered = [s for s in w.get("search", []) if s["median_ms"] is not None]
        if answered:
            s = answered[-1]
            lines.append(f"- **Library search** (stored tsvector, GIN index): {s['median_ms']:,.0f} ms for one search "
                         f"over {s['size']:,} transcriptions.")
    r = load(results, "recorders")
    if r:
        more = "" if r["degraded_reached"] else " at least (never degraded in this run)"
        lines.append(f"- **Concurrent recorders**: one web host ({r['params']['workers']} gunicorn workers) carried "
                     f"{r['carried']}{more} browsers sending a chunk every {r['params']['interval']:g} s with p99 ack "
                     f"under {r['params']['threshold_ms']:.0f} ms.")
    i = load(results, "instrumentation")
    if i and "scrape_median_ms" in i:
        lines.append(f"- **One /metrics scrape** ({i.get('scrape_workers', 4):.0f} gunicorn workers): "
                     f"{i['scrape_median_ms']:.0f} ms median, {i.get('series', 0):.0f} series.")
    return ("\n".join(lines) + "\n") if lines else "_No results yet: run `bench/run_all.sh`._\n"


# --- the document ------------------------------------------------------------------------------

def replace_section(doc: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- BEGIN GENERATED: {name} -->\n).*?(<!-- END GENERATED: {name} -->)", re.S)
    if not pattern.search(doc):
        raise SystemExit(f"docs/benchmarks.md has no GENERATED section {name!r}")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    img = args.doc.parent / IMG_REL
    doc = args.doc.read_text()
    sections = {
        "machine": machine_section(args.results),
        "key-numbers": key_numbers_section(args.results),
        "engines": engines_section(args.results, img),
        "scaling": scaling_section(args.results, img),
        "web": web_section(args.results, img),
        "recorders": recorders_section(args.results, img),
        "instrumentation": instrumentation_section(args.results),
        "summaries": summaries_section(args.results),
        "provisioning": provisioning_section(args.results, img),
    }
    for name, body in sections.items():
        doc = replace_section(doc, name, body)
    args.doc.write_text(doc)
    print(f"wrote {args.doc} and {img}/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
