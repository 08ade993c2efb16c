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
import functools
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


def times(ratio: float) -> str:
    """3.8×, 22×: a decimal only where it matters."""
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×"


def save(fig, img_dir: Path, name: str) -> str:
    img_dir.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(img_dir / name, dpi=110)
    plt.close(fig)
    return f"![{name}]({IMG_REL}/{name})"


def growth_axis(ax, xs, xlabel: str, title: str, *, labels=None, log: bool = False, title_size=None) -> None:
    """An axis of "how a cost grows" (time against audio length, latency against library size):
    a tick at each measured size, y from 0, light grid, small legend."""
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=title_size)
    ax.set_xticks(xs, labels if labels is not None else [f"{x:g}" for x in xs])
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def needs(name: str, run: str | None = None, note: str = "", flags: str = ""):
    """A section drawn from bench/results/NAME.json: called with that result, or, when the bench
    has not run yet, a line saying how to run it (``run``: the bench that writes it, if another)."""
    def wrap(section):
        @functools.wraps(section)
        def from_results(results: Path, *args) -> str:
            data = load(results, name)
            return section(data, *args) if data else missing(run or name, note, flags)
        return from_results
    return wrap


def with_figure(lines: list[str], fig, img_dir: Path, name: str) -> str:
    """A section's text: its lines, then the figure saved as docs/img/NAME and linked."""
    return "\n".join([*lines, "\n" + save(fig, img_dir, name)]) + "\n"


# --- sections ----------------------------------------------------------------------------------

@needs("machine", run="web")
def machine_section(m: dict) -> str:
    head = f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, {m['os']}; shared with other work.\n"
    benches = m.get("benches") or {"all": {k: m.get(k) for k in ("date", "sizes", "loadavg_at_end")}}
    out = [head, "| bench | measured | sizes | load average at the end (1, 5, 15 min, as recorded) |",
           "|---|---|---|---|"]
    for name, b in benches.items():
        load = ", ".join(f"{x:.1f}" for x in b["loadavg_at_end"]) if b.get("loadavg_at_end") else "not recorded"
        out.append(f"| {name} | {b['date']} | {b['sizes']} | {load} |")
    return "\n".join(out) + "\n"


