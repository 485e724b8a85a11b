#!/bin/sh
# Print the flat JSON object that "etcd-get -p /services" would print for
# SERVICES services of UPSTREAMS upstreams each, keys sorted:
#   /services/<svc>/location, /services/<svc>/balance,
#   /services/<svc>/upstream/<inst> = "10.x.y.z:port".
# usage: bench/gen-data.sh SERVICES UPSTREAMS
set -eu
[ $# -eq 2 ] || { echo "usage: bench/gen-data.sh SERVICES UPSTREAMS" >&2; exit 100; }
exec python3 - "$1" "$2" <<'PY'
import json, sys
ns, nu = int(sys.argv[1]), int(sys.argv[2])
d = {}
for s in range(ns):
    svc = "svc%05d" % s
    p = "/services/" + svc
    d[p + "/location"] = "/" + svc
    d[p + "/balance"] = "roundrobin" if s % 2 else "leastconn"
    for u in range(nu):
        d[p + "/upstream/inst%02d" % u] = "10.%d.%d.%d:%d" % (
            s // 65536 % 256, s // 256 % 256, s % 256, 8000 + u)
json.dump(d, sys.stdout, sort_keys=True, separators=(",", ":"))
sys.stdout.write("\n")
PY
