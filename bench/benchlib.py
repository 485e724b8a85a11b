"""benchlib.py: what the Python drivers of the balancer benchmarks
(lb-scenarios.py, route-scenarios.py) share: their messages, free ports,
the processes they start (each pid listed in TMP/pids, which the calling
script's cleanup stops: bench/lib.sh's bench_lb_tmp), base64 for etcd's
JSON gateway and the descriptor limit haproxy wants.  init(NAME, TMP)
first."""
import base64
import os
import resource
import signal
import socket
import subprocess
import sys

_name, _pids = "bench", None


def init(name, tmp):
    """Messages say NAME; the pids of spawn go to TMP/pids."""
    global _name, _pids
    _name, _pids = name, os.path.join(tmp, "pids")


def say(*a):
    print(_name + ":", *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    with open(_pids, "a") as f:
        f.write("%d\n" % p.pid)
    return p


def stop(p, sig=signal.SIGTERM, limit=20):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(limit)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def raise_nofile():
    """As easy-lb.service does (LimitNOFILE): haproxy wants a descriptor
    per health-checked server, 100,240 at 10,000 services x 10.  Only root
    can raise the hard limit; others keep theirs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 1048576
    try:
        with open("/proc/sys/fs/nr_open") as f:
            want = min(want, int(f.read()))
    except (OSError, ValueError):
        pass
    if os.geteuid() == 0 and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        except (OSError, ValueError) as e:
            say("RLIMIT_NOFILE stays %d: %s" % (hard, e))
