"""Starts an HTTP server (under the tool prefix in $ROPROF_BENCH_PREFIX, a JSON list), sends N
requests on loopback, stops the server with SIGTERM and waits for the tool to finish."""
import http.client, json, os, shutil, signal, socket, subprocess, sys, tempfile, time

n = int(sys.argv[1])
prefix = json.loads(os.environ.get("ROPROF_BENCH_PREFIX") or "[]")
# Serve a directory with one small file (a big listing would measure the listing, not the server).
# The same command line every run when the bench fixes the port and directory (ROPROF_BENCH_PORT,
# ROPROF_BENCH_WWW), as a CI job's command is: `check --backend auto` keys its measurements on it.
root = os.environ.get("ROPROF_BENCH_WWW") or tempfile.mkdtemp(prefix="roprof-bench-www-")
os.makedirs(root, exist_ok=True)
open(os.path.join(root, "index.html"), "w").write("<h1>hello</h1>\n")
port = int(os.environ.get("ROPROF_BENCH_PORT") or 0)
if not port:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
server = subprocess.Popen(prefix + [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", root],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
for _ in range(300):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close(); break
    except OSError:
        time.sleep(0.02)
for i in range(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/"); c.getresponse().read(); c.close()
os.killpg(server.pid, signal.SIGTERM)
server.wait(timeout=30)
if not os.environ.get("ROPROF_BENCH_WWW"): shutil.rmtree(root, ignore_errors=True)
