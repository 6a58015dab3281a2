"""A server that writes a pid file at start-up and a state file when SIGTERM stops it, so tests
can check that --for records both start-up and shutdown writes."""
import http.server
import os
import signal
import sys
import threading

port, state_dir = int(sys.argv[1]), sys.argv[2]
with open(os.path.join(state_dir, "server.pid"), "w") as f:
    f.write(str(os.getpid()))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)


def stop(signum, frame):
    with open(os.path.join(state_dir, "shutdown.state"), "w") as f:
        f.write("clean shutdown\n")
    threading.Thread(target=server.shutdown).start()


signal.signal(signal.SIGTERM, stop)
server.serve_forever()
sys.exit(0)
