#!/usr/bin/env python3
"""Load NSVC x NINST keys /services/svcNNNN/upstream/iN (values of about
100 bytes) into etcd at URL with /v3/kv/txn batches of 128 puts.

usage: etcd-load.py URL NSVC NINST
"""
import base64, http.client, json, sys, urllib.parse

url, nsvc, ninst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)

def b64(s):
    return base64.b64encode(s.encode()).decode()

def txn(ops):
    body = json.dumps({"success": ops}).encode()
    conn.request("POST", "/v3/kv/txn", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    d = r.read()
    if r.status != 200:
        sys.exit("txn: HTTP %d: %s" % (r.status, d[:200]))

ops = []
for s in range(nsvc):
    for i in range(ninst):
        k = "/services/svc%04d/upstream/i%d" % (s, i)
        v = ("10.%d.%d.%d:8080 " % (s // 256 % 256, s % 256, i)).ljust(100, "x")
        ops.append({"request_put": {"key": b64(k), "value": b64(v)}})
        if len(ops) == 128:
            txn(ops)
            ops = []
if ops:
    txn(ops)
