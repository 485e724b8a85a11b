#!/usr/bin/env python3
"""End-to-end benchmarks of the balancer (issue 6), driven by lb-bench.sh.

usage: lb-scenarios.py TMPDIR ETCD_URL OUTDIR

TMPDIR is the caller's temp dir: every process started here writes its pid
to TMPDIR/pids, so that the caller's trap can stop it whatever happens.
Everything runs on 127.0.0.1.  Results go to OUTDIR as tab-separated
files: summary.tsv (the table), conv.tsv, render.tsv (plot data).  Figures
are reported, never enforced: the exit status is 0 unless setup fails.

Knobs (environment): SCALES (services, default "10 100 1000 10000"),
NCONV (samples per convergence figure, default 30; 5 at 10,000 services),
DEBOUNCE_MS (default 50), CHURN_SECS (20), IDLE_SECS (60), RENDER_RUNS (3).
"""
import http.client, json, os, re, resource, signal, socket, statistics
import shutil, subprocess, sys, threading, time, urllib.parse

import benchlib
from benchlib import b64, free_port, raise_nofile, say, spawn, stop

TMP, ETCD, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
benchlib.init("lb-bench", TMP)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, "bin")
SHARE = os.path.join(REPO, "share", "easy-lb")
SCALES = [int(x) for x in os.environ.get("SCALES", "10 100 1000 10000").split()]
NCONV = int(os.environ.get("NCONV", "30"))
DEBOUNCE = int(os.environ.get("DEBOUNCE_MS", "50"))
CHURN_SECS = float(os.environ.get("CHURN_SECS", "20"))
IDLE_SECS = float(os.environ.get("IDLE_SECS", "60"))
RENDER_RUNS = int(os.environ.get("RENDER_RUNS", "3"))
NINST = 10
os.environ["PATH"] = BIN + ":" + os.environ["PATH"]
os.environ["ETCDCTL_ENDPOINTS"] = ETCD  # for etcd-get, etcd-watch


# --- etcd over its JSON gateway, one persistent connection -------------
U = urllib.parse.urlsplit(ETCD)


class Etcd:
    def __init__(self):
        self.c = None

    def call(self, path, body):
        for attempt in range(3):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(U.hostname, U.port, timeout=30)
                    self.c.connect()
                    self.c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.c.request("POST", path, json.dumps(body).encode(),
                               {"Content-Type": "application/json"})
                r = self.c.getresponse()
                d = r.read()
                if r.status != 200:
                    raise RuntimeError("%s: HTTP %d: %s" % (path, r.status, d[:200]))
                return json.loads(d)
            except (OSError, http.client.HTTPException):
                self.c = None
                if attempt == 2:
                    raise

    def put(self, k, v):
        r = self.call("/v3/kv/put", {"key": b64(k), "value": b64(v)})
        return int(r["header"]["revision"])

    def delete(self, k, prefix=False):
        body = {"key": b64(k)}
        if prefix:
            body["range_end"] = b64(k[:-1] + chr(ord(k[-1]) + 1))
        r = self.call("/v3/kv/deleterange", body)
        return int(r["header"]["revision"])

    def txn(self, ops):
        r = self.call("/v3/kv/txn", {"success": ops})
        return int(r["header"]["revision"])


etcd = Etcd()


def load(first, last, old_port):
    """Services svcNNNNN for first <= N < last: NINST upstreams and one
    backend option each (11 keys).  Every upstream points to the "old"
    backend, health-checked once an hour so that 100,000 servers do not
    flood loopback with checks.  svc00000's upstreams have weight 0: the
    server added by the runtime-path test then takes every request."""
    ops, rev = [], 0
    for s in range(first, last):
        d = "/services/svc%05d" % s
        w = " weight 0" if s == 0 else ""
        for i in range(NINST):
            ops.append({"request_put": {"key": b64("%s/upstream/i%d" % (d, i)),
                                        "value": b64("127.0.0.1:%d inter 1h%s" % (old_port, w))}})
        ops.append({"request_put": {"key": b64(d + "/backend/balance"),
                                    "value": b64("roundrobin")}})
        if len(ops) + NINST + 1 > 128:  # etcd's --max-txn-ops default
            rev = etcd.txn(ops)
            ops = []
    if ops:
        rev = etcd.txn(ops)
    return rev


# --- HTTP through haproxy: a new connection per request ----------------
def get(port, path, timeout=2):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", path)
        r = c.getresponse()
        b = r.read()
        c.close()
        return r.status, b.decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return 0, repr(e)


