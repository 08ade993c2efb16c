#!/usr/bin/env python3
"""A local webhook receiver for tests: appends each POST to a JSON-lines file.

Each line is {"path": ..., "authorization": ..., "body": <the JSON posted>},
so a test can read what Alertmanager sent (firing, then resolved) and with
which credentials. Answers 200 to every POST, 404 to anything else.

Usage: webhook-receiver.py PORT FILE   (listens on 127.0.0.1)
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = {"path": self.path, "authorization": self.headers.get("Authorization"), "body": body}
        with open(self.server.record_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    port, record_file = int(sys.argv[1]), sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.record_file = record_file
    server.serve_forever()


if __name__ == "__main__":
    main()
