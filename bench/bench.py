"""Runs every workload under every tool, alternating tools within each round, and reports medians.
Invoked by bench/run (which builds roprof in release mode and the C helpers first)."""
import json, os, platform, resource, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROPROF = os.environ.get("ROPROF_BIN") or os.path.join(ROOT, ".build/release/roprof")
BIN = os.path.join(ROOT, ".build/bench")
rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 5
work = tempfile.mkdtemp(prefix="roprof-bench-")
# Debian's interpreter, not a version-manager shim (pyenv's is a bash script that spawns a dozen processes).
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")

def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)

# ---- workloads: (name, prepare(), command list) ------------------------------------------------
def w_python():
    pyc = os.path.join(work, "pyc")
    def prep(): shutil.rmtree(pyc, ignore_errors=True)
    env = ["/usr/bin/env", "-u", "PYTHONDONTWRITEBYTECODE", f"PYTHONPYCACHEPREFIX={pyc}"]
    mods = "json, csv, decimal, fractions, statistics, sqlite3, email.parser, http.client, xml.dom.minidom, argparse, logging.handlers, difflib"
    return prep, env + [PY, "-c", f"import {mods}"]

def w_tar():
    src = os.path.join(work, "tarsrc"); out = os.path.join(work, "tarout")
    os.makedirs(src, exist_ok=True)
    for i in range(200):
        d = os.path.join(src, f"d{i % 10}"); os.makedirs(d, exist_ok=True)
        open(os.path.join(d, f"f{i}.txt"), "w").write("x" * 512)
    sh(["tar", "-cf", os.path.join(work, "t.tar"), "-C", src, "."])
    def prep(): shutil.rmtree(out, ignore_errors=True); os.makedirs(out)
    return prep, ["tar", "-xf", os.path.join(work, "t.tar"), "-C", out]

def w_gcc():
    c = os.path.join(work, "hello.c")
    open(c, "w").write("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\nint main(void){puts(\"hi\");return 0;}\n")
    return (lambda: None), ["gcc", "-c", c, "-o", os.path.join(work, "hello.o")]

def w_open(kind):
    f = os.path.join(work, "open.txt"); open(f, "w").close()
    return (lambda: None), [os.path.join(BIN, "openbench"), kind, "100000", f]

def w_server():
    # One port and one directory for the whole bench: the server's command line is the same every run.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    os.environ["ROPROF_BENCH_PORT"] = str(port)
    os.environ["ROPROF_BENCH_WWW"] = os.path.join(work, "www")
    return (lambda: None), [PY, os.path.join(ROOT, "bench/server_workload.py"), "2000"]

ONLY = os.environ.get("ROPROF_BENCH_ONLY")  # a comma-separated subset of workloads, for a quick look
WORKLOADS = [("python-import", w_python), ("tar-x-200", w_tar), ("gcc-c", w_gcc),
             ("open-ro-100k", lambda: w_open("ro")), ("open-create-100k", lambda: w_open("create")),
             ("http-2000-req", w_server)]

# ---- tools: prefix builders ---------------------------------------------------------------------
def rec(mode, backend="ptrace"):
    return lambda name: [ROPROF, "record", "--quiet", "--backend", backend, "--mode", mode, "-o", os.path.join(work, f"{name}.{mode}.{backend}.json"), "--"]
def check(name, backend="ptrace"):
    return [ROPROF, "check", "--quiet", "--backend", backend, "--allow-app-failure", "--baseline", os.path.join(work, f"{name}.baseline.yaml"), "--"]
TOOLS = [("native", lambda n: []), ("roprof writes", rec("writes")), ("roprof full", rec("full")), ("roprof check", check),
         ("ebpf writes", rec("writes", "ebpf")), ("ebpf full", rec("full", "ebpf")), ("ebpf check", lambda n: check(n, "ebpf")),
         # What CI gets by default: auto picks by the costs the runs above measured on this machine.
         ("auto check", lambda n: check(n, "auto")),
         ("strace -f", lambda n: ["strace", "-f", "-qq", "-o", "/dev/null"]),
         ("strace %file", lambda n: ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=%file", "-o", "/dev/null"]),
         ("mintrace (C floor)", lambda n: [os.path.join(BIN, "mintrace")])]

def timed(cmd, env=None):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t, r.returncode

def peak_rss_kib(cmd):
    """Peak RSS of one command, in a fresh process: RUSAGE_CHILDREN's maxrss is a maximum over every
    child ever waited for."""
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode in (0, 1) else -1)")
    return int(subprocess.run([sys.executable, "-c", probe] + cmd, capture_output=True, text=True).stdout.strip())

