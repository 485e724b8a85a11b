#!/usr/bin/env python3
"""Random service sets and the requests that tell how a haproxy routes
them, for tests/routes.bats (the shipped template against the oracle,
the rule-per-service template of commit 957618c).

  routes.py gen SEED PORTS
      a random set of services, seeded by SEED, as the flat JSON object
      etcd-get -p /services/ prints: service I (0, 1, ...) has its
      upstreams on the port of line I of the file PORTS (backend.py's).
  routes.py change SEED DATA PORTS
      DATA changed, seeded by SEED, as etcd might change between two
      renders: services gone or new (upstreams on ports of PORTS no
      service has), hosts, locations and upstreams changed.
  routes.py compare SEED DATA PORTS ORACLE_PORT NEW_PORT
      sends the same random requests (seeded by SEED, made from the hosts
      and locations of DATA) to both haproxies and compares the answers
      (status and body); prints "N requests, the same answers" or each
      difference, and exits 1 when there is one.  A Host header of
      several values (a comma, quoted or not) is the one exception: the
      oracle routes it by whichever value a rule matches first, the
      shipped template refuses it (RFC 9112, 3.2), and must answer 400.
  routes.py check DATA PORTS PORT
      reads lines "HOST PATH EXPECTED" on stdin (HOST "-" for no Host
      header, EXPECTED a service name or a status) and prints each
      request whose answer is not the one expected (exit 1).

Requests go over raw sockets, so the Host header and the bytes of the
path are exactly those chosen (mixed case, a port, empty, absent,
non-ASCII bytes).  An answer is shown as the name of the service whose
backend gave it (the body names the index of its port), or as its status."""
import json
import random
import socket
import sys

PREFIX = "/services"

# Exact names and wildcard domains; some are suffixes of others, so that
# a host can match several wildcards, exact names and wildcards overlap,
# and some domains have more labels than the template's usual depth (4).
EXACT = ["www.example.com", "example.com", "api.example.com", "a.example.com",
         "x.a.example.com", "b.a.example.com", "y.c.b.a.example.com",
         "example.org", "shop.example.org", "localhost", "127.0.0.1",
         "www.test", "host-1.example.net", "xn--caf-dma.example.net", "com"]
WILD = ["example.com", "a.example.com", "b.a.example.com", "com",
        "example.org", "org", "example.net", "test", "example"]
DEEP = ["c.b.a.example.com", "d.c.b.a.example.com", "e.d.c.b.a.example.com"]
LOCS = ["/", "/", "/api", "/api", "/api/v1", "/api/v1/x", "/ap", "/api/",
        "/api/v2", "/web", "/w", "/web/", "/static", "/static/img",
        "/caf%C3%A9", "/caf%c3%a9", "/a;b", "/x=y", "/(p)", "/~u", "/a.b",
        "/:c@d", "/$v", "/!*+,", "/-_", "/API", "/s1", "/s"]
# What the templates refuse (the service is skipped with a warning), or
# accept in a form of their own (a blank after a comma, an empty name).
BAD_LOCS = ["/café", "api", "/a b", "/a#b", "", "/a\"b", "/é/x", "/a\\b"]
BAD_HOSTS = ["bad_host.com", "*.", "a..b", "*.*.com", "exa mple.com", "",
             " , ", "*example.com", "-a.com", "a-.com", "ÉXAMPLE.com",
             "x" * 64 + ".com", "www.example.com:80", "*"]
ODD_HOSTS = ["", None, "unknown.test", "example.invalid", "127.0.0.1:8080",
             "[::1]:80", "a/b.example.com", "www.example.com/api", ".",
             "x..example.com", ".example.com", "www.example.com.",
             "WWW.EXAMPLE.COM:", "example", "a b.example.com",
             "www.example.com,api.example.com", "www.example.com,",
             "a.example.com, www.example.com", '"www.example.com,x"',
             "ex%61mple.com", "café.example.com", "a." * 60 + "example.com",
             # two Host headers, alike or not
             "www.example.com\r\nHost: www.example.com",
             "www.example.com\r\nHost: api.example.com"]
ODD_PATHS = [b"/", b"/nothing", b"/?a=b", b"/caf\xc3\xa9", b"/\xc3\xa9/x",
             b"/caf%C3%A9/menu", b"//api", b"/API/v1", b"/api%2Fv1",
             b"/a;b=c", b"/%", b"/x?/api", b"/s10", b"/s1/", b"/api#x"]


def mixcase(rng, s):
    return "".join(c.upper() if rng.random() < 0.4 else c for c in s)


