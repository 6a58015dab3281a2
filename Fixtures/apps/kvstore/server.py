"""A small key-value server, packaged the way Debian packages a daemon.

Its state lives in /var/lib/roprof-kv (an append-only log it fsyncs after every write, and a
snapshot it writes to a temporary file, fsyncs and renames into place), its pid file in
/var/run/roprof-kv/kv.pid (through the /var/run -> /run symlink, into a directory the package
created; the kernel names it /run/roprof-kv/kv.pid), and it removes the pid file on exit through
/var/run. On start it replays the snapshot
and the log, so a restart keeps every key.

  python3 server.py PORT [--ignore-sigterm]
  GET /health            -> ok
  GET /get?k=KEY         -> value (404 when missing)
  POST /set?k=KEY&v=VAL  -> ok
  POST /incr?k=KEY       -> the new value
"""
import http.server
import json
import os
import signal
import sys
import urllib.parse

DATA = os.environ.get("KV_DATA", "/var/lib/roprof-kv")
PIDFILE = os.environ.get("KV_PIDFILE", "/var/run/roprof-kv/kv.pid")
LOG = os.path.join(DATA, "kv.log")
SNAPSHOT = os.path.join(DATA, "kv.snapshot")
store = {}


def load():
    if os.path.exists(SNAPSHOT):
        with open(SNAPSHOT) as f:
            store.update(json.load(f))
    if os.path.exists(LOG):
        with open(LOG) as f:
            for line in f:
                if line.strip():
                    k, v = json.loads(line)
                    store[k] = v


def append(k, v):
    with open(LOG, "a") as f:
        f.write(json.dumps([k, v]) + "\n")
        f.flush()
        os.fsync(f.fileno())
    store[k] = v


def snapshot():
    tmp = SNAPSHOT + ".tmp"
    with open(tmp, "w") as f:
        json.dump(store, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, SNAPSHOT)
    dirfd = os.open(DATA, os.O_RDONLY)
    os.fsync(dirfd)
    os.close(dirfd)
    open(LOG, "w").close()  # the snapshot holds everything now


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body):
        data = (body + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/health":
            return self.reply(200, "ok")
        if u.path == "/get":
            if q.get("k") in store:
                return self.reply(200, str(store[q["k"]]))
            return self.reply(404, "missing")
        self.reply(404, "no such route")

    def do_POST(self):
        u = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/set":
            append(q["k"], q.get("v", ""))
            return self.reply(200, "ok")
        if u.path == "/incr":
            n = int(store.get(q["k"], 0)) + 1
            append(q["k"], n)
            return self.reply(200, str(n))
        self.reply(404, "no such route")


def main():
    port = int(sys.argv[1])
    load()
    with open(PIDFILE, "w") as f:
        f.write(f"{os.getpid()}\n")
    server = http.server.HTTPServer(("127.0.0.1", port), Handler)

    def stop(*_):
        snapshot()
        try:
            os.unlink(PIDFILE)
        except FileNotFoundError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, signal.SIG_IGN if "--ignore-sigterm" in sys.argv else stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        stop()


if __name__ == "__main__":
    main()
