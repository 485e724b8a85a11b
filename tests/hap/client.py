#!/usr/bin/env python3
"""A client that keeps sending requests: client.py URL STOPFILE MAXSECONDS.
One new connection per request, until STOPFILE exists or MAXSECONDS have
passed.  Prints "ok N failed M" and the first few failures."""
import http.client
import os
import sys
import time
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
stop, limit = sys.argv[2], float(sys.argv[3])
ok = failed = 0
errors = []
end = time.monotonic() + limit
while time.monotonic() < end and not os.path.exists(stop):
    try:
        c = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
        c.request("GET", url.path or "/")
        r = c.getresponse()
        r.read()
        c.close()
        if r.status == 200:
            ok += 1
        else:
            failed += 1
            errors.append("status %d" % r.status)
    except Exception as e:
        failed += 1
        errors.append(repr(e))
print("ok %d failed %d" % (ok, failed))
for e in errors[:5]:
    print(e)
