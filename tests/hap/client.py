#!/usr/bin/env python3
"""A client that keeps sending requests: client.py URL STOPFILE MAXSECONDS
[CAFILE].  One new connection per request, until STOPFILE exists or
MAXSECONDS have passed.  Prints "ok N failed M" and the first few
failures.  An https URL is asked on 127.0.0.1 with its host name as SNI
and Host, its certificate checked against CAFILE: the balancer's
certificates are for names that need no resolver."""
import http.client
import os
import socket
import ssl
import sys
import time
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
stop, limit = sys.argv[2], float(sys.argv[3])


class Loopback(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1, whatever the host name (SNI, Host) says."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def connection():
    if url.scheme != "https":
        return http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    ctx = ssl.create_default_context(cafile=sys.argv[4])
    return Loopback(url.hostname, url.port, timeout=5, context=ctx)


ok = failed = 0
errors = []
end = time.monotonic() + limit
while time.monotonic() < end and not os.path.exists(stop):
    try:
        c = connection()
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
