#!/usr/bin/env python3
"""follow-driver.py: feed tmpl --follow a snapshot of SERVICES services x
UPSTREAMS upstreams (and one backend option each), then CHANGES changes,
each one batch closed by a progress record, and report the CPU time of
each render from tmpl --timings.  Each change waits for the render of the
one before (its revision line), or, with --gap MS, is sent that long after
it, as etcd-watch would send them.

  --mode upstream   each change puts a new upstream of one service (the
                    runtime path of the balancer), cycling over services
  --mode modify     each change gives an existing upstream a new address:
                    as many keys at the end as at the start
  --mode location   each change gives a service a new location (its route)
  --mode service    each change adds a new service of one upstream
  --mode churn      a repeatable mix: upstreams put and deleted, whole
                    services added and removed, hosts, locations and backend
                    options changed, bad values put and fixed, now and
                    then the whole state again (a resync record)

Prints one line per render: "rev cpu_ms wall_ms", then with --rss the
VmRSS and VmHWM of tmpl at the end, in kB (with --rss-every K, also after
the snapshot and every K changes).  With --check, each render is
compared with a one-shot render of the same state (tmpl -d): OUT byte for
byte (the last good one when the render fails), and the warnings tmpl
--follow printed with those the one-shot render gave that the one before
it did not, and its error; a difference ends the run with status 1.
usage: follow-driver.py [--mode M] [--gap MS] [--rss] [--rss-every K] [--check] TMPL
       TEMPLATE OUT SERVICES UPSTREAMS CHANGES"""
import json
import random
import re
import subprocess
import sys
import time

args = sys.argv[1:]
mode, gap, rss, check, every = "upstream", 0, False, False, 0
while args and args[0].startswith("--"):
    a = args.pop(0)
    if a == "--mode":
        mode = args.pop(0)
    elif a == "--gap":
        gap = int(args.pop(0))
    elif a == "--rss":
        rss = True
    elif a == "--rss-every":
        every = int(args.pop(0))
    elif a == "--check":
        check = True
    else:
        sys.exit("follow-driver: unknown option " + a)
tmpl, template, out = args[0], args[1], args[2]
ns, nu, nchanges = int(args[3]), int(args[4]), int(args[5])
P = "/services"