def hosts_pick(rng):
    picks = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        r = rng.random()
        if r < 0.55:
            picks.append(rng.choice(EXACT))
        elif r < 0.92:
            picks.append("*." + rng.choice(WILD))
        else:
            picks.append("*." + rng.choice(DEEP))
    return picks


def where_of(rng, f, made):
    """The host value and location (None: no key) of a new service: F
    says what it must be ("bad host", "/"...) or None; MADE holds those of
    the services made before it."""
    if f == "duplicate" or (made and rng.random() < 0.15):
        # the location of an earlier service and its hosts: the same (a
        # duplicate), in another order or case (a duplicate too), or with
        # one more or one less (two routes share names)
        host, loc = rng.choice(made)
        r = rng.random()
        if host is not None and r < 0.6:
            parts = host.split(",")
            rng.shuffle(parts)
            if r < 0.2:
                parts.append(rng.choice(EXACT))
            elif r < 0.4 and len(parts) > 1:
                parts.pop()
            host = mixcase(rng, ",".join(parts))
        return host, loc
    host = None
    if f in ("bad host", "/ on hosts") or (f != "/" and rng.random() < 0.6):
        picks = hosts_pick(rng)
        if f == "bad host":
            picks.append(rng.choice([h for h in BAD_HOSTS if h.strip(" ,")]))
        elif rng.random() < 0.04:
            picks.append(rng.choice(BAD_HOSTS))
        rng.shuffle(picks)
        host = rng.choice([",", ", ", " ,"]).join(picks)
        if rng.random() < 0.3:
            host = mixcase(rng, host)
    r = rng.random()
    loc = (rng.choice(BAD_LOCS) if f == "bad location"
           else "/" if f in ("/", "/ on hosts")
           else None if r < 0.25 else rng.choice(BAD_LOCS) if r < 0.28
           else rng.choice(LOCS))
    return host, loc


def upstreams_of(rng, d, port, f):
    """The upstream and backend keys of the service whose keys are under
    D, its servers on PORT."""
    keys = {}
    r = rng.random()
    if f == "no upstream" or r < 0.04:
        return keys  # no upstream: skipped, silently
    if r < 0.07:
        keys[d + "/upstream/u"] = "nohost"  # skipped with a warning
        return keys
    for u in range(rng.choice([1, 1, 2])):
        keys[d + "/upstream/u%d" % u] = "127.0.0.1:%d%s" % (
            port, rng.choice(["", "", " weight 10"]))
    if rng.random() < 0.1:
        keys[d + "/backend/balance"] = "source"
    return keys


def service(rng, data, name, port, f, made):
    """Service NAME added to DATA (see where_of and upstreams_of)."""
    d = "%s/%s" % (PREFIX, name)
    host, loc = where_of(rng, f, made)
    made.append((host, loc))
    if host is not None:
        data[d + "/host"] = host
    if loc is not None:
        data[d + "/location"] = loc
    data.update(upstreams_of(rng, d, port, f))


def gen(seed, ports):
    rng = random.Random("gen %s" % seed)
    data = {}
    n = rng.randint(40, min(80, len(ports)))
    # What each set has at least once, whatever the dice say elsewhere
    # (a service of any host at /, the default, in every other set only:
    # without it, a request no route takes gets 503).
    force = ["bad host", "bad location", "no upstream", "/ on hosts",
             "duplicate"] + (["/"] if rng.random() < 0.5 else [])
    force = dict(zip(rng.sample(range(1, n), len(force)), force))
    made = []
    for i in range(n):
        name = rng.choice(["s%d", "svc-%d", "a.%d", "n_%d", "p:%d", "%d",
                           "S%d"]) % i
        if rng.random() < 0.02:
            name = "bad!%d" % i
        service(rng, data, name, ports[i], force.get(i), made)
    return data