@needs("engines")
def engines_section(e: dict, img: Path) -> str:
    rows = e["rows"]
    out = [f"{e['model']}, {e['audio_s']:.0f} s of espeak-ng speech, {e['threads']} threads. "
           "RTF = transcription seconds per audio second (lower is faster), model load excluded; "
           "× int8 = against faster-whisper int8 at the same beam size (the CPU workers' default).\n",
           "| engine | compute | beam | RTF | CPU s per audio s | peak RSS MiB | WER | RTF × int8 | RSS × int8 "
           "| load average |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['engine']} | {r['compute_type']} | {r['beam']} | {r['rtf']:.3f} | {r['cpu_rtf']:.3f} | "
                   f"{r['peak_mib']:.0f} | {r['wer']:.1%} | {r['rtf_vs_int8']:.2f} | {r['rss_vs_int8']:.2f} | "
                   f"{fmt(r.get('loadavg'))} |")
    out.append("\n*Load average*: the machine's 1-minute load average when the configuration ended (2 CPUs).")
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
    return with_figure(out, fig, img, "engines.png")


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
    rounds = sorted({len(r["engine_s"]) for r in runs})
    per_length = ", ".join(f"{r['audio_s'] / 60:g} min: {len(r['engine_s'])}" for r in runs)
    said = f"{rounds[0]} round{'s' if rounds[0] > 1 else ''} per length" if len(rounds) == 1 else \
        f"rounds per length, best kept: {per_length}"
    out.append(f"\nThe wall-time ratio moves with the machine's load ({said}); the CPU-seconds "
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
        growth_axis(ax, minutes, "audio length, minutes", f"transcription time: {title}", title_size=10)
    return with_figure(out, fig, img, "scaling.png")


@needs("web")
def web_section(w: dict, img: Path) -> str:
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
    for ax, title in ((ax1, "library page latency, ms"), (ax2, "library page, requests/s"),
                      (ax3, "CPU ms per request (steadier)")):
        growth_axis(ax, sizes, "transcriptions in the library", title, labels=[f"{s:,}" for s in sizes], log=True)
    return with_figure(out, fig, img, "web-library.png")


@needs("recorders")
def recorders_section(r: dict, img: Path) -> str:
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
    return with_figure(out, fig, img, "recorders.png")


@needs("instrumentation")
def instrumentation_section(i: dict) -> str:
    out = ["`bench/instrumentation.py` (another view of the web table's ratio, without the network and the "
           "database: one process, the login view, prometheus_client in multiprocess mode, CPU time per request; "
           "then the two scrape targets on loopback). Full report: `bench/results/instrumentation.txt`.\n",
           "| per request | value |", "|---|---:|"]
    for key, label in (("instrumented_ms", "instrumented"), ("django_prometheus_only_ms", "django-prometheus only"),
                       ("bare_ms", "bare")):
        if key in i:
            out.append(f"| CPU ms per request, {label} (best / median round) | "
                       f"{i[key]['best']:.3f} / {i[key]['median']:.3f} |")
    rows = (("ratio", "instrumented / bare (median of per-round ratios)", 3),
            ("ratio_ours_vs_django_prometheus", "BrefBoard's middlewares on top of django-prometheus", 3))
    out += [f"| {label} | {fmt(i[key], digits)} |" for key, label, digits in rows if key in i]
    if "scrape_median_ms" not in i:
        return "\n".join(out) + "\n"
    out += ["", "One scrape of each target, as Prometheus sees them (sequential scrapes; median and p95):", "",
            "| target | median ms | p95 ms | series | bytes |", "|---|---:|---:|---:|---:|",
            f"| gunicorn, {i.get('scrape_workers', 4):.0f} workers (`/metrics` of the web app) | "
            f"{fmt(i['scrape_median_ms'])} | {fmt(i.get('scrape_p95_ms'))} | {fmt(i.get('series'), 0)} | "
            f"{fmt(i.get('scrape_bytes'), 0)} |"]
    if "celery_scrape_median_ms" in i:
        out += [f"| Celery worker, {i['celery_workers']:.0f} workers (`--concurrency {i['celery_workers']:.0f}`, "
                f"its own endpoint, BREFBOARD_WORKER_METRICS_PORT), after {i['celery_jobs']:.0f} transcriptions "
                f"({i.get('celery_pool_writers', 0):.0f} of the pool processes had run some) | "
                f"{fmt(i['celery_scrape_median_ms'])} | {fmt(i.get('celery_scrape_p95_ms'))} | "
                f"{fmt(i.get('celery_series'), 0)} | {fmt(i.get('celery_scrape_bytes'), 0)} |",
                f"| **both targets** (sum) | **{fmt(i['total_scrape_ms'])}** | | **{fmt(i['total_series'], 0)}** | "
                f"**{fmt(i['total_bytes'], 0)}** |",
                "", f"Load average (1 min) when the scrapes ended: {fmt(i.get('loadavg'))}."]
    else:
        out += ["", "_The Celery worker's endpoint was not scraped in this result: "
                "`bench/run_all.sh --only instrumentation`._"]
    return "\n".join(out) + "\n"


@needs("summaries")
def summaries_section(s: dict) -> str:
    out = [f"A synthetic French transcript of {s['minutes']} minutes ({s['words']:,} words): "
           f"extractive summary (the fallback without an LLM) {s['extractive_ms']:.0f} ms.\n",
           "| step | ms | size |", "|---|---:|---:|"]
    out += [f"| chunking for a {c['context']:,}-token context | {c['ms']:.1f} | {c['chunks']} chunks |"
            for c in s["chunking"]]
    out += [f"| export {e['format']} | {e['ms']:.1f} | {e['kib']:.0f} KiB |" for e in s["exports"]]
    return "\n".join(out) + "\n"


@needs("provisioning", note=" (Docker and Molecule; minutes per role)", flags="--with-provisioning ")
def provisioning_section(p: dict, img: Path) -> str:
    # the roles in the order `make molecule` runs them, then the multi-host site, then any other
    order = ["node_exporter", "prometheus", "grafana", "brefboard", "site"]
    p = dict(p, rows=sorted(p["rows"], key=lambda r: (order.index(r["scenario"]) if r["scenario"] in order
                                                      else len(order), r["scenario"])))
    out = ["Each Molecule scenario: `molecule converge`, then `molecule idempotence` (the second run, which must "
           "change nothing), container creation and prepare excluded; one run each. *Load* = mean 1-minute load "
           "average of the machine (2 CPUs, shared) sampled every 2 s during the step.\n",
           "| scenario | hosts | converge s | idempotent re-run s | re-run / converge | load, converge | load, re-run "
           "| measured |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    out += [f"| {r['scenario']} | {r['hosts']} | {r['converge_s']:.1f} | {r['idempotent_s']:.1f} | {r['ratio']:.2f} | "
            f"{r['load_converge']:.1f} | {r['load_idempotent']:.1f} | {r.get('date') or '–'} |" for r in p["rows"]]
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    names = [f"{r['scenario']}\n({r['hosts']} host{'s' if r['hosts'] > 1 else ''})" for r in p["rows"]]
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [r["converge_s"] for r in p["rows"]], 0.4, label="converge")
    ax.bar([x + 0.2 for x in xs], [r["idempotent_s"] for r in p["rows"]], 0.4, label="idempotent re-run")
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("seconds")
    ax.set_title("Molecule scenario: converge and re-run")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return with_figure(out, fig, img, "provisioning.png")


