/* easy-lb status --services: each service haproxy serves, with its
 * servers and how many of them take traffic, from the runtime API's
 * "show servers state" and the live configuration (which spare backend
 * serves which service).  Asked for only: it costs a walk over every
 * server, unlike the rest of the status. */
#ifndef EASYLB_STATUS_SERVICES_H
#define EASYLB_STATUS_SERVICES_H

#include "util/util.h"

struct service {
	char *name;    /* the service */
	char *backend; /* haproxy's backend: its name, or a spare's */
	long servers;  /* its servers */
	long up;       /* those taking traffic: running, no maintenance or
			  drain */
};

struct services {
	struct service *v;
	size_t n;
	char err[512]; /* why they could not be read ("" when read) */
};

/* Read the services of the balancer on dir into sv: 0, or -1 with
 * sv->err filled (sv then empty). */
int services_read(struct services *sv, const char *dir);
void services_free(struct services *sv);

/* sv for a human (a "services:" section), or as the JSON value of the
 * status's "services" member. */
void services_text(struct buf *o, const struct services *sv);
void services_json(struct buf *o, const struct services *sv);

#endif
