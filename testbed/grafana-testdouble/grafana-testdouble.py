#!/usr/bin/python3
"""grafana-testdouble: a stand-in for Grafana's `grafana` binary, for Molecule only.

NOT GRAFANA. Grafana's server cannot be downloaded on the build machine, so
molecule/monitoring builds this into a package named `grafana-testdouble` and
serves it from a throwaway apt repository inside the test container. It
implements only what roles/grafana relies on, the way Grafana behaves:

  grafana server --homepath H --config C
      HTTP server on [server] http_addr/http_port of C, answering
      /api/health; /api/user (basic auth); /api/admin/provisioning/
      {datasources,dashboards}/reload; /api/datasources; /api/search.
      Provisioning files are read at start and on reload, like Grafana.
      The admin password is the one in the "database" (a JSON file in the
      data folder), created at first start from [security] admin_password,
      default "admin", as Grafana does.
  grafana cli [...] admin reset-admin-password [--password-from-stdin] [PASSWORD]
      writes the new password to the "database".
  grafana cli [...] --pluginsDir D plugins install NAME [VERSION]
      creates D/NAME/plugin.json (no download).

/api/testdouble/state tells the tests when the server started and how many
provisioning reloads it served, so they can tell a restart from a reload.
"""

import base64
import configparser
import glob
import hashlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import yaml

VERSION = "@VERSION@"
DATA_DIR = "/var/lib/grafana"
DB = os.path.join(DATA_DIR, "testdouble-db.json")


def read_ini(path):
    parser = configparser.ConfigParser(interpolation=None)
    with open(path, encoding="utf-8") as f:
        parser.read_string("[__root__]\n" + f.read())
    return parser


def db_load():
    try:
        with open(DB, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def db_save(data):
    """Replace the file, keeping its owner: `grafana cli` runs as root on a
    database the grafana user owns, as with Grafana's sqlite file."""
    tmp = DB + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.chmod(tmp, 0o640)
    if os.path.exists(DB):
        st = os.stat(DB)
        os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, DB)


def hash_pw(pw):
    return hashlib.sha256(pw.encode()).hexdigest()


def parse_args(argv):
    """Split ``--flag value`` / ``--flag=value`` options from positional words."""
    opts, words, i = {}, [], 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--"):
            key, eq, val = a[2:].partition("=")
            if eq:
                opts[key] = val
            elif key in ("password-from-stdin",) or i + 1 >= len(argv):
                opts[key] = True
            else:
                opts[key] = argv[i + 1]
                i += 1
        else:
            words.append(a)
        i += 1
    return opts, words


class State:
    def __init__(self, config):
        self.config_path = config
        self.ini = read_ini(config)
        self.started_at = time.time()
        self.reloads = {"datasources": 0, "dashboards": 0}
        self.provisioning = self.ini.get("paths", "provisioning", fallback="/etc/grafana/provisioning")
        self.datasources = []
        self.dashboards = []
        self.load_datasources()
        self.load_dashboards()

    def admin_user(self):
        return self.ini.get("security", "admin_user", fallback="admin")

    def load_datasources(self):
        found = []
        for path in sorted(glob.glob(os.path.join(self.provisioning, "datasources", "*.y*ml"))):
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f) or {}
            for ds in doc.get("datasources", []):
                public = {k: v for k, v in ds.items() if k != "secureJsonData"}
                public["secureJsonFields"] = {k: True for k in (ds.get("secureJsonData") or {})}
                found.append(public)
        self.datasources = found

    def load_dashboards(self):
        found = []
        for path in sorted(glob.glob(os.path.join(self.provisioning, "dashboards", "*.y*ml"))):
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f) or {}
            for prov in doc.get("providers", []):
                folder = prov.get("folder", "")
                for dash in sorted(glob.glob(os.path.join(prov["options"]["path"], "*.json"))):
                    with open(dash, encoding="utf-8") as f:
                        d = json.load(f)
                    found.append({"uid": d.get("uid"), "title": d.get("title"), "type": "dash-db",
                                  "folderTitle": folder, "tags": d.get("tags", [])})
        self.dashboards = found


STATE = None