def change(seed, data, ports):
    """DATA changed as etcd might be between two renders: services gone,
    new ones (on ports no service has), hosts, locations and upstreams
    changed; now and then more new services than the 16 spare backends."""
    rng = random.Random("change %s" % seed)
    svcs = {}
    for k, v in data.items():
        name, _, rel = k[len(PREFIX) + 1:].partition("/")
        svcs.setdefault(name, {})[rel] = v
    made = [(s.get("host"), s.get("location")) for s in svcs.values()]
    used = {int(v.split()[0].rsplit(":", 1)[1]) for k, v in data.items()
            if "/upstream/" in k and v.startswith("127.0.0.1:")}
    free = [p for p in ports if p not in used]
    rng.shuffle(free)
    out = {}
    # a small change (what hap-reload applies at run time, mostly) or a
    # large one, each as likely
    rate = rng.choice([0.02, 0.1])
    for name in sorted(svcs):
        s = dict(svcs[name])
        d = "%s/%s" % (PREFIX, name)
        if rng.random() < rate * 0.8:
            continue  # the service is gone
        r = rng.random()
        if r < rate:
            s.pop("location", None)
            host, loc = where_of(rng, None, made)
            if loc is not None:
                s["location"] = loc
        elif r < 2 * rate:
            s.pop("host", None)
            host, loc = where_of(rng, None, made)
            if host is not None:
                s["host"] = host
        ups = sorted(k for k in s if k.startswith("upstream/"))
        r = rng.random()
        if ups and r < rate:
            # one more server, or one server of other options
            v = s[ups[0]].split()[0]
            s[rng.choice([ups[0], "upstream/u9"])] = v + rng.choice(
                ["", " weight 20", " weight 5"])
        elif ups and r < 1.3 * rate:
            for k in ups:
                del s[k]
        for k, v in s.items():
            out[d + "/" + k] = v
    n = (rng.choice([0, 1, 2]) if rate < 0.1 else
         rng.choice([1, 2, 3, 5, 8] + ([17, 20] if rng.random() < 0.3 else [])))
    for port in free[:n]:
        # (named by the index of its port: a replay, on other ports, gives
        # the same names)
        service(rng, out, "new%d" % ports.index(port), port, None, made)
    return out


def names_of(data, ports):
    """The service of each index of PORTS, from DATA's upstreams."""
    index = {str(p): i for i, p in enumerate(ports)}
    names = {}
    for k, v in data.items():
        parts = k[len(PREFIX) + 1:].split("/")
        if len(parts) == 3 and parts[1] == "upstream" and ":" in v:
            port = v.split()[0].rsplit(":", 1)[1]
            if port in index:
                names[index[port]] = parts[0]
    return names


def where(data):
    """The host names (a wildcard as its domain, marked) and locations
    DATA mentions, as written."""
    exact, wild, locs = set(), set(), set()
    for k, v in data.items():
        parts = k[len(PREFIX) + 1:].split("/")
        if len(parts) != 2:
            continue
        if parts[1] == "host":
            for h in v.split(","):
                h = h.strip()
                if h.startswith("*."):
                    wild.add(h[2:])
                elif h:
                    exact.add(h)
        elif parts[1] == "location":
            locs.add(v)
    for k in data:
        locs.add("/" + k[len(PREFIX) + 1:].split("/")[0])
    return sorted(exact), sorted(wild), sorted(locs)


def label(rng):
    return rng.choice(["www", "a", "b", "x", "api", "c", "deep", "m-1", "z9"])


def hosts_of(rng, exact, wild):
    """A Host header value (None: no header) of the kinds that matter."""
    r = rng.random()
    if r < 0.3 and exact:
        h = rng.choice(exact)
    elif r < 0.7 and wild:
        d = rng.choice(wild)
        r = rng.random()
        if r < 0.6:
            h = ".".join([label(rng) for _ in range(rng.randint(1, 3))] + [d])
        elif r < 0.7:
            h = ".".join([label(rng) for _ in range(rng.randint(4, 7))] + [d])
        elif r < 0.9:
            h = d
        else:
            h = "." + d
    elif r < 0.85:
        return rng.choice(ODD_HOSTS)
    else:
        h = rng.choice(["unknown.test", "other.org", "example.net",
                        "b.example.org", "x.com", "org"])
    r = rng.random()
    if r < 0.25:
        h = mixcase(rng, h)
    elif r < 0.3:
        h = h.upper()
    r = rng.random()
    if r < 0.1:
        h += ":%d" % rng.choice([80, 8080, 443])
    elif r < 0.13:
        h += "."
    return h


def path_of(rng, locs):
    """A request target: bytes, "/..." but for a few odd ones."""
    r = rng.random()
    if r < 0.7 and locs:
        loc = rng.choice(locs).encode()
        r = rng.random()
        if r < 0.25:
            p = loc
        elif r < 0.45:
            p = loc + rng.choice([b"x", b"/", b"/more/deep", b"1", b"-"])
        elif r < 0.6:
            p = loc[:-1] or b"/"
        elif r < 0.7:
            p = loc.upper()
        elif r < 0.8:
            p = loc + rng.choice([b"?q=1", b"/?x=/api", b"?"])
        elif r < 0.97:
            p = loc + loc
        else:
            p = loc + b"\xc3\xa9"
    elif r < 0.9:
        p = rng.choice(ODD_PATHS)
    else:
        p = b"/" + rng.choice([b"r", b"api", b"web", b"static", b"ap"]) + \
            rng.choice([b"", b"/", b"/%d" % rng.randint(0, 99), b"?k=v"])
    if not p.startswith(b"/"):
        p = b"/" + p
    return p


