"""bench/collect.py against the reports the benchmarks really printed (bench/results/*.txt).

If a benchmark changes its output, its next report in bench/results/ no longer
parses and this fails, instead of docs/benchmarks.md silently losing a table.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(BENCH))

import collect  # noqa: E402


def report(name: str) -> str:
    path = RESULTS / name
    if not path.exists():
        raise unittest.SkipTest(f"{path} not produced yet (bench/run_all.sh)")
    return path.read_text()


class ParsesRealReports(unittest.TestCase):
    def test_engines_table_has_every_configuration(self):
        data = collect.engines(report("engines.txt"))
        configs = {(r["engine"], r["compute_type"], r["beam"]) for r in data["rows"]}
        self.assertEqual(len(configs), 6)
        base = next(r for r in data["rows"] if r["engine"] == "faster-whisper" and r["compute_type"] == "int8")
        self.assertEqual(base["rtf_vs_int8"], 1.0)
        for r in data["rows"]:
            self.assertGreater(r["rtf"], 0)
            self.assertGreater(r["peak_mib"], 50)
            self.assertLessEqual(r["wer"], 1.0)

    def test_pipeline_reports_engine_and_pipeline(self):
        for path in sorted(RESULTS.glob("scaling-*.txt")):
            with self.subTest(path.name):
                data = collect.pipeline(path.read_text())
                self.assertEqual(len(data["engine_s"]), len(data["pipeline_s"]))
                self.assertAlmostEqual(data["pipeline_rtf"] / data["engine_rtf"], data["ratio"], delta=0.05)

    def test_instrumentation_ratio_and_scrape(self):
        data = collect.instrumentation(report("instrumentation.txt"))
        self.assertIn("ratio", data)
        self.assertIn("scrape_median_ms", data)
        self.assertGreater(data["series"], 0)
        if "Celery worker's endpoint" in report("instrumentation.txt"):  # the second target, since it is scraped
            self.assertEqual(data["total_series"], data["series"] + data["celery_series"])
            self.assertEqual(data["celery_pool_writers"], data["celery_workers"])

    def test_summaries_exports(self):
        data = collect.summaries(report("summaries.txt"))
        self.assertLessEqual({"txt", "md"}, {e["format"] for e in data["exports"]})


    def test_provisioning_reports(self):
        folder = RESULTS / "provisioning"
        if not any(folder.glob("*.txt")):
            self.skipTest("bench/provisioning.sh not run yet")
        data = collect.provisioning("\n".join(p.read_text() for p in sorted(folder.glob("*.txt"))))
        self.assertEqual({r["scenario"] for r in data["rows"]}, {p.stem for p in folder.glob("*.txt")})
        for r in data["rows"]:
            self.assertGreater(r["converge_s"], 0)
            self.assertGreaterEqual(r["hosts"], 1)
            self.assertIsNotNone(r["date"])


class ProvisioningRerunsMerge(unittest.TestCase):
    """bench/provisioning.sh writes one file a scenario; rerunning some scenarios replaces only their rows."""

    HEAD = "scenario hosts converge_s idempotent_s ratio load_converge load_rerun\n"

    def write(self, folder: Path, scenario: str, date: str, converge: float) -> None:
        (folder / f"{scenario}.txt").write_text(
            f"# bench/provisioning.sh, {date}, 2 CPUs; load = mean 1-minute load average during the step\n"
            + self.HEAD + f"{scenario:<16} 3 {converge:11.1f} {converge / 4:13.1f} 0.25 1.50 1.70\n")

    def collect_folder(self, folder: Path) -> dict:
        out = folder.parent / "provisioning.json"
        subprocess.run([sys.executable, str(BENCH / "collect.py"), "provisioning", str(folder), str(out)], check=True)
        return {r["scenario"]: r for r in json.loads(out.read_text())["rows"]}

    def test_rerun_of_one_scenario_keeps_the_others(self):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "provisioning"
            folder.mkdir()
            self.write(folder, "node_exporter", "2026-11-30 15:00 UTC", 40.0)
            self.write(folder, "prometheus", "2026-11-30 15:05 UTC", 80.0)
            first = self.collect_folder(folder)
            self.assertEqual(set(first), {"node_exporter", "prometheus"})
            self.write(folder, "prometheus", "2026-11-30 16:00 UTC", 90.0)  # a rerun of prometheus alone
            self.write(folder, "site", "2026-11-30 16:10 UTC", 300.0)        # and a new scenario
            second = self.collect_folder(folder)
            self.assertEqual(set(second), {"node_exporter", "prometheus", "site"})
            self.assertEqual(second["node_exporter"], first["node_exporter"])
            self.assertEqual(second["prometheus"]["converge_s"], 90.0)
            self.assertEqual(second["prometheus"]["date"], "2026-11-30 16:00 UTC")
            self.assertEqual(second["site"]["hosts"], 3)
            self.assertEqual(second["site"]["load_converge"], 1.5)


class RefusesWhatItCannotRead(unittest.TestCase):
    def test_garbage_is_an_error_not_an_empty_result(self):
        for kind, parse in collect.PARSERS.items():
            with self.subTest(kind), self.assertRaises(ValueError):
                parse("Traceback (most recent call last):\n  something broke\n")

    def test_cli_exits_1_and_writes_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad, out = Path(tmp) / "bad.txt", Path(tmp) / "out.json"
            bad.write_text("no table here\n")
            proc = subprocess.run([sys.executable, str(BENCH / "collect.py"), "engines", str(bad), str(out)],
                                  capture_output=True, text=True)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("no engines table", proc.stderr)
            self.assertFalse(out.exists())

    def test_cli_adds_meta(self):
        src = next(iter(sorted(RESULTS.glob("scaling-*.txt"))), None)
        if src is None:
            self.skipTest("no scaling report yet")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.json"
            subprocess.run([sys.executable, str(BENCH / "collect.py"), "pipeline", str(src), str(out), "minutes=7"],
                           check=True)
            self.assertEqual(json.loads(out.read_text())["minutes"], "7")


if __name__ == "__main__":
    unittest.main()