def distinct_paths_memory(n):
    """Peak RSS of each command on recordings of n distinct written paths (1,000 a directory), against
    the recording's size: memory must follow the distinct paths with a small constant."""
    recs = []
    for side in ("a", "b"):
        d = os.path.join(work, f"distinct-{side}"); os.makedirs(d)
        out = os.path.join(work, f"distinct-{side}.json")
        kib = peak_rss_kib([ROPROF, "record", "--quiet", "--backend", "ptrace", "-o", out, "--", os.path.join(BIN, "openbench"), "distinct", str(n), d])
        recs.append((out, kib))
        shutil.rmtree(d, ignore_errors=True)
        print(f"distinct paths: recorded {side}", file=sys.stderr)
    a, b = recs[0][0], recs[1][0]
    size = os.path.getsize(a)
    rows = [("record", recs[0][1]),
            ("report", peak_rss_kib([ROPROF, "report", a])),
            ("suggest --format kubernetes", peak_rss_kib([ROPROF, "suggest", "--format", "kubernetes", a])),
            ("diff (two such)", peak_rss_kib([ROPROF, "diff", a, b])),
            ("merge (two such)", peak_rss_kib([ROPROF, "merge", "-o", os.path.join(work, "distinct-merged.json"), a, b]))]
    return size, rows

def distinct_lines(n, size, rows):
    out = ["", f"Memory on {n:,} distinct written paths (1,000 a directory; one recording {size / 2**20:.1f} MiB, "
                f"two for diff and merge): peak RSS, and as a multiple of one recording's size (target ≤ 2×; record ≤ 400 MiB):", "",
           "| command | peak RSS (MiB) | / recording size |", "|---|---|---|"]
    for name, kib in rows:
        out.append(f"| {name} | {kib / 1024:.0f} | {kib * 1024 / size:.2f} |" if kib >= 0 else f"| {name} | failed | |")
    return out

DISTINCT = int(os.environ.get("ROPROF_BENCH_DISTINCT", "300000"))
if "--memory-only" in sys.argv:  # the distinct-paths section alone, printed (not written to the docs)
    print("\n".join(distinct_lines(DISTINCT, *distinct_paths_memory(DISTINCT))))
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0)

results = {}
for wname, make in [w for w in WORKLOADS if not ONLY or w[0] in ONLY.split(",")]:
    prep, cmd = make()
    if wname == "http-2000-req":
        # The server workload wraps the server command itself: pass the tool prefix through ROPROF_BENCH_PREFIX.
        pass
    prep(); sh(check(wname)[:-1] + ["--update", "--"] + cmd, env=dict(os.environ, ROPROF_BENCH_PREFIX=""))  # make the baseline
    times = {t: [] for t, _ in TOOLS}
    for r in range(rounds):
        for tname, pre in TOOLS:
            prep()
            if wname == "http-2000-req":
                env = dict(os.environ, ROPROF_BENCH_PREFIX=json.dumps(pre(wname)))
                dt, rc = timed(cmd, env=env)
            else:
                dt, rc = timed(pre(wname) + cmd)
            times[tname].append(dt)
        print(f"{wname}: round {r + 1}/{rounds}", file=sys.stderr)
    results[wname] = {t: statistics.median(v) for t, v in times.items()}
    print(f"RESULT {wname}: " + ", ".join(f"{t}={results[wname][t]:.3f}s" for t in results[wname]), file=sys.stderr, flush=True)

# ---- memory and size on one million file events -------------------------------------------------
f = os.path.join(work, "million.txt"); open(f, "w").close()
out = os.path.join(work, "million.json")
peak_kib = peak_rss_kib([ROPROF, "record", "--quiet", "--mode", "writes", "-o", out, "--", os.path.join(BIN, "openbench"), "create", "1000000", f])
rec_size = os.path.getsize(out)
distinct = distinct_paths_memory(DISTINCT) if DISTINCT > 0 else None  # ROPROF_BENCH_DISTINCT=0 skips it
startup = statistics.median([timed([ROPROF, "--version"])[0] for _ in range(20)])