class Handler(BaseHTTPRequestHandler):
    server_version = "grafana-testdouble/" + VERSION

    def log_message(self, fmt, *args):
        sys.stderr.write("grafana-testdouble: " + (fmt % args) + "\n")

    def send(self, code, body):
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def authorized(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
        db = db_load() or {}
        return user == STATE.admin_user() and hash_pw(pw) == db.get("admin_password_sha256")

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/api/health":
            return self.send(200, {"database": "ok", "version": VERSION, "testdouble": True})
        if not self.authorized():
            return self.send(401, {"message": "invalid username or password"})
        if url.path == "/api/user":
            return self.send(200, {"id": 1, "login": STATE.admin_user(), "isGrafanaAdmin": True})
        if url.path == "/api/datasources":
            return self.send(200, STATE.datasources)
        if url.path.startswith("/api/datasources/uid/"):
            uid = url.path.rsplit("/", 1)[1]
            match = [d for d in STATE.datasources if d.get("uid") == uid]
            return self.send(200, match[0]) if match else self.send(404, {"message": "not found"})
        if url.path == "/api/search":
            return self.send(200, STATE.dashboards)
        if url.path == "/api/testdouble/state":
            return self.send(200, {"started_at": STATE.started_at, "pid": os.getpid(),
                                   "reloads": STATE.reloads, "version": VERSION})
        return self.send(404, {"message": "not found"})

    def do_POST(self):
        if not self.authorized():
            return self.send(401, {"message": "invalid username or password"})
        if self.path == "/api/admin/provisioning/datasources/reload":
            STATE.load_datasources()
            STATE.reloads["datasources"] += 1
            return self.send(200, {"message": "Datasources config reloaded"})
        if self.path == "/api/admin/provisioning/dashboards/reload":
            STATE.load_dashboards()
            STATE.reloads["dashboards"] += 1
            return self.send(200, {"message": "Dashboards config reloaded"})
        return self.send(404, {"message": "not found"})


def server(opts):
    global STATE
    STATE = State(opts.get("config", "/etc/grafana/grafana.ini"))
    if db_load() is None:  # first start: create the "database", as Grafana does
        pw = STATE.ini.get("security", "admin_password", fallback="admin")
        db_save({"admin_password_sha256": hash_pw(pw)})
    addr = STATE.ini.get("server", "http_addr", fallback="0.0.0.0") or "0.0.0.0"
    port = STATE.ini.getint("server", "http_port", fallback=3000)
    httpd = ThreadingHTTPServer((addr, port), Handler)
    sys.stderr.write(f"grafana-testdouble {VERSION} listening on {addr}:{port}\n")
    httpd.serve_forever()


def cli(opts, words):
    if words[:2] == ["admin", "reset-admin-password"]:
        pw = sys.stdin.read().strip() if opts.get("password-from-stdin") else (words[2] if len(words) > 2 else "")
        if not pw:
            sys.exit("new password is required")
        db = db_load() or {}
        db["admin_password_sha256"] = hash_pw(pw)
        db_save(db)
        print("Admin password changed successfully ✔")
        return
    if words[:2] == ["plugins", "install"] and len(words) >= 3:
        target = os.path.join(opts.get("pluginsDir", os.path.join(DATA_DIR, "plugins")), words[2])
        os.makedirs(target, exist_ok=True)
        with open(os.path.join(target, "plugin.json"), "w", encoding="utf-8") as f:
            json.dump({"id": words[2], "info": {"version": words[3] if len(words) > 3 else "latest"}}, f)
        print(f"installed {words[2]} (grafana-testdouble: nothing downloaded)")
        return
    sys.exit(f"grafana-testdouble: unsupported cli command: {' '.join(words)}")


def main(argv):
    if not argv:
        sys.exit("usage: grafana server|cli ...")
    opts, words = parse_args(argv[1:])
    if argv[0] == "server":
        server(opts)
    elif argv[0] == "cli":
        cli(opts, words)
    elif argv[0] in ("-v", "--version"):
        print(f"grafana-testdouble version {VERSION}")
    else:
        sys.exit(f"grafana-testdouble: unknown command {argv[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
