"""release_binary asks for sha256sums.txt only when it knows no checksum.

A checksum from a `*_checksums` table (per architecture) or given as a value
must be enough: an air-gapped site with a local archive (or a mirror that has
no sha256sums.txt) and a known checksum needs no checksum URL at all. The role
runs here for real against a local HTTP server that logs every request.
"""
import hashlib
import http.server
import io
import json
import os
import platform
import tarfile
import threading

import pytest

ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "amd64")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the role installs files owned by root")


@pytest.fixture
def server(tmp_path):
    """Serves the archive and its sha256sums.txt; `server.requests` lists the paths asked for."""
    data = b"#!/bin/sh\necho release-binary-test\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"tool-1.2.3.linux-{ARCH}/tool")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    archive = buf.getvalue()
    sha = hashlib.sha256(archive).hexdigest()
    files = {f"/tool-1.2.3.linux-{ARCH}.tar.gz": archive,
             "/sha256sums.txt": f"{sha}  tool-1.2.3.linux-{ARCH}.tar.gz\n".encode()}
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    local = tmp_path / "tool.tar.gz"
    local.write_bytes(archive)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield type("Server", (), {"base": base, "sha": sha, "requests": requests, "local": local})
    httpd.shutdown()


def install(play, tmp_path, **vars_):
    role_vars = {
        "release_binary_caller": "test", "release_binary_name": "tool", "release_binary_version": "1.2.3",
        "release_binary_url": "http://127.0.0.1:9/tool-1.2.3.linux-__ARCH__.tar.gz",
        "release_binary_cache_dir": str(tmp_path / "cache"),
        "release_binary_files": [{"src": "tool", "dest": str(tmp_path / "bin" / "tool"), "mode": "0755"}],
        **vars_,
    }
    (tmp_path / "bin").mkdir(exist_ok=True)
    results = play.run({"host": {}}, {}, [{"name": "Install through release_binary",
                                             "ansible.builtin.include_role": {"name": "release_binary"},
                                             "vars": role_vars}], gather_subset=["min"])
    return results["host"]


def test_a_checksums_table_entry_needs_no_checksum_list(play, tmp_path, server):
    r = install(play, tmp_path, release_binary_url=server.base + "/tool-1.2.3.linux-__ARCH__.tar.gz",
                release_binary_checksum_url=server.base + "/sha256sums.txt",
                release_binary_checksums={ARCH: server.sha})
    assert r["ok"], r
    assert server.requests == [f"/tool-1.2.3.linux-{ARCH}.tar.gz"], server.requests
    assert (tmp_path / "bin" / "tool").read_text().startswith("#!/bin/sh")


def test_a_given_checksum_needs_no_checksum_list(play, tmp_path, server):
    r = install(play, tmp_path, release_binary_url=server.base + "/tool-1.2.3.linux-__ARCH__.tar.gz",
                release_binary_checksum_url=server.base + "/sha256sums.txt", release_binary_checksum="sha256:" + server.sha)
    assert r["ok"], r
    assert "/sha256sums.txt" not in server.requests, server.requests


def test_air_gapped_local_archive_and_known_checksum_without_any_url(play, tmp_path, server):
    r = install(play, tmp_path, release_binary_local_archive=str(server.local), release_binary_checksum_url="",
                release_binary_checksums={ARCH: server.sha})
    assert r["ok"], r
    assert server.requests == []
    assert (tmp_path / "bin" / "tool").exists()


def test_a_wrong_known_checksum_fails_without_asking_the_list(play, tmp_path, server):
    r = install(play, tmp_path, release_binary_local_archive=str(server.local),
                release_binary_checksum_url=server.base + "/sha256sums.txt", release_binary_checksums={ARCH: "0" * 64})
    assert not r["ok"] and "expected " + "0" * 64 in r["msg"], r
    assert server.requests == [] and not (tmp_path / "bin" / "tool").exists()


def test_without_a_known_checksum_the_list_is_read(play, tmp_path, server):
    r = install(play, tmp_path, release_binary_url=server.base + "/tool-1.2.3.linux-__ARCH__.tar.gz",
                release_binary_checksum_url=server.base + "/sha256sums.txt")
    assert r["ok"], r
    assert server.requests == ["/sha256sums.txt", f"/tool-1.2.3.linux-{ARCH}.tar.gz"], server.requests


def test_a_given_checksum_wins_over_the_known_table(play, tmp_path, server):
    # The roles ship a table of known checksums (prometheus 2.45.0); a user who
    # sets prometheus_checksum for a rebuilt or mirrored archive means that one.
    r = install(play, tmp_path, release_binary_url=server.base + "/tool-1.2.3.linux-__ARCH__.tar.gz",
                release_binary_checksums={ARCH: "0" * 64}, release_binary_checksum=server.sha)
    assert r["ok"], r
    assert (tmp_path / "bin" / "tool").exists()


