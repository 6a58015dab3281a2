"""An upload endpoint that spools request bodies to disk as Starlette's UploadFile does: a
SpooledTemporaryFile that rolls over past 1 MiB into tempfile.TemporaryFile, which on Linux is an
O_TMPFILE file in the temp directory — a file without a name, which no path ever shows.

POST /upload answers the body's size (or 507 when the temp directory is full); GET /health answers ok.
Threaded (ThreadingHTTPServer); SIGTERM ends it with status 0.

Usage: server.py PORT
"""
import http.server
import signal
import sys
import tempfile


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.reply(200, b"ok")

    def do_POST(self):
        left = int(self.headers.get("Content-Length", "0"))
        try:
            with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:
                while left > 0:
                    chunk = self.rfile.read(min(left, 1 << 16))
                    if not chunk:
                        break
                    spool.write(chunk)
                    left -= len(chunk)
                spool.flush()
                size = spool.tell()
        except OSError as e:
            self.reply(507, f"spooling the upload failed: {e}".encode())
            return
        self.reply(200, str(size).encode())

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
