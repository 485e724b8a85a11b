#!/bin/sh
# hap-reload benchmark: time from starting hap-reload to the first request
# served by a newly added server, through the runtime API and through a
# reload, with 100 backends in the configuration; the same measured for the
# raw mechanisms (runtime "add server" over the socket, "kill -USR2") as a
# baseline; the process count after 100 reloads.  Prints figures; never
# fails on time.  N runs per figure (default 30): N=100 sh bench/hap-bench.sh
set -eu
cd "$(dirname "$0")/.."
REPO=$(pwd)
HR=${HAP_RELOAD:-$REPO/bin/hap-reload}
[ -x "$HR" ] || { echo "hap-bench: build first (make)" >&2; exit 111; }
T=$(mktemp -d "${TMPDIR:-/tmp}/hap-bench.XXXXXX")
cleanup() {
	if [ -f "$T/hap.pid" ]; then kill "$(cat "$T/hap.pid")" 2>/dev/null || true; fi
	if [ -f "$T/be.pid" ]; then kill "$(cat "$T/be.pid")" 2>/dev/null || true; fi
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
python3 - "$T" "$HR" "$REPO" "${N:-30}" <<'PY'
import os, socket, subprocess, sys, time, http.client, statistics

T, HR, REPO, N = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

OLD, NEW, FE = free_port(), free_port(), free_port()
be = subprocess.Popen(["python3", REPO + "/tests/hap/backend.py", "old:%d" % OLD, "new:%d" % NEW])
open(T + "/be.pid", "w").write(str(be.pid))

def cfg(server, extra=""):
    out = ["global", "\tstats socket %s/admin.sock mode 600 level admin" % T,
           "\thard-stop-after 5s", "",
           "defaults", "\tmode http", "\ttimeout connect 2s",
           "\ttimeout client 10s", "\ttimeout server 10s",
           "\toption http-server-close", "",
           "frontend fe", "\tbind 127.0.0.1:%d" % FE]
    for i in range(1, 100):
        out.append("\tuse_backend be%d if { path_beg /be%d/ }" % (i, i))
    out += ["\tdefault_backend be0", ""]
    if extra:
        out.insert(3, "\t" + extra)
    for i in range(100):
        out.append("backend be%d" % i)
        if i:
            out.append("\tserver old 127.0.0.1:%d" % OLD)
        elif server:
            out.append("\tserver new 127.0.0.1:%d" % NEW)
        out.append("")
    return "\n".join(out)

def write(path, text):
    with open(path, "w") as f: f.write(text)

CFG, MS, RS = T + "/haproxy.cfg", T + "/master.sock", T + "/admin.sock"
write(CFG, cfg(False))
hap = subprocess.Popen(["haproxy", "-W", "-db", "-f", CFG, "-S", MS, "-p", T + "/pid"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
open(T + "/hap.pid", "w").write(str(hap.pid))

def get():
    try:
        c = http.client.HTTPConnection("127.0.0.1", FE, timeout=2)
        c.request("GET", "/"); r = c.getresponse(); b = r.read(); c.close()
        return b.decode().strip() if r.status == 200 else str(r.status)
    except Exception as e:
        return repr(e)

def until_new(t0, limit=10.0):
    while get() != "new":
        if time.monotonic() - t0 > limit:
            return None
    return (time.monotonic() - t0) * 1000

def sock(path, cmd):
    s = socket.socket(socket.AF_UNIX); s.connect(path); s.sendall(cmd.encode() + b"\n")
    s.shutdown(socket.SHUT_WR); out = b""
    while True:
        d = s.recv(65536)
        if not d: break
        out += d
    s.close(); return out.decode()

deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    if os.path.exists(RS) and get() == "503": break
    time.sleep(0.02)

def hr(text, env=None):
    write(T + "/new.cfg", text)
    r = subprocess.run([HR, "-f", CFG, "-S", MS, "-s", RS, T + "/new.cfg"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if r.returncode:
        print("hap-bench: hap-reload failed:", r.stdout, r.stderr, file=sys.stderr)
    return r.stdout.strip()

def timed(text, ok, env=None):
    """Start hap-reload on text and poll until the new server answers, while
    it runs: (ms to the first request it serves, ms until hap-reload exits).
    The first figure is None when the line does not start with ok."""
    write(T + "/new.cfg", text)
    t0 = time.monotonic()
    p = subprocess.Popen([HR, "-f", CFG, "-S", MS, "-s", RS, T + "/new.cfg"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = until_new(t0)
    out, err = p.communicate()
    done = (time.monotonic() - t0) * 1000
    if p.returncode:
        print("hap-bench: hap-reload failed:", out, err, file=sys.stderr)
    return (first if out.startswith(ok) else None), done

def report(name, xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        print("%-34s no successful run" % name); return
    xs.sort()
    p = lambda q: xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]
    print("%-34s n=%-3d p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms" % (name, len(xs), p(0.5), p(0.99), xs[-1]), flush=True)

results = {}
print("hap-reload benchmark: 100 backends, haproxy %s, N=%d" %
      (subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split()[2], N))
print("time from start to first request served by the added server:", flush=True)
# Baseline 1: the runtime API by hand, no tool: add, make ready, first hit.
xs = []
for i in range(N):
    t0 = time.monotonic()
    sock(RS, "add server be0/new 127.0.0.1:%d" % NEW)
    sock(RS, "set server be0/new state ready")
    xs.append(until_new(t0))
    sock(RS, "set server be0/new state maint"); sock(RS, "del server be0/new")
results["baseline: raw runtime add server"] = xs
report("baseline: raw runtime add server", xs)

# hap-reload, runtime path: the server goes live while haproxy -c checks
# the file beside it; hap-reload exits once the check is done.
xs, ys = [], []
for i in range(N):
    first, done = timed(cfg(True), "runtime")
    xs.append(first)
    ys.append(done)
    hr(cfg(False))
results["hap-reload runtime path"] = xs
results["  the same, until hap-reload exits"] = ys
report("hap-reload runtime path", xs)
report("  the same, until hap-reload exits", ys)

# For the breakdown: haproxy -c alone on the 100-backend file, and the
# runtime path with validation stubbed out (HAPROXY=true).
xs = []
write(T + "/check.cfg", cfg(True))
for i in range(N):
    t0 = time.monotonic()
    subprocess.run(["haproxy", "-c", "-f", T + "/check.cfg"], stdout=subprocess.DEVNULL)
    xs.append((time.monotonic() - t0) * 1000)
results["baseline: haproxy -c alone"] = xs
report("baseline: haproxy -c alone", xs)
xs = []
stub = dict(os.environ, HAPROXY="true")
for i in range(N):
    xs.append(timed(cfg(True), "runtime", stub)[0])
    hr(cfg(False), stub)
results["runtime path, haproxy -c stubbed"] = xs
report("runtime path, haproxy -c stubbed", xs)

# Baseline 2: kill -USR2 by hand with the file already in place.  Each
# signal waits until the master has finished the previous reload: one that
# arrives while it re-executes itself is lost.
def reloads():
    while True:
        try:
            for l in sock(MS, "show proc").splitlines():
                f = l.split()
                if len(f) > 2 and f[1] == "master":
                    return int(f[2])
        except OSError:
            pass
        time.sleep(0.005)

def usr2(text):
    write(CFG, text)
    n = reloads()
    t0 = time.monotonic()
    os.kill(hap.pid, 12)
    return t0, n

xs = []
for i in range(N):
    t0, n = usr2(cfg(True))
    xs.append(until_new(t0))
    while reloads() <= n: time.sleep(0.005)
    t0, n = usr2(cfg(False))
    while reloads() <= n: time.sleep(0.005)
    while get() == "new": time.sleep(0.005)
results["baseline: raw kill -USR2 reload"] = xs
report("baseline: raw kill -USR2 reload", xs)

# hap-reload, reload path (a non-server line changes as well).
xs = []
for i in range(N):
    xs.append(timed(cfg(True, "tune.bufsize %d" % (16384 + 2 * i)), "reloaded")[0])
    hr(cfg(False, "tune.bufsize %d" % (16384 + 2 * i + 1)))
results["hap-reload reload path"] = xs

print("summary:")
for k, v in results.items():
    report(k, v)

# Process count after 100 reloads through hap-reload, connections idle.
for i in range(100):
    hr(cfg(i % 2 == 0, "tune.bufsize %d" % (20000 + i)))
def procs():
    n = 1
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = open("/proc/%s/stat" % p).read()
                if int(st.rsplit(")", 1)[1].split()[1]) == hap.pid: n += 1
            except Exception: pass
    return n
now = procs(); time.sleep(1); later = procs()
print("haproxy processes after 100 reloads: %d right away, %d after 1 s (master + workers)" % (now, later))
hap.terminate(); hap.wait(); be.terminate()
PY
