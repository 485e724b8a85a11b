/* hap-reload's runtime change: a plan's servers and map entries set
 * through haproxy's runtime API, then the proof that they took. */
#ifndef EASYLB_HAPRELOAD_RUNTIME_H
#define EASYLB_HAPRELOAD_RUNTIME_H

#include <stddef.h>

#include "haproxy/cfg.h"
#include "haproxy/map.h"

/* The map entries to change in one map, by its path. */
struct rt_map {
	const char *path;
	const struct hapmap_plan *plan;
};

/* Apply pl and the map plans maps[0, nmaps) through the runtime API at
 * socket, within timeout_ms: new servers first, then the entries that
 * route to them, then the entries gone, then the servers gone (drained
 * first).  0, or -1 with why. */
int apply_runtime(const char *socket, long long timeout_ms,
		  const struct hapcfg_plan *pl, const struct rt_map *maps,
		  size_t nmaps, char *why, size_t wlen);

#endif
