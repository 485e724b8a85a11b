/* easy-lb's own rules, as helpers of the template engine (tmpl.h):
 * haproxy_name, haproxy_path, haproxy_servers, haproxy_backend and
 * haproxy_routes (tmpl(1), "Helpers").  The engine knows nothing of
 * them; the tmpl tool hands this set to tmpl_parse. */
#ifndef EASYLB_EASYLB_H
#define EASYLB_EASYLB_H

#include "tmpl/tmpl.h"

extern const struct tmpl_helpers easylb_helpers;

#endif
