#!/usr/bin/env python3
"""statuswatch.py RUN_DIR STOPFILE: every half second until STOPFILE
exists, what `easy-lb status` says of the balancer on RUN_DIR and whether
haproxy runs what etcd holds (converged.py, etcd read directly), one line
each: "TIME STATE CONVERGED REASONS", CONVERGED 1, 0, or - when it could not be
told, then the status's reasons.  tests/chaos/chaos.bash's
status_watch_stop judges the lines."""
import json
import os
import subprocess
import sys
import time

run, stop = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
while not os.path.exists(stop):
    t = time.time()
    try:
        r = subprocess.run(["easy-lb-status", "-d", run, "--json"], capture_output=True,
                           text=True, timeout=5)
        j = json.loads(r.stdout)
        state, why = j["state"], "; ".join(j["reasons"])
    except (subprocess.TimeoutExpired, ValueError, KeyError):
        state, why = "unknown", ""
    try:
        c = subprocess.run([sys.executable, os.path.join(here, "converged.py"),
                            os.path.join(run, "haproxy.sock"), "/services"],
                           capture_output=True, timeout=10).returncode
        conv = {0: "1", 1: "0"}.get(c, "-")
    except subprocess.TimeoutExpired:
        conv = "-"
    print("%.3f %s %s %s" % (t, state, conv, why), flush=True)
    time.sleep(max(0.0, 0.5 - (time.time() - t)))