def key_numbers_section(results: Path) -> str:
    """The few numbers a reader comes for, each from the same results as its table below."""
    lines = []
    e = load(results, "engines")
    if e:
        by = {(r["engine"], r["compute_type"], r["beam"]): r for r in e["rows"]}
        o, f = by.get(("openai-whisper", "float32", 5)), by.get(("faster-whisper", "int8", 5))
        if o and f:
            lines.append(f"- **Engines** (beam 5, same weights, CPU): faster-whisper int8 runs at RTF {f['rtf']:.3f} "
                         f"against {o['rtf']:.3f} for openai-whisper fp32 — {times(o['rtf'] / f['rtf'])} faster "
                         f"({times(o['cpu_rtf'] / f['cpu_rtf'])} less CPU), with {o['peak_mib'] / f['peak_mib']:.1f}× "
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
    if i and "celery_scrape_median_ms" in i:
        lines.append(f"- **One scrape** ({i.get('scrape_workers', 4):.0f} gunicorn workers and "
                     f"{i['celery_workers']:.0f} Celery workers, two targets): gunicorn's /metrics "
                     f"{i['scrape_median_ms']:.0f} ms median, {i.get('series', 0):.0f} series; the Celery worker's "
                     f"endpoint {i['celery_scrape_median_ms']:.0f} ms, {i['celery_series']:.0f} series; "
                     f"{i['total_series']:.0f} series together.")
    elif i and "scrape_median_ms" in i:
        lines.append(f"- **One /metrics scrape** ({i.get('scrape_workers', 4):.0f} gunicorn workers): "
                     f"{i['scrape_median_ms']:.0f} ms median, {i.get('series', 0):.0f} series.")
    p = load(results, "provisioning")
    if p:
        rows = ", ".join(f"{r['scenario']} {r['converge_s']:.0f} s / {r['idempotent_s']:.0f} s" for r in p["rows"])
        lines.append(f"- **Provisioning** (Molecule, converge / idempotent re-run, one run each): {rows}.")
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
