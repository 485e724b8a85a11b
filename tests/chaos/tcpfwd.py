#!/usr/bin/env python3
"""tcpfwd.py PORTFILE PORT HOST:PORT [NETNS]: a TCP forwarder for the fault
suite.

Listens on 127.0.0.1:PORT (0: a free port) in the caller's network
namespace and forwards each connection to HOST:PORT, reached from inside
the network namespace NETNS (/run/netns/NETNS) when one is given: that is
how the balancer, on the host's loopback, reaches an etcd member in a
namespace of its own.  Writes the port to PORTFILE once it listens.

SIGUSR1 takes the path down: every open connection is reset, and new ones
are accepted and reset at once (the port stays ours, so nobody else can
take it meanwhile); SIGUSR2 brings it back.  SIGTERM ends it."""
import ctypes
import os
import signal
import socket
import struct
import sys
import threading

portfile, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
host, _, tport = target.rpartition(":")
netns = sys.argv[4] if len(sys.argv) > 4 else None

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(128)

if netns:
    # Sockets made from now on belong to NETNS; the listener stays here.
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/" + netns, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
        e = ctypes.get_errno()
        sys.exit("tcpfwd: setns %s: %s" % (netns, os.strerror(e)))
    os.close(fd)

lock = threading.Lock()
live = set()
down = False
LINGER0 = struct.pack("ii", 1, 0)


def reset(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(c):
    try:
        u = socket.create_connection((host, int(tport)), timeout=2)
        u.settimeout(None)
    except OSError:
        reset(c)
        c.close()
        return
    with lock:
        if down:
            reset(c)
        live.update((c, u))
    t = threading.Thread(target=pump, args=(u, c), daemon=True)
    t.start()
    pump(c, u)
    t.join()
    with lock:
        live.difference_update((c, u))
    c.close()
    u.close()


def on_down(sig, frame):
    global down
    with lock:
        down = True
        for s in list(live):
            reset(s)


def on_up(sig, frame):
    global down
    down = False


signal.signal(signal.SIGUSR1, on_down)
signal.signal(signal.SIGUSR2, on_up)
signal.signal(signal.SIGTERM, lambda s, f: os._exit(0))

with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % ls.getsockname()[1])
os.rename(portfile + ".tmp", portfile)

# Python runs signal handlers in the main thread only, and a signal that
# the kernel hands to a pump thread does not interrupt accept(): look up
# every 0.1 s.
ls.settimeout(0.1)
while True:
    try:
        c, _ = ls.accept()
    except socket.timeout:
        continue
    c.settimeout(None)
    if down:
        reset(c)
        c.close()
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
