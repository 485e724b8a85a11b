#!/usr/bin/env python3
"""Event latency, put -> line on a watcher's stdout.

usage: etcd-latency.py URL N ROUNDS PREFIX -- LINES CMD... [-- LINES CMD...]

Each CMD is a watcher of PREFIX that writes LINES lines per event.  In each
of ROUNDS rounds every watcher in turn is started as a subprocess and
measured over N/ROUNDS puts, so that drift (a busy machine, a growing
store) hits all of them alike.  Puts go one at a time through one
persistent HTTP connection to URL/v3/kv/put.  The clock starts just before
each put and stops when the watcher's output holds the event's last line;
a reader thread timestamps output as it arrives, so the time is not
inflated by waiting for the put's reply first.  Prints one line
"p50_ms p99_ms mean_ms n" per watcher, in the order given.
"""
import base64, http.client, json, os, queue, socket, statistics, subprocess
import sys, threading, time, urllib.parse

url, n, rounds, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
specs = []
for a in sys.argv[5:]:
    if a == "--":
        specs.append([])
    else:
        specs[-1].append(a)
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
conn.connect()
conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

def b64(s):
    return base64.b64encode(s.encode()).decode()

def put(k, v):
    body = json.dumps({"key": b64(k), "value": b64(v)}).encode()
    conn.request("POST", "/v3/kv/put", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("put: HTTP %d" % r.status)

def measure(per_event, cmd, count):
    """Latencies in ms of count puts seen by one fresh watcher."""
    w = subprocess.Popen(cmd, stdout=subprocess.PIPE, bufsize=0)
    q = queue.Queue()

    def reader():
        fd = w.stdout.fileno()
        while True:
            d = os.read(fd, 65536)
            t = time.perf_counter()
            if not d:
                q.put((t, -1))
                return
            q.put((t, d.count(b"\n")))

    threading.Thread(target=reader, daemon=True).start()
    lines = 0

    def wait_event(deadline):
        """Wait until one more whole event has been printed; its time."""
        nonlocal lines
        want = lines + per_event
        while lines < want:
            try:
                t, c = q.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                return None
            if c < 0:
                sys.exit("%s: watcher ended early" % cmd[0])
            lines += c
        return t

    try:
        # Ready once a put reaches it; extra lines are drained.
        for i in range(100):
            put(prefix + "warm", str(i))
            if wait_event(time.perf_counter() + 0.2) is not None:
                break
        else:
            sys.exit("%s: never reported an event" % cmd[0])
        time.sleep(0.3)
        while not q.empty():
            lines += max(0, q.get()[1])
        lines -= lines % per_event
        for i in range(10):  # warm-up, not counted
            put(prefix + "warm", "w%d" % i)
            if wait_event(time.perf_counter() + 5) is None:
                sys.exit("%s: event lost during warm-up" % cmd[0])
        lat = []
        for i in range(count):
            t0 = time.perf_counter()
            put(prefix + "k%d" % (i % 50), "value-%d" % i)
            t1 = wait_event(t0 + 5)
            if t1 is None:
                sys.exit("%s: event %d not seen within 5 s" % (cmd[0], i))
            lat.append((t1 - t0) * 1000)
        return lat
    finally:
        w.terminate()
        try:
            w.wait(5)
        except subprocess.TimeoutExpired:
            w.kill()


all_lat = [[] for _ in specs]
per_round = max(1, n // rounds)
for r in range(rounds):
    for j, spec in enumerate(specs):
        all_lat[j] += measure(int(spec[0]), spec[1:], per_round)
for lat in all_lat:
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(round(0.99 * len(lat))) - 1)]
    print("%.3f %.3f %.3f %d" % (statistics.median(lat), p99, statistics.mean(lat), len(lat)))
