"""bench/stack.py brings up the real app behind nginx on loopback, in both variants.

Run with the app's venv (``.venv-app/bin/python -m unittest discover -s bench/tests``):
real gunicorn, Debian's nginx, SQLite (PostgreSQL is what the benches use; the
harness is the same). Checks that a login works through nginx, that the
"instrumented" variant really writes prometheus_client's multiprocess files
and the "bare" one does not, and that everything listens on 127.0.0.1 only
and is gone afterwards. No timing.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import unittest
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))

try:
    import django  # noqa: F401
    import httpx  # noqa: F401
except ImportError:  # pragma: no cover
    django = None


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@unittest.skipIf(django is None, "needs the app's venv: .venv-app/bin/python")
@unittest.skipUnless(shutil.which("nginx") or Path("/usr/sbin/nginx").exists(), "nginx is not installed")
class StackUp(unittest.TestCase):
    def test_both_variants_serve_the_library_to_a_logged_in_user(self):
        from stack import Stack, login

        with Stack(workers=1, database="sqlite", live=False) as stack:
            env = stack.process_env("instrumented")
            subprocess.run([sys.executable, "-c", (
                "import django; django.setup();"
                "from django.contrib.auth import get_user_model;"
                "get_user_model().objects.create_user('t', 't@example.org', 'a-long-test-password-1')")],
                cwd=BENCH.parent / "app", env=env, check=True)
            client = login(stack.url("instrumented"), "t", "a-long-test-password-1")
            self.addCleanup(client.close)
            for variant in ("instrumented", "bare"):
                with self.subTest(variant):
                    r = client.get(stack.url(variant, "/profil/"))
                    self.assertEqual(r.status_code, 200)
                    self.assertIn("Aucune transcription", r.text)
                    self.assertGreater(stack.server_cpu_s(variant), 0)
            with self.assertRaises(RuntimeError):
                login(stack.url("bare"), "t", "wrong password")
            multiproc = stack.work / "prom-multiproc"
            self.assertTrue(any(multiproc.glob("*.db")), "instrumented gunicorn wrote no metrics files")
            # the bare variant's settings have no monitoring middleware left
            out = subprocess.run([sys.executable, "-c", (
                "import django; django.setup(); from django.conf import settings;"
                "print([m for m in settings.MIDDLEWARE if 'prometheus' in m or 'monitoring' in m])")],
                cwd=BENCH.parent / "app", env=stack.process_env("bare"), capture_output=True, text=True, check=True)
            self.assertEqual(out.stdout.strip(), "[]")
            ports = dict(stack.ports)
            work = stack.work
            for port in ports.values():
                self.assertTrue(listening(port))
            ss = subprocess.run(["ss", "-Htln"], capture_output=True, text=True).stdout
            for port in ports.values():
                bound = [ln.split()[3] for ln in ss.splitlines() if ln.split()[3].endswith(f":{port}")]
                self.assertEqual(bound, [f"127.0.0.1:{port}"])
        for port in ports.values():
            self.assertFalse(listening(port))
        self.assertFalse(work.exists())


if __name__ == "__main__":
    unittest.main()