# ---- a live server's throughput while recorded with --attach --------------------------------------
def attach_throughput():
    import re, socket, signal
    root = tempfile.mkdtemp(prefix="roprof-bench-www-"); open(os.path.join(root, "index.html"), "w").write("<h1>hello</h1>\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    server = subprocess.Popen([PY, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", root],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(300):
        try: socket.create_connection(("127.0.0.1", port), timeout=1).close(); break
        except OSError: time.sleep(0.02)
    def load():
        out = subprocess.run(["wrk", "-t1", "-c4", "-d3s", f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
        m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
        return float(m.group(1)) if m else 0.0
    rates = {"untraced": [], "ebpf": [], "ptrace": [], "floor": []}
    floor_obj = os.path.join(BIN, "floor.bpf.o")
    for r in range(rounds):
        for mode in rates:
            if mode == "untraced":
                rates[mode].append(load()); continue
            if mode == "floor":  # two empty programs on the syscall tracepoints, nothing else
                loader = subprocess.Popen([os.path.join(BIN, "floorload"), floor_obj], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                if loader.stdout.readline().strip() != "attached":
                    loader.wait(); rates[mode].append(0.0); continue
                rates[mode].append(load())
                loader.terminate(); loader.wait(timeout=30)
                continue
            rec = subprocess.Popen([ROPROF, "record", "--quiet", "--backend", mode, "--attach", str(server.pid), "-o", os.path.join(work, f"attach.{mode}.json")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # attached (ptrace seizes every thread; eBPF loads its probe)
            rates[mode].append(load())
            rec.send_signal(signal.SIGINT); rec.wait(timeout=60)
        print(f"attach: round {r + 1}/{rounds}", file=sys.stderr)
    os.killpg(server.pid, signal.SIGTERM); server.wait(timeout=30)
    shutil.rmtree(root, ignore_errors=True)
    return {k: statistics.median(v) for k, v in rates.items()}
attach = attach_throughput() if shutil.which("wrk") else {"untraced": 1, "ebpf": 0, "ptrace": 0, "floor": 0}

# ---- the fixed cost of a run: nothing to trace -----------------------------------------------------
fixed = {}
for label, pre in [("native", []), ("ptrace", [ROPROF, "record", "--quiet", "--backend", "ptrace", "-o", os.path.join(work, "t.json"), "--"]),
                   ("ebpf", [ROPROF, "record", "--quiet", "--backend", "ebpf", "-o", os.path.join(work, "t.json"), "--"])]:
    fixed[label] = statistics.median([timed(pre + ["true"])[0] for _ in range(15)])

# ---- report -------------------------------------------------------------------------------------
names = [t for t, _ in TOOLS]
lines = [f"Machine: {os.cpu_count()} cores, Linux {platform.release()}, {rounds} alternating rounds, medians in seconds.", "",
         "| workload | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
for w, r in results.items():
    lines.append(f"| {w} | " + " | ".join(f"{r[t]:.3f}" for t in names) + " |")
lines += ["", "Ratios (lower is better):", "",
          "| workload | writes / native | check / native | writes / strace %file | full / strace -f | writes / C floor |", "|---|---|---|---|---|---|"]
for w, r in results.items():
    lines.append(f"| {w} | {r['roprof writes'] / r['native']:.2f} | {r['roprof check'] / r['native']:.2f} | "
                 f"{r['roprof writes'] / r['strace %file']:.2f} | {r['roprof full'] / r['strace -f']:.2f} | {r['roprof writes'] / r['mintrace (C floor)']:.2f} |")
lines += ["", "eBPF backend (nothing stopped), ratios to native and to ptrace (lower is better):", "",
          "| workload | ebpf writes / native | ebpf check / native | ebpf full / native | ebpf full / strace -f | ebpf writes / ptrace writes |", "|---|---|---|---|---|---|"]
for w, r in results.items():
    lines.append(f"| {w} | {r['ebpf writes'] / r['native']:.2f} | {r['ebpf check'] / r['native']:.2f} | {r['ebpf full'] / r['native']:.2f} | "
                 f"{r['ebpf full'] / r['strace -f']:.2f} | {r['ebpf writes'] / r['roprof writes']:.2f} |")
lines += ["", "`check` with `--backend auto` (the default), which picks by the costs earlier runs measured here, against native and against the faster explicit backend:", "",
          "| workload | auto check / native | auto / min(ptrace check, ebpf check) |", "|---|---|---|"]
for w, r in results.items():
    lines.append(f"| {w} | {r['auto check'] / r['native']:.2f} | {r['auto check'] / min(r['roprof check'], r['ebpf check']):.2f} |")
lines += ["", "An HTTP server (Python's http.server) under load from wrk, untraced and while roprof records it with `--attach`, "
          "alternating, medians of requests/s; the floor is two empty eBPF programs on the syscall tracepoints (what enabling them costs every process, the load generator included):", "",
          "| untraced | --attach --backend ebpf | ebpf / untraced | floor / untraced | --attach --backend ptrace | ptrace / untraced |",
          "|---|---|---|---|---|---|",
          f"| {attach['untraced']:.0f} | {attach['ebpf']:.0f} | {attach['ebpf'] / attach['untraced']:.2f} | {attach['floor'] / attach['untraced']:.2f} | {attach['ptrace']:.0f} | {attach['ptrace'] / attach['untraced']:.2f} |"]
fixed_lines = ["", "The fixed cost of one run (`record -- true`, median of 15, ms): " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in fixed.items())]
# The binary as shipped in images (docs/kubernetes.md): the static build, stripped.
stripped = os.path.join(work, "roprof-stripped")
if shutil.which("strip") and subprocess.run(["strip", "-o", stripped, ROPROF]).returncode == 0:
    size = os.path.getsize(stripped)
    fixed_lines += ["", f"The static binary, stripped (`strip -o roprof .build-static/release/roprof`): {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB); as built {os.path.getsize(ROPROF) / 1e6:.1f} MB."]
lines += fixed_lines
lines += ["", f"Peak RSS over roprof and the app, one million file events (--mode writes): {peak_kib / 1024:.1f} MiB; recording: {rec_size} bytes.",
          f"`roprof --version` start-up: {startup * 1000:.1f} ms (median of 20)."]
if distinct: lines += distinct_lines(DISTINCT, *distinct)
table = "\n".join(lines) + "\n"
print(table)
if "--write" in sys.argv:
    doc = os.path.join(ROOT, "docs/performance.md")
    head = open(doc).read().split("<!-- table -->")[0] if os.path.exists(doc) else "# Performance\n\n"
    open(doc, "w").write(head + "<!-- table -->\n" + table)
shutil.rmtree(work, ignore_errors=True)
