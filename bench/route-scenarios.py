#!/usr/bin/env python3
"""Requests per second through the whole balancer at any number of
services (issue 19), driven by route-bench.sh.

usage: route-scenarios.py TMPDIR ETCD_URL OUTDIR

TMPDIR is the caller's temp dir: every process started here writes its pid
to TMPDIR/pids, so that the caller's trap can stop it whatever happens.
Everything runs on 127.0.0.1.

Services are svcNNNNN, location /svcNNNNN, one upstream each, every one
the same local haproxy answering "200 ok" by itself ("check inter 1h":
checked, but once an hour).  Every location is as long as the others, so
in the balancer's rule order (the longest location first, then bytewise)
the first route is /svc00000 and the last the largest number.  At each
size the balancer is started afresh and measured once it serves the last
route: wrk on the first route, the last route and a path no route matches
(answered 503 by the balancer's easy-lb-none), each rate also as a ratio
to the first route's at the smallest size (1 service) of the same run.

Knobs (environment): ROUTE_SCALES (services, default "1 1000 10000"),
ROUTE_WRK_SECS (4), ROUTE_WRK_THREADS (2), ROUTE_WRK_CONNS (16),
ROUTE_BASELINE (1: also a haproxy alone with the largest size's routes in
one map_beg map; 0: not), DEBOUNCE_MS (50).  Results: OUTDIR/route.tsv
(every wrk run) and OUTDIR/route-summary.tsv (rows of the summary).
Figures are reported, never enforced: the exit status is 0 unless setup
fails.
"""
import http.client, json, os, re, signal, subprocess
import sys, time, urllib.parse

import benchlib
from benchlib import b64, free_port, raise_nofile, say, spawn, stop

TMP, ETCD, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
benchlib.init("route-bench", TMP)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARE = os.path.join(REPO, "share", "easy-lb")
SCALES = sorted(int(x) for x in os.environ.get("ROUTE_SCALES", "1 1000 10000").split())
SECS = int(os.environ.get("ROUTE_WRK_SECS", "4"))
THREADS = int(os.environ.get("ROUTE_WRK_THREADS", "2"))
CONNS = int(os.environ.get("ROUTE_WRK_CONNS", "16"))
BASELINE = os.environ.get("ROUTE_BASELINE", "1") not in ("", "0")
DEBOUNCE = int(os.environ.get("DEBOUNCE_MS", "50"))
GOAL = 0.8
NOROUTE = "/none/"
os.environ["PATH"] = os.path.join(REPO, "bin") + ":" + os.environ["PATH"] + ":/usr/sbin"
os.environ["ETCDCTL_ENDPOINTS"] = ETCD


