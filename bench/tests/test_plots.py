"""bench/plots.py fills every generated section of a copy of docs/benchmarks.md and keeps the prose."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
DOC = BENCH.parent / "docs" / "benchmarks.md"

try:
    import matplotlib  # noqa: F401
except ImportError:  # pragma: no cover
    matplotlib = None

SECTION = re.compile(r"<!-- BEGIN GENERATED: ([\w-]+) -->\n(.*?)<!-- END GENERATED: \1 -->", re.S)


def run_plots(results: Path, doc: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH / "plots.py"), "--results", str(results), "--doc", str(doc)],
                          capture_output=True, text=True)


@unittest.skipIf(matplotlib is None, "matplotlib missing: run with .venv-bench/bin/python")
class Plots(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)
        (self.tmp / "docs").mkdir()
        self.doc = self.tmp / "docs" / "benchmarks.md"
        shutil.copy(DOC, self.doc)

    def prose(self, text: str) -> str:
        return SECTION.sub("", text)

    def test_no_results_says_so_in_every_section_and_keeps_the_prose(self):
        before = self.doc.read_text()
        empty = self.tmp / "results"
        empty.mkdir()
        proc = run_plots(empty, self.doc)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        after = self.doc.read_text()
        self.assertEqual(self.prose(before), self.prose(after))
        for name, body in SECTION.findall(after):
            with self.subTest(name):
                self.assertIn("No result", body)
        self.assertFalse((self.tmp / "docs" / "img").exists())

    def test_real_results_give_tables_and_png_files(self):
        results = BENCH / "results"
        if not (results / "web.json").exists():
            self.skipTest("no results yet (bench/run_all.sh)")
        proc = run_plots(results, self.doc)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        text = self.doc.read_text()
        sections = dict(SECTION.findall(text))
        for name in ("web", "recorders", "engines", "scaling"):
            with self.subTest(name):
                self.assertIn("|---", sections[name])
                image = re.search(r"!\[[^]]*\]\((img/[\w.-]+\.png)\)", sections[name]).group(1)
                data = (self.tmp / "docs" / image).read_bytes()
                self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        # run twice: the second run replaces the sections, it does not append to them
        run_plots(results, self.doc)
        self.assertEqual(self.doc.read_text(), text)

    def test_a_doc_without_a_section_is_an_error(self):
        self.doc.write_text("# Benchmarks\n\nno markers\n")
        proc = run_plots(BENCH / "results", self.doc)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("GENERATED section", proc.stderr)


if __name__ == "__main__":
    unittest.main()
