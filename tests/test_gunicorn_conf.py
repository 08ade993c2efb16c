"""The deployed gunicorn config uses the app's own hooks, and pins no release in the master.

gunicorn.conf.py.j2 imports on_starting and child_exit from
app/brefboard/monitoring/gunicorn.py (which also folds dead workers' metric
files, brefboard.monitoring.compaction), then drops every `brefboard` module
from sys.modules: workers forked after a HUP must import the release the
`current` symlink points to then, not the one the master first loaded.

The config is rendered by the role and loaded the way gunicorn loads it, with
two releases behind a `current` symlink and a stand-in prometheus_client that
records mark_process_dead (the real one is not in the controller's venv).
"""
import json
import shutil
import subprocess
import sys
import textwrap

from conftest import ROOT, preflight_task

APP = ROOT / "app" / "brefboard"

PROBE = textwrap.dedent("""
    import importlib.util, json, os, sys
    conf, current, stub, metrics, releases = sys.argv[1:6]
    sys.path[:0] = [stub, current]
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
    spec = importlib.util.spec_from_file_location("__config__", conf)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cfg = vars(mod)
    out = {"left": sorted(n for n in sys.modules if n == "brefboard" or n.startswith("brefboard.")),
           "hooks": {n: [cfg[n].__module__, os.path.realpath(cfg[n].__code__.co_filename)]
                     for n in ("on_starting", "child_exit")},
           "settings": {k: cfg[k] for k in ("bind", "workers", "timeout", "graceful_timeout", "preload_app")}}

    class Log:
        def exception(self, *a):
            out.setdefault("logged", []).append(a[0] % a[1:])

    class Server:
        log = Log()

    class Worker:
        pid = 4242

    open(os.path.join(metrics, "gauge_livesum_1.db"), "w").close()
    cfg["on_starting"](Server())
    out["after_start"] = sorted(os.listdir(metrics))
    # A HUP reload after the release switch: `current` now points to release b.
    os.unlink(os.path.join(releases, "current"))
    os.symlink(os.path.join(releases, "b"), os.path.join(releases, "current"))
    import brefboard.release
    out["worker_imports"] = brefboard.release.NAME
    cfg["child_exit"](Server(), Worker())
    import prometheus_client.multiprocess as mp
    out["marked_dead"] = mp.DEAD
    out["after_exit"] = sorted(os.listdir(metrics))
    print(json.dumps(out))
""")


def make_release(root, name):
    """A release's site-packages: the app's real monitoring hooks plus a marker module."""
    pkg = root / name / "brefboard"
    (pkg / "monitoring").mkdir(parents=True)
    shutil.copy(APP / "__init__.py", pkg / "__init__.py")
    for module in ("__init__.py", "gunicorn.py", "compaction.py"):
        shutil.copy(APP / "monitoring" / module, pkg / "monitoring" / module)
    (pkg / "release.py").write_text(f"NAME = {name!r}\n")


def test_the_config_uses_the_apps_hooks_and_forgets_the_release(play, tmp_path):
    results = play.run({"web1": {"brefboard_gunicorn_workers": 3, "brefboard_gunicorn_timeout": 77}}, {"web": ["web1"]}, [
        preflight_task(),
        {"name": "Render the gunicorn config",
         "ansible.builtin.template": {"src": str(ROOT / "roles/brefboard/templates/gunicorn.conf.py.j2"),
                                      "dest": "{{ test_out }}/gunicorn.conf.py", "mode": "0644"}},
    ])
    assert results["web1"]["ok"], results

    releases = tmp_path / "releases"
    make_release(releases, "a")
    make_release(releases, "b")
    (releases / "current").symlink_to(releases / "a")
    stub = tmp_path / "stub" / "prometheus_client"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("")
    (stub / "multiprocess.py").write_text("DEAD = []\ndef mark_process_dead(pid):\n    DEAD.append(pid)\n")
    (stub / "mmap_dict.py").write_text("class MmapedDict:\n    pass\n")
    metrics = tmp_path / "metrics"
    metrics.mkdir()

    proc = subprocess.run([sys.executable, "-c", PROBE, str(play.out / "gunicorn.conf.py"), str(releases / "current"),
                           str(stub.parent), str(metrics), str(releases)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)

    assert out["left"] == [], "brefboard modules left in the master pin the release into forked workers"
    for hook in ("on_starting", "child_exit"):
        module, path = out["hooks"][hook]
        assert module == "brefboard.monitoring.gunicorn", out["hooks"]
        assert path == str((releases / "a" / "brefboard" / "monitoring" / "gunicorn.py").resolve())
    assert out["settings"] == {"bind": "127.0.0.1:8000", "workers": 3, "timeout": 77, "graceful_timeout": 77,
                               "preload_app": False}
    assert out["after_start"] == [], "on_starting empties the multiprocess directory"
    assert out["worker_imports"] == "b", "after the switch a new import must find the release current points to"
    # The app's child_exit, run after its modules left sys.modules: its globals still work.
    assert out["marked_dead"] == [4242] and "logged" not in out, out
    assert out["after_exit"] == [".fold.lock"], "the app's hook folds (compaction.py takes its lock)"
