"""HTTP API: /health, /jobs (list), POST /jobs?name=N (queue one)."""
import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from services import common


class Handler(BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            return self.reply(200, {"status": "ok"})
        if url.path == "/jobs":
            rows = common.db().execute("select id, name, state from jobs order by id").fetchall()
            return self.reply(200, [{"id": i, "name": n, "state": s} for i, n, s in rows])
        self.reply(404, {"error": "not found"})

    def do_POST(self):
        url = urlparse(self.path)
        name = parse_qs(url.query).get("name", ["job"])[0]
        conn = common.db()
        conn.execute("insert into jobs (name) values (?)", (name,))
        conn.commit()
        self.reply(201, {"queued": name})

    def log_message(self, fmt, *args):
        logging.info(fmt, *args)


def main():
    common.write_pidfile("webserver")
    server = ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))), Handler)
    common.handle_sigterm()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while not common.stopping:
        threading.Event().wait(0.1)
    server.shutdown()
    return 0
