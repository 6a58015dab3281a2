"""A small stateful server that behaves differently on a restart, as real ones do.

First start: creates its write-ahead log and points a `grammars` symlink in its data directory at
its own code directory (as a Django entrypoint's `ln -sfn /opt/bots/grammars $STATE/usersys`).
Every later start on the same data: repairs the log (ftruncate to its last whole record, as etcd
does with its WAL) and re-points the link with `ln -sfn` (which replaces an existing link with
renameat). Requests are served by threads (ThreadingHTTPServer): GET /items/NAME appends a record,
fsyncs it and answers the number of records. SIGTERM ends it with status 0.

Usage: server.py PORT DATA_DIR
"""
import http.server
import os
import signal
import subprocess
import sys

port, data = int(sys.argv[1]), sys.argv[2]
os.makedirs(data, exist_ok=True)
wal = os.path.join(data, "wal.log")
if os.path.exists(wal):
    with open(wal, "r+b") as f:
        content = f.read()
        whole = content.rfind(b"\n") + 1
        os.ftruncate(f.fileno(), whole)  # drop a torn last record
code = os.path.dirname(os.path.abspath(__file__))
subprocess.run(["ln", "-sfn", code, os.path.join(data, "grammars")], check=True)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok"
        else:
            with open(wal, "ab") as f:
                f.write(self.path.encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())
            with open(wal, "rb") as f:
                body = str(f.read().count(b"\n")).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
