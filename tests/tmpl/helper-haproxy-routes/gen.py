#!/usr/bin/env python3
"""gen.py SEED N [chain]: N random sets of services for haproxy_routes,
as the object case name -> {service: [hosts, location]}: names, exact
and wildcard hosts (".domain"), locations of many lengths, non-ASCII
ones too, and services sharing hosts and location.  With "chain", each
set is the one before it with a few services added, removed, moved or
given the place of another, as tmpl --follow's renders see them; there
a service is now and then {hosts, loc, servers}, as the shipped
template has them, and sometimes only its servers change."""
import json
import random
import sys

random.seed(int(sys.argv[1]))
locs = ["/", "/a", "/ab", "/b", "/api", "/api/v2", "/\u00e9", "/\u00e9a", "/zz",
        "/a/b/c", "/Z"]
names = ["a", "b", "svc1", "svc10", "svc2", "x-y", "\u00e9", "A", "z"]
doms = ["ex.com", "a.ex.com", "b.ex.com", "ex.org", "x.io",
        "longer-name.example.com", "\u00e9.fr"]


def hosts():
    if random.random() < .4:
        return None
    hs = set()
    for j in range(random.randint(1, 4)):
        d = random.choice(doms)
        hs.add("." + d if random.random() < .4 else d)
    return sorted(hs)


def name():
    n = random.choice(names)
    return n + str(random.randint(0, 3)) if random.random() < .5 else n


def where(v):
    return [v["hosts"], v["loc"]] if isinstance(v, dict) else v


cases = {}
chain = len(sys.argv) > 3 and sys.argv[3] == "chain"
w = {}
for c in range(int(sys.argv[2])):
    if not chain:
        w = {}
        for i in range(random.randint(0, 12)):
            w[name()] = [hosts(), random.choice(locs)]
    else:
        w = dict(w)
        for op in range(random.randint(1, 3)):
            r = random.random()
            if r < .3 or not w:
                w[name()] = [hosts(), random.choice(locs)]
            elif r < .5:
                del w[random.choice(sorted(w))]
            elif r < .65:
                k = random.choice(sorted(w))
                w[k] = [where(w[k])[0], random.choice(locs)]
            elif r < .8:
                k = random.choice(sorted(w))
                w[k] = [hosts(), where(w[k])[1]]
            elif r < .9:
                k = random.choice(sorted(w))
                w[name()] = list(where(w[k]))
            else:
                k = random.choice(sorted(w))
                h, l = where(w[k])
                w[k] = {"hosts": h, "loc": l, "servers": random.randint(0, 9)}
    cases["case%03d" % c] = w
print(json.dumps(cases))