def txn(conn, ops):
    conn.request("POST", "/v3/kv/txn", json.dumps({"success": ops}).encode(),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    d = r.read()
    if r.status != 200:
        raise RuntimeError("txn: HTTP %d: %s" % (r.status, d[:200]))


def load(first, last, port):
    """Services svcNNNNN for first <= N < last, two keys each, in
    transactions of 128 puts (etcd's --max-txn-ops default)."""
    u = urllib.parse.urlsplit(ETCD)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    ops = []
    for s in range(first, last):
        d = "/services/svc%05d" % s
        ops.append({"request_put": {"key": b64(d + "/location"), "value": b64("/svc%05d" % s)}})
        ops.append({"request_put": {"key": b64(d + "/upstream/u"),
                                    "value": b64("127.0.0.1:%d check inter 1h" % port)}})
        if len(ops) >= 128:
            txn(conn, ops)
            ops = []
    if ops:
        txn(conn, ops)
    conn.close()


def get(port, path):
    """(status, body) of GET path on a connection of its own."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", path)
        r = c.getresponse()
        b = r.read()
        c.close()
        return r.status, b.decode(errors="replace").strip()
    except (OSError, http.client.HTTPException) as e:
        return 0, repr(e)


def answers(got, status, body):
    return got[0] == status and (body is None or got[1] == body)


def serving(port, paths, proc, log, limit):
    """Wait until every (path, status, body) answers as said; "" then,
    else why not.  log: (file, offset) where the server's own lines
    start, or None; an ALERT there ends the wait unless it serves within
    5 s of it (haproxy alerts and goes on, past a descriptor limit)."""
    end = time.monotonic() + limit
    alert = None
    while True:
        if all(answers(get(port, p), st, b) for p, st, b in paths):
            return ""
        if proc.poll() is not None:
            return "exited %s" % proc.returncode
        if log and alert is None:
            try:
                with open(log[0], errors="replace") as fh:
                    fh.seek(log[1])
                    alert = next((l.strip() for l in fh if "[ALERT]" in l), None)
            except OSError:
                pass
            if alert:
                end = min(end, time.monotonic() + 5)
        if time.monotonic() > end:
            return alert or "not serving as expected after %d s" % limit
        time.sleep(0.1)


def backend():
    """The one upstream of every service: a haproxy answering 200 "ok"
    by itself, so that the rates are the balancer's, not a server's."""
    port = free_port()
    cfg = os.path.join(TMP, "ok.cfg")
    with open(cfg, "w") as fh:
        fh.write("global\n\tmaxconn 4096\n"
                 "defaults\n\tmode http\n\ttimeout connect 2s\n"
                 "\ttimeout client 10s\n\ttimeout server 10s\n"
                 "frontend ok\n\tbind 127.0.0.1:%d\n"
                 "\thttp-request return status 200 content-type text/plain string ok\n" % port)
    p = spawn(["haproxy", "-db", "-f", cfg], stdin=subprocess.DEVNULL,
              stdout=subprocess.DEVNULL, stderr=open(os.path.join(TMP, "ok.log"), "w"))
    why = serving(port, [("/", 200, "ok")], p, None, 10)
    if why:
        raise RuntimeError("the 200-ok haproxy: " + why)
    return port


class Balancer:
    def __init__(self):
        self.port = free_port()
        self.run = os.environ.get("LB_BENCH_RUN") or os.path.join(TMP, "run")
        env = dict(os.environ, EASY_LB_RUN=self.run, LB_PORT=str(self.port),
                   LB_BIND="127.0.0.1", DEBOUNCE_MS=str(DEBOUNCE),
                   ETCD_PREFIX="/services", HARD_STOP_AFTER="10s")
        self.logname = os.path.join(TMP, "lb.log")
        # (one log for every balancer of the run: this one's from here)
        self.logstart = os.path.getsize(self.logname) if os.path.exists(self.logname) else 0
        self.p = spawn([os.path.join(SHARE, "boot.sh")], env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=open(self.logname, "a"), start_new_session=True)

    def stop(self):
        # boot.sh is a session leader: TERM it, then make sure nothing of
        # its group (haproxy and its workers) outlives it.
        stop(self.p)
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except OSError:
            pass


def wrk(port, path):
    """(req/s, requests, non-2xx, socket errors) of one wrk run."""
    out = os.path.join(TMP, "wrk.out")
    with open(out, "w") as fo:
        p = spawn(["wrk", "-t%d" % THREADS, "-c%d" % CONNS, "-d%ds" % SECS,
                   "http://127.0.0.1:%d%s" % (port, path)],
                  stdout=fo, stderr=subprocess.STDOUT)
    try:
        p.wait(SECS + 30)
    except subprocess.TimeoutExpired:
        stop(p)
    txt = open(out).read()
    m = re.search(r"Requests/sec:\s+([\d.]+)", txt)
    rps = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", txt)
    reqs = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", txt)
    non2xx = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", txt)
    sock = sum(int(x) for x in m.groups()) if m else 0
    if rps is None:
        say("wrk on %s gave no rate: %s" % (path, txt.strip()[-300:]))
    return rps, reqs, non2xx, sock


def measure(port, nsvc):
    """wrk on the first route, the last route and no route: {what: wrk()}.
    A route must be answered 200 every time, no route 503 every time."""
    res = {}
    for what, path in (("first", "/svc00000/"), ("last", "/svc%05d/" % (nsvc - 1)),
                       ("none", NOROUTE)):
        rps, reqs, non2xx, sock = wrk(port, path)
        res[what] = (rps, reqs, non2xx, sock, path)
        want = reqs if what == "none" else 0
        if non2xx != want or sock:
            say("%d services, %s (%s): %d requests, %d not 2xx (want %d), %d socket errors"
                % (nsvc, what, path, reqs, non2xx, want, sock))
    return res


def baseline_cfg(nsvc, port, ok_port):
    """A haproxy alone with the balancer's defaults, its nsvc routes in
    one map_beg map (the longest location first, as the balancer orders
    them), each backend one server: the same 200-ok haproxy."""
    mapf = os.path.join(TMP, "routes.map")
    with open(mapf, "w") as fh:
        for s in range(nsvc):
            fh.write("/svc%05d svc%05d\n" % (s, s))
    cfg = os.path.join(TMP, "map.cfg")
    with open(cfg, "w") as fh:
        fh.write("""global
    log stdout format raw local0 info
    hard-stop-after 10s

defaults
    mode http
    log global
    option httplog
    option dontlognull
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 10s
    timeout http-request 10s
    option idle-close-on-response

frontend easy-lb
    bind 127.0.0.1:%d
    use_backend %%[path,map_beg(%s,easy-lb-none)]
    default_backend easy-lb-none

backend easy-lb-none
    http-request deny deny_status 503
""" % (port, mapf))
        for s in range(nsvc):
            fh.write("\nbackend svc%05d\n    balance roundrobin\n"
                     "    server u 127.0.0.1:%d check inter 1h\n" % (s, ok_port))
    return cfg


def fmt(x, nd=0):
    return "-" if x is None else "%.*f" % (nd, x)


def ratio(x, base):
    return None if x is None or not base else x / base


def main():
    os.makedirs(OUT, exist_ok=True)
    raise_nofile()
    ok_port = backend()
    rows = []  # (label, nsvc, {what: (rps, reqs, non2xx, sock, path)})
    loaded = 0
    lb = None
    failed = ""
    try:
        for nsvc in SCALES:
            if lb:
                lb.stop()
                lb = None
            t = time.monotonic()
            load(loaded, nsvc, ok_port)
            loaded = max(loaded, nsvc)
            say("%d services loaded in %.1f s" % (nsvc, time.monotonic() - t))
            t = time.monotonic()
            lb = Balancer()
            why = serving(lb.port, [("/svc%05d/" % (nsvc - 1), 200, "ok"),
                                    ("/svc00000/", 200, "ok"), (NOROUTE, 503, None)],
                          lb.p, (lb.logname, lb.logstart), 300)
            if why:
                failed = "the balancer at %d services: %s" % (nsvc, why)
                say(failed)
                break
            say("%d services: the balancer serves the last route after %.1f s"
                % (nsvc, time.monotonic() - t))
            rows.append(("easy-lb", nsvc, measure(lb.port, nsvc)))
        if lb:
            lb.stop()
            lb = None
        if BASELINE and SCALES:
            nsvc = SCALES[-1]
            port = free_port()
            cfg = baseline_cfg(nsvc, port, ok_port)
            p = spawn(["haproxy", "-db", "-f", cfg], stdin=subprocess.DEVNULL,
                      stdout=subprocess.DEVNULL,
                      stderr=open(os.path.join(TMP, "map.log"), "w"))
            why = serving(port, [("/svc%05d/" % (nsvc - 1), 200, "ok"), (NOROUTE, 503, None)],
                          p, None, 120)
            if why:
                say("the map_beg baseline did not start:", why)
            else:
                rows.append(("map_beg alone", nsvc, measure(port, nsvc)))
            stop(p)
    finally:
        if lb:
            lb.stop()
    report(rows)
    if failed:
        sys.exit(1)


def report(rows):
    lbrows = [r for r in rows if r[0] == "easy-lb"]
    base = lbrows[0][2]["first"][0] if lbrows else None
    bname = "%d svc first-route" % lbrows[0][1] if lbrows else "(none)"
    with open(os.path.join(OUT, "route.tsv"), "w") as fh:
        fh.write("config\tservices\troute\tpath\treq_s\trequests\tnon2xx\tsocket_errors\tratio\n")
        for label, nsvc, res in rows:
            for what in ("first", "last", "none"):
                rps, reqs, non2xx, sock, path = res[what]
                fh.write("%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n" % (
                    label, nsvc, what, path, fmt(rps, 1), reqs, non2xx, sock,
                    fmt(ratio(rps, base), 2)))
    print("easy-lb request rate by route, %s; wrk -t%d -c%d -d%ds, keep-alive;"
          " ratio to the %s rate" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                     THREADS, CONNS, SECS, bname))
    print()
    hdr = ("config", "services", "first", "last", "no route", "first x", "last x", "none x", "verdict")
    print("%-14s %8s %10s %10s %10s %8s %8s %8s  %s" % hdr)
    summ = []
    for label, nsvc, res in rows:
        r = [res[w][0] for w in ("first", "last", "none")]
        x = [ratio(v, base) for v in r]
        ok = all(v is not None and v >= GOAL for v in x)
        bad = [w for w in ("first", "last", "none")
               if res[w][3] or res[w][2] != (res[w][1] if w == "none" else 0)]
        verdict = "met" if ok else "MISSED"
        if bad:
            verdict += " (errors: %s)" % ", ".join(bad)
        if label != "easy-lb":
            verdict = "(baseline)"
        print("%-14s %8d %10s %10s %10s %8s %8s %8s  %s" % (
            label, nsvc, fmt(r[0]), fmt(r[1]), fmt(r[2]), fmt(x[0], 2), fmt(x[1], 2),
            fmt(x[2], 2), verdict), flush=True)
        what = ("10. routing, %d svc: req/s, first / last / no route" % nsvc
                if label == "easy-lb" else
                "10. routing baseline: haproxy alone, %d routes in one map_beg map: "
                "req/s, first / last / no route" % nsvc)
        summ.append([what, "%s / %s / %s" % tuple(fmt(v) for v in r), "", fmt(base),
                     "%s / %s / %s" % tuple(fmt(v, 2) for v in x),
                     "each >= %.1fx the %s rate" % (GOAL, bname) if label == "easy-lb" else "",
                     verdict if label == "easy-lb" else ""])
    with open(os.path.join(OUT, "route-summary.tsv"), "w") as fh:
        for r in summ:
            fh.write("\t".join(r) + "\n")


main()