def snapshot():
    d = {}
    for s in range(ns):
        p = "%s/svc%05d" % (P, s)
        d[p + "/backend/balance"] = "roundrobin"
        for u in range(nu):
            d[p + "/upstream/i%02d" % u] = "10.%d.%d.%d:%d" % (
                s // 65536 % 256, s // 256 % 256, s % 256, 8000 + u)
    return d


state = snapshot()
rnd = random.Random(13)


def churn(i):
    """One batch of changes: a list of (key, value or None)."""
    svc = "%s/svc%05d" % (P, rnd.randrange(ns + ns // 10 + 2))
    r = rnd.random()
    if r < 0.35:
        return [(svc + "/upstream/n%d" % rnd.randrange(5),
                 "10.9.%d.%d:%d" % (i % 250, rnd.randrange(250), 1000 + rnd.randrange(9000)))]
    if r < 0.55:
        ks = [k for k in (svc + "/upstream/n%d" % j for j in range(5)) if k in state]
        ks += [k for k in (svc + "/upstream/i%02d" % j for j in range(nu)) if k in state][:1]
        return [(k, None) for k in ks[:2]] or [(svc + "/upstream/n0", "10.1.1.1:80")]
    if r < 0.62:  # a whole service goes
        return [(k, None) for k in list(state) if k.startswith(svc + "/")] or \
            [(svc + "/upstream/a", "10.2.2.2:80")]
    if r < 0.70:  # a whole service comes
        return [(svc + "/upstream/i%02d" % u, "10.3.%d.%d:80" % (u, i % 250)) for u in range(3)]
    if r < 0.75:  # hosts, conflicts and bad names included
        return [(svc + "/host", rnd.choice(["a.example.com", "*.example.com", "B.example.com, a.example.com",
                                            "*.b.example.com", "bad host!", ",", None]))]
    if r < 0.80:  # locations, conflicts included
        return [(svc + "/location", rnd.choice(["/", "/a", "/b", "/api", None, svc[len(P):],
                                                "bad path", "/x y"]))]
    if r < 0.88:
        return [(svc + "/backend/" + rnd.choice(["balance", "option", "timeout", "retries"]),
                 rnd.choice(["source", "leastconn", "bogus", "forwardfor", "server 5s", "3",
                             "101", None]))]
    if r < 0.955:  # bad values, then fixed
        return [(svc + "/upstream/bad", rnd.choice(["nope", "1.2.3.4:99999", "1.2.3.4:80 weight 999",
                                                   "1.2.3.4:80\nserver x", "1.2.3.4:80 weight 10",
                                                   None]))]
    if r < 0.99:
        return [("%s/bad name%d/upstream/a" % (P, rnd.randrange(3)), rnd.choice(["1.1.1.1:1", None]))]
    return "resync"  # the whole state again, as after a compaction


p = subprocess.Popen([tmpl, "--follow", "--timings", "-o", out, template],
                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                     stderr=subprocess.PIPE, text=True, bufsize=1)
TIM = re.compile(r"timings: revision (\d+) rendered in (\d+) ms \(CPU ([0-9.]+) ms\)")
rev = 1


warned = []  # what tmpl --follow printed since the last render


def wait_render():
    """The CPU and wall time of the next render, from stderr."""
    del warned[:]
    while True:
        line = p.stderr.readline()
        if not line:
            sys.exit("follow-driver: tmpl ended")
        m = TIM.search(line)
        if m:
            return int(m.group(1)), float(m.group(3)), int(m.group(2))
        if check:
            warned.append(line)
        else:
            sys.stderr.write(line)


last_warns = []
last_good = None


def compare():
    """OUT and the messages just printed against a one-shot render: a
    render that fails leaves OUT as it was and says so."""
    global last_warns, last_good
    with open(out + ".state", "w") as f:
        json.dump(state, f, separators=(",", ":"))
    r = subprocess.run([tmpl, "-d", out + ".state", template],
                       capture_output=True, text=True)
    lines = [l + "\n" for l in r.stderr.splitlines()]
    want = [l for l in lines if l.startswith("tmpl: warning: ")]
    errs = [l[:-1] + " (revision %d); %s left as it was\n" % (rev, out)
            for l in lines if not l.startswith("tmpl: warning: ")]
    new = [l for l in want if l not in last_warns] + errs
    last_warns = want
    got = open(out).read()
    if r.returncode == 0:
        last_good = r.stdout
    ok = (r.returncode in (0, 1) and got == last_good and warned == new
          and (r.returncode == 0) == (errs == []))
    if not ok:
        sys.stderr.write("follow-driver: revision %d differs from a one-shot render"
                         " (exit %d)\n" % (rev, r.returncode))
        if warned != new:
            sys.stderr.write("  printed: %r\n  expected: %r\n" % (warned, new))
        with open(out + ".want", "w") as f:
            f.write(r.stdout)
        sys.exit(1)


def memory(label="end"):
    st = open("/proc/%d/status" % p.pid).read()
    get = lambda k: re.search(k + r":\s+(\d+)", st).group(1)
    print("rss_kb %s hwm_kb %s after %s" % (get("VmRSS"), get("VmHWM"), label), flush=True)


def send(lines):
    p.stdin.write("".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines))
    p.stdin.flush()


send([{"type": "resync", "revision": rev, "kvs": state}])
r = wait_render()
if check:
    compare()
print("%d %.2f %d snapshot" % r, flush=True)
if every:
    memory("snapshot")
for i in range(nchanges):
    rev += 1
    if mode == "upstream":
        s = i % ns
        ch = [("%s/svc%05d/upstream/x%d" % (P, s, i), "10.200.%d.%d:%d" % (i // 250 % 250, i % 250, 9000))]
    elif mode == "modify":
        s = i % ns
        ch = [("%s/svc%05d/upstream/i%02d" % (P, s, i // ns % nu), "10.201.%d.%d:%d" % (i // 250 % 250, i % 250, 1000 + i % 60000))]
    elif mode == "location":
        ch = [("%s/svc%05d/location" % (P, i % ns), "/moved%d" % i)]
    elif mode == "service":
        ch = [("%s/new%05d/upstream/a" % (P, i), "10.202.%d.%d:80" % (i // 250 % 250, i % 250))]
    else:
        ch = churn(i)
    recs = []
    if ch == "resync":
        recs.append({"type": "resync", "revision": rev, "kvs": state})
        ch = []
    for k, v in ch:
        if v is None:
            state.pop(k, None)
            recs.append({"type": "delete", "key": k, "revision": rev})
        else:
            state[k] = v
            recs.append({"type": "put", "key": k, "value": v, "revision": rev})
    recs.append({"type": "progress", "revision": rev})
    if gap:
        time.sleep(gap / 1000)
    send(recs)
    r = wait_render()
    if check:
        compare()
    print("%d %.2f %d" % r, flush=True)
    if every and (i + 1) % every == 0:
        memory("%d changes" % (i + 1))
if rss:
    memory()
p.stdin.close()
p.wait()
