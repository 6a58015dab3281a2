"""An HTTP server that writes one log file per request into LOG_DIR (argv[2]), for attach tests."""
import http.server
import os
import sys

port, log_dir = int(sys.argv[1]), sys.argv[2]
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global count
        count += 1
        with open(os.path.join(log_dir, f"request-{count}.log"), "w") as f:
            f.write(self.path + "\n")
        body = f"request {count}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
