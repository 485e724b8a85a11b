#!/usr/bin/env python3
"""converged.py RUNTIME_SOCKET PREFIX: do haproxy's running servers equal
what etcd holds?

The oracle of the fault suite.  etcd is read with etcdctl (another
implementation than ours, through the ETCDCTL_* variables of the caller);
haproxy through its runtime API ("show servers state").  Every upstream
key PREFIX/<svc>/upstream/<inst> = "host:port [options]" must be running
as server <inst> of backend <svc> at that address and port, and nothing
else may run in a backend of a service.  A service added since the last
reload runs in a spare backend (easy-lb-spare-N): which one, haproxy's
configuration beside the socket says ("# easy-lb: serves <svc>" under the
spare's header, hap-reload(1)).  Exit 0 when both agree, 1 with
the difference on stderr, 2 when either side cannot be read."""
import base64
import json
import os
import socket
import subprocess
import sys

sock, prefix = sys.argv[1], sys.argv[2].rstrip("/")


def etcd_view():
    r = subprocess.run(["etcdctl", "get", "--prefix", prefix + "/", "-w", "json"],
                       capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        sys.exit("converged: etcdctl: %s" % r.stderr.strip() or r.returncode)
    want = set()
    for kv in json.loads(r.stdout).get("kvs", []):
        key = base64.b64decode(kv["key"]).decode()
        value = base64.b64decode(kv.get("value", "")).decode()
        parts = key[len(prefix) + 1:].split("/")
        if len(parts) != 3 or parts[1] != "upstream" or not value:
            continue
        host, _, port = value.split()[0].rpartition(":")
        want.add((parts[0], parts[2], host.strip("[]"), int(port)))
    return want


def spares():
    """{spare backend: the service it serves}, from the configuration
    beside the socket (none when it cannot be read)."""
    out, be = {}, None
    try:
        with open(os.path.join(os.path.dirname(sock), "haproxy.cfg")) as f:
            for line in f:
                w = line.split()
                if len(w) >= 2 and w[0] == "backend":
                    be = w[1]
                elif w[:3] == ["#", "easy-lb:", "serves"] and len(w) == 4 and be:
                    out[be] = w[3]
    except OSError:
        pass
    return out


def haproxy_view():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    try:
        s.connect(sock)
        s.sendall(b"show servers state\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except OSError as e:
        sys.exit("converged: %s: %s" % (sock, e))
    finally:
        s.close()
    lines = data.decode().splitlines()
    head = next((l[2:].split() for l in lines if l.startswith("# be_id")), None)
    if head is None:
        sys.exit("converged: %s: no 'show servers state' header in %r"
                 % (sock, data[:200]))
    f = {n: i for i, n in enumerate(head)}
    bound = spares()
    have = set()
    for l in lines:
        w = l.split()
        if not w or l.startswith("#") or len(w) < len(head):
            continue
        be = bound.get(w[f["be_name"]], w[f["be_name"]])
        if be.startswith("easy-lb-"):
            continue
        have.add((be, w[f["srv_name"]], w[f["srv_addr"]], int(w[f["srv_port"]])))
    return have


try:
    want, have = etcd_view(), haproxy_view()
except SystemExit as e:
    print(e, file=sys.stderr)
    sys.exit(2)
if want == have:
    sys.exit(0)
for t in sorted(want - have):
    print("converged: in etcd, not running: %s/%s %s:%d" % t, file=sys.stderr)
for t in sorted(have - want):
    print("converged: running, not in etcd: %s/%s %s:%d" % t, file=sys.stderr)
sys.exit(1)