def requests(seed, data, count):
    """COUNT requests (method, target, host or None, version), seeded."""
    rng = random.Random("requests %s" % seed)
    exact, wild, locs = where(data)
    out = []
    for _ in range(count):
        host = hosts_of(rng, exact, wild)
        path = path_of(rng, locs)
        r = rng.random()
        if r < 0.05:
            # absolute form: the authority that of the Host header, or of
            # another, or the only one; now and then without a path
            auth = rng.choice([host, host, hosts_of(rng, exact, wild)]) or ""
            auth = auth.split("\r")[0]
            if rng.random() < 0.2:
                path = rng.choice([b"", b"?q=1"])
            out.append((b"GET", b"http://%s%s" % (auth.encode(), path),
                        rng.choice([host, host, None]), b"1.1"))
        elif r < 0.07:
            out.append((b"OPTIONS", b"*", host, b"1.1"))
        elif r < 0.12:
            out.append((b"GET", path, None, b"1.0"))
        else:
            out.append((b"GET", path, host, b"1.1"))
    return out


def ask(port, req):
    """(status, body) of one request; status 0 when none came."""
    method, target, host, version = req
    msg = b"%s %s HTTP/%s\r\n" % (method, target, version)
    if host is not None:
        msg += b"Host: " + host.encode() + b"\r\n"
    msg += b"User-Agent: routes.py\r\nConnection: close\r\n\r\n"
    data = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(msg)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return 0, str(e)
    head, _, body = data.partition(b"\r\n\r\n")
    words = head.split(b" ", 2)
    status = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
    return status, body.decode("latin-1")


def show(answer, names):
    status, body = answer
    if status == 200 and body.strip().isdigit():
        i = int(body.strip())
        return "service %s (backend %d)" % (names.get(i, "?"), i)
    return "status %d" % status


def describe(req):
    method, target, host, version = req
    return "%s %r HTTP/%s, Host: %s" % (
        method.decode(), target.decode("utf-8", "backslashreplace"),
        version.decode(),
        "(none)" if host is None else repr(host))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def ports_of(path):
    with open(path) as f:
        return [int(line) for line in f if line.strip()]


def several(host):
    """Does the Host header value HOST hold more than one value: a comma,
    quoted or not (haproxy 2.6 splits values outside quotes only, 3.x
    inside them too: the template refuses any)?"""
    if host is None or "\r" in host:
        return False
    return "," in host


def compare(seed, data, ports, old, new, count=400):
    names = names_of(data, ports)
    bad = 0
    reqs = requests(seed, data, count)
    for req in reqs:
        a, b = ask(old, req), ask(new, req)
        if several(req[2]) and b[0] != 400:
            bad += 1
            print("seed %s: %s: the template: %s, not status 400 (a Host of "
                  "several values)" % (seed, describe(req), show(b, names)))
        elif not several(req[2]) and a != b:
            bad += 1
            print("seed %s: %s: the oracle: %s; the template: %s" % (
                seed, describe(req), show(a, names), show(b, names)))
    if bad:
        print("seed %s: %d of %d requests routed otherwise" % (
            seed, bad, len(reqs)))
        return 1
    print("%d requests, the same answers" % len(reqs))
    return 0


def check(data, ports, port):
    names = names_of(data, ports)
    bad = n = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        host, path, want = line.split()
        req = (b"GET", path.encode(), None if host == "-" else host, b"1.1")
        got = show(ask(port, req), names)
        n += 1
        expect = ("status %s" % want if want.isdigit()
                  else "service %s " % want)
        if not got.startswith(expect):
            bad += 1
            print("%s: expected %s, got %s" % (describe(req), expect.strip(), got))
    if bad:
        return 1
    print("%d requests, the answers expected" % n)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "gen":
        json.dump(gen(argv[2], ports_of(argv[3])), sys.stdout,
                  ensure_ascii=True, indent=0, sort_keys=True)
        print()
        return 0
    if len(argv) == 5 and argv[1] == "change":
        json.dump(change(argv[2], load(argv[3]), ports_of(argv[4])), sys.stdout,
                  ensure_ascii=True, indent=0, sort_keys=True)
        print()
        return 0
    if len(argv) == 7 and argv[1] == "compare":
        return compare(argv[2], load(argv[3]), ports_of(argv[4]),
                       int(argv[5]), int(argv[6]))
    if len(argv) == 5 and argv[1] == "check":
        return check(load(argv[2]), ports_of(argv[3]), int(argv[4]))
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 100


if __name__ == "__main__":
    sys.exit(main(sys.argv))
