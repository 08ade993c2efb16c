"""bench/loadgen.py drives the real wrk against a real HTTP server on loopback.

Asserts what was counted, never how fast: speed checks stay out of tests.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))

from loadgen import wrk  # noqa: E402


@unittest.skipUnless(shutil.which("wrk"), "wrk is not installed (bench/run_all.sh installs it)")
class Wrk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        Path(cls.tmp.name, "page.html").write_text("<p>hello</p>\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            cls.port = s.getsockname()[1]
        cls.server = subprocess.Popen([sys.executable, "-m", "http.server", str(cls.port), "--bind", "127.0.0.1",
                                       "--directory", cls.tmp.name], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", cls.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("http.server did not start")

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait()
        cls.tmp.cleanup()

    def test_counts_requests_and_reports_percentiles(self):
        out = wrk(f"http://127.0.0.1:{self.port}/page.html", seconds=1, connections=1)
        self.assertGreater(out["requests"], 0)
        self.assertEqual(out["errors"]["status"], 0)
        self.assertLessEqual(out["latency_ms"]["p50"], out["latency_ms"]["p99"])
        self.assertLessEqual(out["latency_ms"]["p99"], out["latency_ms"]["max"])
        self.assertAlmostEqual(out["rps"], out["requests"] / out["duration_s"])

    def test_error_statuses_are_counted(self):
        out = wrk(f"http://127.0.0.1:{self.port}/missing", seconds=1, connections=1)
        self.assertGreater(out["errors"]["status"], 0)  # 404s: not silently counted as successes

    def test_refuses_anything_but_loopback(self):
        with self.assertRaises(ValueError):
            wrk("http://192.0.2.1/", seconds=1, connections=1)


if __name__ == "__main__":
    unittest.main()