def until(port, path, want, t0, limit):
    """ms from t0 until GET path answers with a body starting with want.

    The requests go one after the other on one keep-alive connection
    (opened again when haproxy closes it, as an old worker does after a
    reload): 0.15-0.25 ms a request, against 0.4 ms for a connection a
    request.  A new server takes one request in n+1 (roundrobin over the n
    servers before it), so the probe's own rate is part of what it
    measures; it is kept as fast as a sequential client can be."""
    c = None
    try:
        while True:
            st, body = 0, ""
            for _ in range(2):  # (once more on a connection closed meanwhile)
                try:
                    if c is None:
                        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    c.request("GET", path)
                    r = c.getresponse()
                    st, body = r.status, r.read().decode(errors="replace")
                    if r.will_close:
                        c.close()
                        c = None
                    break
                except (OSError, http.client.HTTPException):
                    if c is not None:
                        c.close()
                    c = None
            if st == 200 and body.startswith(want + " "):
                return (time.monotonic() - t0) * 1000
            if time.monotonic() - t0 > limit:
                return None
    finally:
        if c is not None:
            c.close()


# --- the balancer, its log timestamped line by line --------------------
class Balancer:
    def __init__(self, port):
        self.port = port
        self.run = os.environ.get("LB_BENCH_RUN") or os.path.join(TMP, "run")
        self.lines = []  # (monotonic time, line)
        self.lock = threading.Lock()
        env = dict(os.environ, EASY_LB_RUN=self.run, LB_PORT=str(port),
                   LB_BIND="127.0.0.1", DEBOUNCE_MS=str(DEBOUNCE),
                   ETCD_PREFIX="/services", HARD_STOP_AFTER="10s")
        self.log = open(os.path.join(TMP, "lb.log"), "a")
        self.p = spawn([os.path.join(SHARE, "boot.sh")], env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, start_new_session=True)
        self.t = threading.Thread(target=self.reader, daemon=True)
        self.t.start()

    def reader(self):
        for raw in self.p.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            now = time.monotonic()
            with self.lock:
                self.lines.append((now, line))
            self.log.write("%.3f %s\n" % (now, line))
            self.log.flush()

    def applied(self):
        """[(time, revision, outcome)] of every "revision N: ..." line."""
        out = []
        with self.lock:
            for t, l in self.lines:
                m = re.match(r"easy-lb: revision (\d+): (.*)", l)
                if m:
                    out.append((t, int(m.group(1)), m.group(2)))
        return out

    def wait_rev(self, rev, limit):
        """Wait until a revision >= rev has been applied (or failed)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if any(r >= rev for _, r, _ in self.applied()):
                return True
            time.sleep(0.01)
        return False

    def stop(self):
        # boot.sh is a session leader: TERM it, then make sure nothing of
        # its group (haproxy workers of a reload) outlives it.
        stop(self.p)
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except OSError:
            pass
        self.t.join(5)
        self.log.close()


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


SUMMARY = []


def row(measure, value, spread="", floor="", ratio="", goal="", verdict=""):
    SUMMARY.append([measure, value, spread, floor, ratio, goal, verdict])
    print("%-60s %10s %16s %10s %7s  %s %s" % (measure, value, spread, floor,
                                             ratio, goal, verdict), flush=True)


def verdict(v, limit):
    if v is None:
        return "n/a"
    return "met" if v <= limit else "MISSED"


def f(x, nd=1):
    return "-" if x is None else ("%.*f" % (nd, x))


def floor_latency(n):
    """etcdctl watch, put -> event, p50/p99 in ms over n puts."""
    r = subprocess.run([sys.executable, os.path.join(REPO, "bench", "etcd-latency.py"),
                        ETCD, str(n), "2", "/floor/", "--", "3", "etcdctl",
                        "--endpoints=" + ETCD, "watch", "--prefix", "/floor/"],
                       capture_output=True, text=True, timeout=120,
                       env={k: v for k, v in os.environ.items() if k != "ETCDCTL_ENDPOINTS"})
    etcd.delete("/floor/", prefix=True)
    try:
        p50, p99 = r.stdout.split()[:2]
        return float(p50), float(p99)
    except ValueError:
        say("floor measurement failed:", r.stderr[-300:])
        return None, None


def outcome(o):
    """The first word of what hap-reload said: runtime, reloaded,
    unchanged, or hap-reload (failed)."""
    return o.split(" ")[0].rstrip(":")


def applied_by(lb, revs, start=0):
    """{outcome: changes} for the changes made at revisions revs: each is
    applied by the first apply whose revision is at least its own (a batch
    applies every change up to its revision).  Lines of an apply cut short
    and run again are skipped; "none" counts a change no apply was seen
    for.  start: the index in lb.applied() to look from."""
    lines = [(r, outcome(o)) for _, r, o in lb.applied()[start:]
             if not o.endswith("applying again")]
    out = {}
    for rev in revs:
        k = next((o for r, o in lines if r >= rev), "none")
        out[k] = out.get(k, 0) + 1
    return out


def by_reload(counts):
    """"N of M": of M changes, N applied by a reload."""
    return "%d of %d" % (counts.get("reloaded", 0), sum(counts.values()))


# --- haproxy's runtime API, the balancer's own socket ------------------
def runtime_api(lb, cmd):
    """One command on EASY_LB_RUN/haproxy.sock, its answer (or why not)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    out = b""
    try:
        s.connect(os.path.join(lb.run, "haproxy.sock"))
        s.sendall(cmd.encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError as e:
        return "(%s)" % e
    finally:
        s.close()
    return out.decode(errors="replace").strip()


def runtime_floor(lb, i, new_port, limit):
    """The floor of the runtime path: the server that the etcd path adds
    to svc00000, added instead straight through haproxy's runtime API
    ("add server", then "set server ... state ready", as hap-reload does);
    ms from sending them to the first request the same probe sees it
    serve.  The server is then removed again (maintenance, sessions shut,
    "del server" until its connections are gone), so that the running
    haproxy agrees with its file before etcd's next change."""
    srv = "svc00000/rtfloor%d" % i
    t0 = time.monotonic()
    a = runtime_api(lb, "add server %s 127.0.0.1:%d" % (srv, new_port))
    b = runtime_api(lb, "set server %s state ready" % srv)
    ms = None
    if "New server registered" in a and not b:
        ms = until(lb.port, "/svc00000/", "new", t0, limit)
    else:
        say("runtime floor: add server %s: %s / %s" % (srv, a, b))
    runtime_api(lb, "set server %s state maint" % srv)
    runtime_api(lb, "shutdown sessions server %s" % srv)
    end = time.monotonic() + 5
    while True:
        r = runtime_api(lb, "del server %s" % srv)
        if "Server deleted" in r or "connections" not in r or time.monotonic() > end:
            break
        time.sleep(0.005)
    if "Server deleted" not in r and "New server registered" in a:
        say("runtime floor: del server %s: %s" % (srv, r))
    return ms


def convergence(lb, nsvc, n, new_port, conv):
    """(a) a new upstream of svc00000; (b) a new service; (c) a new
    location of svc00001 (svc00000 when alone; its servers answer "old");
    (d) (a) with a service added at run time kept meanwhile.  Each sample: put,
    poll until the new server (or location) answers, delete, wait until
    the delete is applied.  After each sample of (a),
    one of its floor: the same server added through haproxy's runtime
    API (runtime_floor).  Each put and delete is counted by how it was
    applied (applied_by)."""
    limit = 60.0 if nsvc >= 10000 else 20.0
    res = {"floor": []}
    # (svc00000 alone weighs 0: no location of it answers)
    kinds = ("runtime", "reload", "location")[:3 if nsvc > 1 else 2] + ("bound",)
    for kind in kinds:
        xs, outcomes = [], {}
        adds, dels = [], []
        if kind == "bound":
            # (d) (a) again, once a service added at run time stays: the
            # installed file binds a spare from then on, as in a balancer
            # that keeps the services it is given
            lb.wait_rev(etcd.put("/services/kept/upstream/k", "127.0.0.1:%d" % new_port), limit)
        start = len(lb.applied())
        for i in range(n):
            value, want = "127.0.0.1:%d" % new_port, "new"
            if kind in ("runtime", "bound"):
                key, path = "/services/svc00000/upstream/new%d" % i, "/svc00000/"
            elif kind == "reload":
                key, path = "/services/new%d/upstream/n" % i, "/new%d/" % i
            else:
                key = "/services/svc%05d/location" % min(1, nsvc - 1)
                path = "/moved%d/" % i
                value, want = "/moved%d" % i, "old"
            # (a change after a quiet spell, as the goals mean it: one
            # that comes within DEBOUNCE_MS of the last render waits the
            # debounce out by design, which row 5, the burst, measures;
            # the location samples follow each other with no delete
            # between, and at 100 services came that close)
            time.sleep(DEBOUNCE / 1000.0 + 0.02)
            t0 = time.monotonic()
            rev = etcd.put(key, value)
            adds.append(rev)
            ms = until(lb.port, path, want, t0, limit)
            lb.wait_rev(rev, limit)
            for _, r, o in lb.applied():
                if r == rev:
                    k = outcome(o)
                    outcomes[k] = outcomes.get(k, 0) + 1
            if ms is not None:
                xs.append(ms)
                conv.write("%d\t%s\t%.2f\n" % (nsvc, kind, ms))
            rev = etcd.delete(key)
            dels.append(rev)
            lb.wait_rev(rev, limit)
            if kind == "runtime":
                ms = runtime_floor(lb, i, new_port, limit)
                if ms is not None:
                    res["floor"].append(ms)
                    conv.write("%d\truntime-floor\t%.2f\n" % (nsvc, ms))
        if kind == "bound":
            lb.wait_rev(etcd.delete("/services/kept/upstream/k"), limit)
        res[kind] = (xs, outcomes)
        res[kind + " applies"] = (applied_by(lb, adds, start), applied_by(lb, dels, start))
        say("%d services, %s path: %d/%d samples, outcomes %s" % (nsvc, kind, len(xs), n, outcomes))
    say("%d services, runtime API floor: %d/%d samples" % (nsvc, len(res["floor"]), n))
    return res


def render_cost(nsvc, runs, rtsv):
    """etcd-get -p | tmpl with the shipped template, as env.sh's render()
    runs it (through a file).  Median wall time and the peak RSS of each."""
    data = os.path.join(TMP, "render.json")
    out = os.path.join(TMP, "render.cfg")
    env = dict(os.environ, EASY_LB_RUN=os.path.join(TMP, "run"), LB_PORT="1",
               LB_BIND="127.0.0.1")
    walls, gets, tmpls, rss_g, rss_t = [], [], [], [], []
    for _ in range(runs):
        t0 = time.monotonic()
        with open(data, "wb") as fo:
            p = subprocess.Popen(["etcd-get", "-p", "/services/"], stdout=fo, env=env)
            _, st, ru = os.wait4(p.pid, 0)
        t1 = time.monotonic()
        p = subprocess.Popen(["tmpl", "-d", data, "-o", out,
                              os.path.join(SHARE, "haproxy.cfg.tmpl")],
                             env=env, stderr=subprocess.DEVNULL)
        _, st2, ru2 = os.wait4(p.pid, 0)
        t2 = time.monotonic()
        if st or st2:
            say("render failed at", nsvc, "services")
            return None
        walls.append(t2 - t0)
        gets.append(t1 - t0)
        tmpls.append(t2 - t1)
        rss_g.append(ru.ru_maxrss / 1024)
        rss_t.append(ru2.ru_maxrss / 1024)
    keys = len(json.load(open(data)))
    w = statistics.median(walls)
    r = (keys, w, min(walls), max(walls), statistics.median(gets),
         statistics.median(tmpls), max(rss_g), max(rss_t))
    rtsv.write("%d\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.1f\t%.1f\n" % ((nsvc,) + r))
    rtsv.flush()
    return r


def descendants(root):
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % p).read()
            ppid = int(st.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(p))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def proc_info(pid):
    """(RSS kB, context switches, CPU s, name, PSS kB, private kB)"""
    st = open("/proc/%d/status" % pid).read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", st).group(1))
    # RSS counts every library page touched (libcurl's 30 dependencies,
    # libc) although other processes share them; PSS divides shared pages
    # among their users and "private" is what this process alone holds.
    roll = open("/proc/%d/smaps_rollup" % pid).read()
    pss = int(re.search(r"^Pss:\s+(\d+)", roll, re.M).group(1))
    priv = sum(int(x) for x in re.findall(r"^Private_(?:Clean|Dirty):\s+(\d+)", roll, re.M))
    vcs = int(re.search(r"voluntary_ctxt_switches:\s+(\d+)", st).group(1))
    nvcs = int(re.search(r"nonvoluntary_ctxt_switches:\s+(\d+)", st).group(1))
    stat = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    name = open("/proc/%d/cmdline" % pid).read().split("\0")
    name = " ".join(os.path.basename(a) for a in name[:2] if a)
    return rss, vcs + nvcs, cpu, name, pss, priv


