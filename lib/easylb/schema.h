/* easy-lb's key schema (schema.c): the keys of a service, one table, and
 * a service's part of the model worked out from them. */
#ifndef EASYLB_SCHEMA_H
#define EASYLB_SCHEMA_H

#include "tmpl/tmpl.h"

struct service;

/* A key below <prefix>/<svc>/ ("" the service's own name; "a/<b>" a
 * directory of keys, one per name b). */
struct schema_key {
	const char *key;
	const char *becomes; /* what it becomes in haproxy's configuration */
	int runtime;	     /* a change goes through the runtime API */
	int http;	     /* for HTTP services only (a TCP one's skipped) */
	/* Check it and put it into the model: 0, or -1 when the service is
	 * left out (a warning said why, unless it is left out silently). */
	int (*take)(struct service *sv, const struct schema_key *k);
	const char *doc; /* its line of documentation (markdown) */
};

/* The table, *n rows. */
const struct schema_key *schema_keys(size_t *n);

/* The part of the model of the service whose directory is dir (as
 * written, "<prefix>/<svc>"; borrowed), from the data being rendered:
 * [{hosts, loc, servers, lines, directives, mode, port}], or [] when it is left
 * out (a warning says why); an error when dir is not a string. */
jv schema_service(struct tmpl *t, jv dir);

/* The TCP services of svc (borrowed, an object of services as
 * schema_service gives them, under prefix) that get their port, in name
 * order: {name: port}.  A port that taken (an object of ports, each the
 * name of what has it, e.g. {"80": "LB_PORT"}) or a service before it
 * by name has leaves the service out, with a warning naming both. */
jv schema_tcp(struct tmpl *t, jv prefix, jv svc, jv taken);

/* Each name directly below the directory raw (n bytes, as written:
 * its keys are named so in the warnings), through f with ctx: 0, or -1
 * when out of memory. */
int schema_walk(struct tmpl *t, const char *raw, size_t n, tmpl_child_fn *f,
		void *ctx);

/* One upstream key or one backend option key into the array of lines
 * *ctx (a jv), skipped with a warning naming it when haproxy could not
 * take it: tmpl_child_fn for haproxy_servers and haproxy_backend. */
void schema_server(struct tmpl *t, const char *nm, size_t nn,
		   const struct buf *key, jv value, void *ctx);
void schema_backend(struct tmpl *t, const char *nm, size_t nn,
		    const struct buf *key, jv value, void *ctx);

#endif
