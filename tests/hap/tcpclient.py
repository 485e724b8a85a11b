#!/usr/bin/env python3
"""tcpclient.py PORT LINE [WAITFILE LINE2]: connect to 127.0.0.1:PORT,
send LINE and print the line that comes back; with WAITFILE, keep the
connection until that file exists (at most 60 s), then send LINE2 on it
and print its answer.  Exit 1 when the connection fails or closes."""
import os
import socket
import sys
import time

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rwb")


def say(line):
    f.write(line.encode() + b"\n")
    f.flush()
    r = f.readline()
    if not r:
        sys.exit(1)
    sys.stdout.write(r.decode())
    sys.stdout.flush()


say(sys.argv[2])
if len(sys.argv) > 4:
    end = time.time() + 60
    while not os.path.exists(sys.argv[3]) and time.time() < end:
        time.sleep(0.05)
    say(sys.argv[4])