def footprint(lb):
    """RSS, PSS and private memory of boot.sh, watcher.sh, etcd-watch and
    tmpl (not haproxy), three samples, and CPU time and wake-ups over
    IDLE_SECS, idle."""
    def easylb():
        ps = {}
        for pid in descendants(lb.p.pid):
            try:
                if open("/proc/%d/comm" % pid).read().strip() == "haproxy":
                    continue
                ps[pid] = proc_info(pid)
            except (OSError, AttributeError):
                pass
        return ps
    time.sleep(2)
    a = easylb()
    rss = [sum(v[0] for v in a.values())]
    pss = [sum(v[4] for v in a.values())]
    priv = [sum(v[5] for v in a.values())]
    for _ in range(2):
        time.sleep(IDLE_SECS / 2)
        now = easylb()
        rss.append(sum(v[0] for v in now.values()))
        pss.append(sum(v[4] for v in now.values()))
        priv.append(sum(v[5] for v in now.values()))
    b = easylb()
    per = []
    wake = cpu = 0
    for pid, v in a.items():
        if pid in b:
            dw, dc = b[pid][1] - v[1], b[pid][2] - v[2]
            wake += dw
            cpu += dc
            per.append("%s %d kB (PSS %d, private %d), %d wake-ups" % (
                v[3], b[pid][0], b[pid][4], b[pid][5], dw))
    return rss, wake, cpu, per, sorted(a) == sorted(b), pss, priv


