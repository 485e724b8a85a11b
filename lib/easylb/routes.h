/* haproxy_routes (routes.c), for the set of helpers.c. */
#ifndef EASYLB_ROUTES_H
#define EASYLB_ROUTES_H

#include "tmpl/tmpl.h"

/* haproxy_routes of where (borrowed): *c keeps what the next call works
 * its answer out from (NULL at first), until hap_routes_free. */
struct routes;
jv hap_routes(struct routes **c, jv where);
void hap_routes_free(struct routes *c);

#endif
