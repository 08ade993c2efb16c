#!/usr/bin/env python3
"""Record where and when benchmarks ran: bench/results/machine.json, the header of docs/benchmarks.md.

    python3 bench/machine.py [--sizes modest|full] NAME [NAME ...]

The machine (CPU, memory, OS) is rewritten; each NAME (engines, scaling, web, ...)
gets its own entry with the date, the sizes and the load average now, and the
entries of benches not named are kept: after ``bench/run_all.sh --only web`` the
page still says when (and at which sizes) the other tables were measured.
Standard library only; run it right after the benches it names.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="+", help="the benches that just ran")
    parser.add_argument("--sizes", default="modest", help="modest, full, or a few words")
    parser.add_argument("--out", type=Path, default=RESULTS / "machine.json")
    args = parser.parse_args()
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    benches = old.get("benches", {})
    if not benches and "date" in old:  # before entries a bench: one run for all
        benches = {"earlier runs": {"date": old["date"], "sizes": old.get("sizes", "?"),
                                    "loadavg_at_end": old.get("loadavg_at_end")}}
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               "?")
    mem = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))) / 2**20
    now = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "sizes": args.sizes,
           "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]}
    for name in args.names:
        benches[name] = dict(now)
    data = {"cpu": cpu, "cpus": os.cpu_count(), "memory_gib": round(mem, 1), "os": platform.platform(),
            "benches": benches}
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