def console_archive(tmp_path):
    """A release-shaped archive with a tool and a consoles directory (two files, one in a subfolder)."""
    members = {"tool": (b"#!/bin/sh\necho tool\n", 0o755), "consoles/index.html.example": (b"<h1>index</h1>\n", 0o644),
               "consoles/lib/node.lib": (b"{{ define \"node\" }}{{ end }}\n", 0o644)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(f"tool-1.2.3.linux-{ARCH}/{name}")
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "tool-consoles.tar.gz"
    path.write_bytes(buf.getvalue())
    return path, hashlib.sha256(buf.getvalue()).hexdigest(), members


def changed_count(play):
    """Tasks that changed something in the last run, not counting the result file the harness writes."""
    recap = [line for line in play.proc.stdout.splitlines() if line.startswith("host ")]
    return int(recap[-1].split("changed=")[1].split()[0]) - 1


def test_a_console_directory_is_checked_as_one_unit_and_restored_whole(play, tmp_path):
    archive, sha, members = console_archive(tmp_path)
    consoles = tmp_path / "etc" / "consoles"
    (tmp_path / "etc").mkdir()
    args = dict(release_binary_local_archive=str(archive), release_binary_checksum=sha,
                release_binary_dirs=[{"src": "consoles", "dest": str(consoles)}])
    assert install(play, tmp_path, **args)["ok"]
    assert (consoles / "index.html.example").read_bytes() == members["consoles/index.html.example"][0]
    manifest = json.loads((tmp_path / "cache" / f"tool-1.2.3.linux-{ARCH}" / ".manifest.json").read_text())
    assert manifest["checksum"] == sha and set(manifest["files"]) == {"tool", "consoles"}

    # Nothing changed: the probe sees the same digest, nothing is copied or removed.
    play.out.joinpath("host.json").unlink()
    assert install(play, tmp_path, **args)["ok"]
    assert changed_count(play) == 0, play.proc.stdout[-3000:]

    # One file edited, one deleted, one added, one made group-writable: the next run restores the tree.
    (consoles / "index.html.example").write_text("defaced\n")
    (consoles / "lib" / "node.lib").unlink()
    (consoles / "stray.html").write_text("not from the archive\n")
    play.out.joinpath("host.json").unlink()
    assert install(play, tmp_path, **args)["ok"]
    assert changed_count(play) >= 1
    assert (consoles / "index.html.example").read_bytes() == members["consoles/index.html.example"][0]
    assert (consoles / "lib" / "node.lib").read_bytes() == members["consoles/lib/node.lib"][0]
    assert not (consoles / "stray.html").exists()

    os.chmod(consoles / "lib" / "node.lib", 0o664)
    play.out.joinpath("host.json").unlink()
    assert install(play, tmp_path, **args)["ok"]
    assert os.stat(consoles / "lib" / "node.lib").st_mode & 0o777 == 0o644


def test_an_edited_binary_is_restored_and_an_unchanged_one_left_alone(play, tmp_path):
    archive, sha, members = console_archive(tmp_path)
    args = dict(release_binary_local_archive=str(archive), release_binary_checksum=sha)
    assert install(play, tmp_path, **args)["ok"]
    tool = tmp_path / "bin" / "tool"
    inode = tool.stat().st_ino
    play.out.joinpath("host.json").unlink()
    assert install(play, tmp_path, **args)["ok"]
    assert tool.stat().st_ino == inode and changed_count(play) == 0
    tool.write_text("#!/bin/sh\necho tampered\n")
    play.out.joinpath("host.json").unlink()
    assert install(play, tmp_path, **args)["ok"]
    assert tool.read_bytes() == members["tool"][0]


def test_a_new_checksum_for_the_same_version_unpacks_again(play, tmp_path):
    # The manifest names the checksum its tree came from: another archive is not taken for it.
    archive, sha, members = console_archive(tmp_path)
    assert install(play, tmp_path, release_binary_local_archive=str(archive), release_binary_checksum=sha)["ok"]
    data = b"#!/bin/sh\necho tool 2\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"tool-1.2.3.linux-{ARCH}/tool")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    archive.write_bytes(buf.getvalue())
    play.out.joinpath("host.json").unlink()
    r = install(play, tmp_path, release_binary_local_archive=str(archive),
                release_binary_checksum=hashlib.sha256(buf.getvalue()).hexdigest())
    assert r["ok"], r
    assert (tmp_path / "bin" / "tool").read_bytes() == data
