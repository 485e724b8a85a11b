#!/usr/bin/env python3
"""gen.py SEED N: N random sets of services for haproxy_routes, as the
object case name -> {service: [hosts, location]}: names, exact and
wildcard hosts (".domain"), locations of many lengths, non-ASCII ones
too, and services sharing hosts and location."""
import json
import random
import sys

random.seed(int(sys.argv[1]))
locs = ["/", "/a", "/ab", "/b", "/api", "/api/v2", "/\u00e9", "/\u00e9a", "/zz",
        "/a/b/c", "/Z"]
names = ["a", "b", "svc1", "svc10", "svc2", "x-y", "\u00e9", "A", "z"]
doms = ["ex.com", "a.ex.com", "b.ex.com", "ex.org", "x.io",
        "longer-name.example.com", "\u00e9.fr"]
cases = {}
for c in range(int(sys.argv[2])):
    w = {}
    for i in range(random.randint(0, 12)):
        n = random.choice(names)
        if random.random() < .5:
            n += str(random.randint(0, 3))
        hosts = None
        if random.random() < .6:
            hs = set()
            for j in range(random.randint(1, 4)):
                d = random.choice(doms)
                hs.add("." + d if random.random() < .4 else d)
            hosts = sorted(hs)
        w[n] = [hosts, random.choice(locs)]
    cases["case%03d" % c] = w
print(json.dumps(cases))