def status_cost(lb, n=50):
    """easy-lb status (issue 20): the median and worst wall time of n runs
    of `easy-lb-status`, and of `--json`, on this balancer, and the state
    it says (exit status 0 healthy)."""
    out = {}
    for args in ([], ["--json"]):
        ts, codes = [], set()
        for _ in range(n):
            t0 = time.monotonic()
            r = subprocess.run([os.path.join(BIN, "easy-lb-status"), "-d", lb.run] + args,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ts.append((time.monotonic() - t0) * 1000)
            codes.add(r.returncode)
        out[" ".join(args) or "text"] = (statistics.median(ts), max(ts), sorted(codes))
    return out


def churn(lb, new_port):
    """wrk on a service that stays while services and upstreams come and
    go; bounded in changes and time."""
    wrk_out = os.path.join(TMP, "wrk.out")
    secs = int(CHURN_SECS)
    nlines = len(lb.applied())
    with open(wrk_out, "w") as fo:
        w = spawn(["wrk", "-t2", "-c8", "-d%ds" % secs, "--latency",
                   "http://127.0.0.1:%d/svc00001/" % lb.port], stdout=fo,
                  stderr=subprocess.STDOUT)
    time.sleep(1)
    end = time.monotonic() + secs - 3
    changes, i = 0, 0
    revs = {"service": [], "upstream": []}
    while time.monotonic() < end and changes < 400:
        # a service comes, an upstream of a staying service comes, the
        # service goes, the upstream goes
        step = i % 4
        if step == 0:
            rev = etcd.put("/services/churn%d/upstream/c" % (i % 10), "127.0.0.1:%d" % new_port)
        elif step == 1:
            rev = etcd.put("/services/svc00001/upstream/churn", "127.0.0.1:%d" % new_port)
        elif step == 2:
            rev = etcd.delete("/services/churn%d/" % ((i - 2) % 10), prefix=True)
        else:
            rev = etcd.delete("/services/svc00001/upstream/churn")
        revs["upstream" if step % 2 else "service"].append(rev)
        changes += 1
        i += 1
        time.sleep(0.3)
    try:
        w.wait(secs + 30)
    except subprocess.TimeoutExpired:
        stop(w)
    rev = etcd.delete("/services/churn", prefix=True)
    lb.wait_rev(rev, 30)
    txt = open(wrk_out).read()
    m = re.search(r"(\d+) requests in", txt)
    reqs = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", txt)
    non2xx = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", txt)
    sock = sum(int(x) for x in m.groups()) if m else 0
    sockd = m.group(0) if m else "Socket errors: none"
    m = re.search(r"Requests/sec:\s+([\d.]+)", txt)
    rps = float(m.group(1)) if m else 0
    m = re.search(r"99%\s+(\S+)", txt)
    p99 = m.group(1) if m else "-"
    applied = lb.applied()[nlines:]
    runtime = sum(1 for _, _, o in applied if o.startswith("runtime"))
    reloads = sum(1 for _, _, o in applied if o.startswith("reloaded"))
    other = len(applied) - runtime - reloads
    by = {k: applied_by(lb, v, nlines) for k, v in revs.items()}
    return changes, reqs, non2xx, sock, sockd, rps, p99, runtime, reloads, other, by


def burst(lb, nsvc, new_port, bound_ms):
    """1,000 puts paced over one second on 4 connections: 999 upstreams of
    20 new services, then the last put adds the service that only the new
    backend serves.  Counts applies (renders) and reloads from the log."""
    nlines = len(lb.applied())
    conns = [Etcd() for _ in range(4)]
    t0 = time.monotonic()

    def worker(k):
        for j in range(k, 999, 4):
            delay = t0 + j / 1000.0 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            conns[k].put("/services/burst%d/upstream/u%d" % (j % 20, j),
                         "127.0.0.1:%d inter 1h" % new_port)
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    tlast = time.monotonic()
    rev = etcd.put("/services/burstlast/upstream/u", "127.0.0.1:%d" % new_port)
    live = until(lb.port, "/burstlast/", "new", tlast, 120)
    lb.wait_rev(rev, 120)
    time.sleep(DEBOUNCE / 1000 + 0.5)
    applied = lb.applied()[nlines:]
    renders = len(applied)
    reloads = sum(1 for _, _, o in applied if o.startswith("reloaded"))
    spent = tlast - t0
    rev = etcd.delete("/services/burst", prefix=True)
    lb.wait_rev(rev, 120)
    return spent, renders, reloads, live


def boot(nsvc):
    """Start the balancer; (Balancer, "") once it serves (svc00001, or
    anything at all when svc00000, whose servers weigh 0, is alone), else
    (None, why)."""
    lb = Balancer(free_port())
    t = time.monotonic()
    end = t + 120
    why = ""
    while (get(lb.port, "/svc00001/")[0] != 200 if nsvc > 1
           else get(lb.port, "/svc00000/")[0] == 0):
        # (haproxy's alert that the hard limit of descriptors is below what
        # its checks could want is not fatal: MAXCONN's "no strict-limits")
        alerts = [l for _, l in list(lb.lines) if ("[ALERT]" in l or "invalid" in l)
                  and "FD limit" not in l]
        if lb.p.poll() is not None or alerts or time.monotonic() > end:
            # (an ALERT at start: haproxy is gone, whether or not boot.sh
            # noticed; see the notes in results.md)
            why = alerts[0].split(": ", 1)[-1].strip() if alerts else (
                "boot.sh exited %s" % lb.p.returncode if lb.p.poll() is not None
                else "not serving after 120 s")
            lb.stop()
            say("balancer did not start:", why)
            return None, why
        time.sleep(0.05)
    say("balancer serving after %.1f s" % (time.monotonic() - t))
    return lb, ""


def trim(nsvc):
    """Delete upstreams i1.. of every service: one upstream each."""
    ops = []
    for s in range(nsvc):
        for i in range(1, NINST):
            ops.append({"request_delete_range": {
                "key": b64("/services/svc%05d/upstream/i%d" % (s, i))}})
            if len(ops) == 128:
                etcd.txn(ops)
                ops = []
    if ops:
        etcd.txn(ops)


def applies_row(label, nsvc, label_n, adds, dels):
    """How the puts and deletes of a convergence measure were applied:
    by reload, N of M (goal: none)."""
    n = adds.get("reloaded", 0) + dels.get("reloaded", 0)
    row("%s, %d svc%s: applied by reload: %d of %d (adds %s, removes %s)" % (
        label.split(" (")[0], nsvc, label_n, n, sum(adds.values()) + sum(dels.values()),
        by_reload(adds), by_reload(dels)), str(n), "", "", "", "0", "met" if n == 0 else "MISSED")


def main():
    os.makedirs(OUT, exist_ok=True)
    raise_nofile()
    old_port, new_port = free_port(), free_port()
    for name, port in (("old", old_port), ("new", new_port)):
        spawn([sys.executable, os.path.join(SHARE, "demo-backend.py"), name, str(port)],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for port in (old_port, new_port):
        end = time.monotonic() + 10
        while get(port, "/")[0] != 200 and time.monotonic() < end:
            time.sleep(0.05)
    conv = open(os.path.join(OUT, "conv.tsv"), "w")
    conv.write("services\tpath\tms\n")
    rtsv = open(os.path.join(OUT, "render.tsv"), "w")
    rtsv.write("services\tkeys\twall_s\tmin_s\tmax_s\tget_s\ttmpl_s\tget_rss_mb\ttmpl_rss_mb\n")
    csum = open(os.path.join(OUT, "conv-summary.tsv"), "w")
    csum.write("services\tpath\tn\tp10_ms\tp50_ms\tp90_ms\tp99_ms\tfloor_p50_ms\trt_floor_p50_ms\n")
    fl = open(os.path.join(OUT, "floor.tsv"), "w")
    fl.write("services\tp50_ms\tp99_ms\n")
    loaded = 0
    lb = None
    conv_b_p50 = {}
    try:
        for nsvc in SCALES:
            # The balancer is restarted per scale, so that a bulk load is not
            # replayed revision by revision (see lb-bench.sh's notes).
            if lb:
                lb.stop()
                lb = None
            t = time.monotonic()
            load(loaded, nsvc, old_port)
            loaded = max(loaded, nsvc)
            say("%d services loaded (%d keys) in %.1f s" % (nsvc, nsvc * (NINST + 1), time.monotonic() - t))
            r = render_cost(nsvc, RENDER_RUNS if nsvc < 10000 else 2, rtsv)
            if r:
                keys, w, wmin, wmax, g, tm, rg, rt = r
                row("3. render %d keys (%d svc), s" % (keys, nsvc), f(w, 3),
                    "%s-%s" % (f(wmin, 3), f(wmax, 3)), "", "",
                    "%.1f us/key; get %.2f s %.0f MB, tmpl %.2f s %.0f MB" % (w * 1e6 / keys, g, rg, tm, rt))
            lb, why = boot(nsvc)
            if lb is None:
                # haproxy wants a descriptor per health-checked server; where
                # the hard RLIMIT_NOFILE is lower, keep one upstream a service
                # (the other keys stay for the render figures above).
                row("boot, %d svc x %d upstreams" % (nsvc, NINST), "failed", "", "", "",
                    why, "MISSED")
                trim(nsvc)
                lb, why = boot(nsvc)
                if lb is None:
                    raise RuntimeError("the balancer does not start: " + why)
                row("boot, %d svc x 1 upstream (after trimming)" % nsvc, "ok", "", "", "",
                    "RLIMIT_NOFILE %d" % resource.getrlimit(resource.RLIMIT_NOFILE)[1], "")
                nup = 1
            else:
                nup = NINST
            label_n = "" if nup == NINST else " x1"
            # let the initial revision line settle
            lb.wait_rev(0, 120)
            p50f, p99f = floor_latency(100 if nsvc < 10000 else 50)
            fl.write("%d\t%s\t%s\n" % (nsvc, f(p50f, 3), f(p99f, 3)))
            fl.flush()
            n = NCONV if nsvc < 10000 else max(3, NCONV // 6)
            res = convergence(lb, nsvc, n, new_port, conv)
            conv.flush()
            rf50 = pct(res["floor"], 0.5) if res["floor"] else None
            for kind, label in (("runtime", "1a. new upstream (runtime path)"),
                                ("reload", "1b. new service"),
                                ("location", "1c. new location of a service"),
                                ("bound", "1d. new upstream, a service added at run time kept")):
                if kind not in res:
                    continue
                xs, outc = res[kind]
                adds, dels = res[kind + " applies"]
                if not xs:
                    row("%s, %d svc" % (label, nsvc), "no sample")
                    applies_row(label, nsvc, label_n, adds, dels)
                    continue
                p50, p99 = pct(xs, 0.5), pct(xs, 0.99)
                csum.write("%d\t%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\n" % (
                    nsvc, kind, len(xs), pct(xs, 0.1), p50, pct(xs, 0.9), p99, f(p50f, 3),
                    f(rf50, 3)))
                csum.flush()
                spread = "p10-p90 %s-%s" % (f(pct(xs, 0.1)), f(pct(xs, 0.9)))
                oc = ", ".join("%s %d" % kv for kv in sorted(outc.items()))
                if kind == "reload":
                    conv_b_p50[nsvc] = p50
                g50 = g99 = ""
                v50 = v99 = ""
                if kind == "runtime" and nsvc in (10, 1000):
                    g50, v50 = "p50 <= 10 ms", verdict(p50, 10)
                    g99, v99 = "p99 <= 50 ms", verdict(p99, 50)
                if kind in ("reload", "location") and nsvc >= 100:
                    # (issue 19: no reload, routes through the map)
                    g50, v50 = "p50 <= 20 ms", verdict(p50, 20)
                elif nsvc == 10000:
                    g50, v50 = "<= 3000 ms", verdict(p50, 3000)
                    g99, v99 = "<= 3000 ms", verdict(p99, 3000)
                if kind == "bound":
                    g50, v50 = "p50 <= floor + 5 ms", verdict(p50, rf50 + 5) if rf50 else "n/a"
                    g99 = v99 = ""
                if nsvc == 10000 and kind == "runtime":
                    # (issue 13's goal for the runtime path at this size)
                    g50, v50 = "<= 20 ms", verdict(p50, 20)
                row("%s p50, %d svc%s, ms (n=%d; %s)" % (label, nsvc, label_n, len(xs), oc), f(p50),
                    spread, f(p50f, 2), f(p50 / p50f if p50f else None, 0), g50, v50)
                row("%s p99, %d svc%s, ms" % (label, nsvc, label_n), f(p99),
                    "max %s" % f(max(xs)), f(p99f, 2), f(p99 / p99f if p99f else None, 0), g99, v99)
                if kind == "runtime":
                    # The floor of this path: the same client seeing the same
                    # server added straight through haproxy's runtime API.
                    rf = res["floor"]
                    if rf:
                        row("1a. floor (runtime API): add server + state ready -> first request"
                            " p50, %d svc%s, ms (n=%d)" % (nsvc, label_n, len(rf)), f(rf50),
                            "p10-p90 %s-%s" % (f(pct(rf, 0.1)), f(pct(rf, 0.9))), "", "", "", "")
                    row("1a. new upstream put -> traffic p50 against the runtime API floor, %d svc%s, ms"
                        % (nsvc, label_n), f(p50), "", f(rf50, 2),
                        f(p50 / rf50 if rf50 else None, 1), "p50 <= floor + 5 ms",
                        verdict(p50, rf50 + 5) if rf50 is not None else "n/a")
                applies_row(label, nsvc, label_n, adds, dels)
            if (nsvc == 100 or (nsvc == max(SCALES) and 100 not in SCALES)) \
                    and not shutil.which("wrk"):
                row("2. churn: not measured: wrk is not installed (not packaged for this release?)",
                    "-", "", "", "", "0", "")
            elif nsvc == 100 or (nsvc == max(SCALES) and 100 not in SCALES):
                c = churn(lb, new_port)
                changes, reqs, non2xx, sock, sockd, rps, p99, rt, rl, other, by = c
                row("2. churn %d svc: failed requests of %d (%d changes)" % (nsvc, reqs, changes),
                    str(non2xx), "", "", "", "0", "met" if non2xx == 0 else "MISSED")
                row("2. churn: socket errors (%s)" % sockd, str(sock), "", "", "", "0",
                    "met" if sock == 0 else "MISSED")
                row("2. churn: applies: runtime / reloads / other", "%d/%d/%d" % (rt, rl, other),
                    "", "", "", "%.0f req/s, p99 %s" % (rps, p99), "")
                for k, what in (("service", "service adds/removes"),
                                ("upstream", "upstream adds/removes")):
                    row("2. churn: %s applied by reload: %s (%s)" % (
                        what, by_reload(by[k]), ", ".join("%s %d" % kv for kv in sorted(by[k].items()))),
                        str(by[k].get("reloaded", 0)), "", "", "", "0",
                        "met" if not by[k].get("reloaded") else "MISSED")
            if nsvc == 1000 or (nsvc == max(SCALES) and 1000 not in SCALES):
                for how, (med, worst, codes) in status_cost(lb).items():
                    row("6. easy-lb status (%s), %d svc, ms (exit %s)" % (
                        how, nsvc, ",".join(map(str, codes))), f(med, 2),
                        "max %s" % f(worst, 2), "", "", "<= 10 ms", verdict(med, 10))
                rss, wake, cpu, per, same, pss, priv = footprint(lb)
                scale = 60.0 / IDLE_SECS
                row("4. footprint %d svc: RSS of easy-lb processes, MB" % nsvc,
                    f(statistics.median(rss) / 1024, 2),
                    "%s-%s" % (f(min(rss) / 1024, 2), f(max(rss) / 1024, 2)), "", "",
                    "<= 8 MB", verdict(statistics.median(rss) / 1024, 8))
                row("4. footprint: PSS (shared pages divided among users), MB",
                    f(statistics.median(pss) / 1024, 2), "", "", "", "", "")
                row("4. footprint: private memory (what they alone hold), MB",
                    f(statistics.median(priv) / 1024, 2), "", "", "", "", "")
                # (the figures before the status work, at 1,000 services)
                row("4. idle CPU, ms per minute (%.0f s measured x %.0f)" % (IDLE_SECS, scale),
                    f(cpu * 1000 * scale, 0), "", "", "", "<= 30 ms",
                    verdict(cpu * 1000 * scale, 30))
                row("4. idle wake-ups per minute (ctxt switches)", f(wake * scale, 0), "", "", "",
                    "<= 24", verdict(wake * scale, 24))
                row("4. processes: " + "; ".join(per), "", "", "", "", "", "")
                bound = conv_b_p50.get(nsvc)
                spent, renders, reloads, live = burst(lb, nsvc, new_port, bound)
                row("5. burst, %d svc: 1,000 puts in %.2f s: applies (renders)" % (nsvc, spent),
                    str(renders), "", "", "", "a handful (<= 5)", verdict(renders, 5))
                row("5. burst: reloads", str(reloads), "", "", "", "", "")
                row("5. burst: last put -> final state live, ms", f(live),
                    "", f(bound), f(live / bound if live and bound else None, 1),
                    "<= one debounce + one render (1b p50 here)",
                    verdict(live, bound * 1.0) if bound else "n/a")
    finally:
        if lb:
            lb.stop()
        conv.close()
        csum.close()
        rtsv.close()
        fl.close()
        with open(os.path.join(OUT, "summary.tsv"), "w") as s:
            s.write("measure\tvalue\tspread\tfloor\tratio\tgoal\tverdict\n")
            for r in SUMMARY:
                s.write("\t".join(r) + "\n")


main()
