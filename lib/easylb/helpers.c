/* easy-lb's helpers, the set easylb_helpers that the tmpl tool gives the
 * engine (tmpl(1), "Helpers"): easylb_service works out a service's part
 * of the model from its keys by the schema's table (schema.c);
 * haproxy_name, haproxy_path, haproxy_servers and haproxy_backend apply
 * the same rules (rules.c) to one value or one directory, for templates
 * of one's own; haproxy_routes is routes.c's.  They are C rather than jq
 * because, at 100,000 upstreams, jq's way of checking (jq 1.6 compiles a
 * regular expression at every test, and spends microseconds on each step
 * of a loop over words) was most of the render. */
#include <stdlib.h>

#include "easylb/easylb.h"
#include "easylb/routes.h"
#include "easylb/rules.h"
#include "easylb/schema.h"

/* The state of the set: what haproxy_routes keeps from call to call. */
struct state {
	struct routes *routes;
};

static void *
state_new(void)
{
	return calloc(1, sizeof(struct state));
}

static void
state_free(void *p)
{
	struct state *st = p;

	hap_routes_free(st->routes);
	free(st);
}

static jv
h_name(struct tmpl *t, void *st, jv *a)
{
	(void)t;
	(void)st;
	return jv_bool(
	    jv_get_kind(a[0]) == JV_KIND_STRING &&
	    rule_name(jv_string_value(a[0]),
		      (size_t)jv_string_length_bytes(jv_copy(a[0]))));
}

static jv
h_path(struct tmpl *t, void *st, jv *a)
{
	(void)t;
	(void)st;
	return jv_bool(
	    jv_get_kind(a[0]) == JV_KIND_STRING &&
	    rule_path(jv_string_value(a[0]),
		      (size_t)jv_string_length_bytes(jv_copy(a[0]))));
}

/* The lines of the keys below directory a (as written, for the
 * warnings), each kept or skipped by f. */
static jv
lines_of(struct tmpl *t, jv a, const char *helper, tmpl_child_fn *f)
{
	jv lines = jv_array();

	if (jv_get_kind(a) != JV_KIND_STRING) {
		jv_free(lines);
		return tmpl_dir(jv_copy(a), helper);
	}
	if (schema_walk(t, jv_string_value(a),
			(size_t)jv_string_length_bytes(jv_copy(a)), f,
			&lines) < 0) {
		jv_free(lines);
		lines = jv_invalid_with_msg(jv_string("out of memory"));
	}
	return lines;
}

static jv
h_servers(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	return lines_of(t, a[0], "haproxy_servers", schema_server);
}

static jv
h_backend(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	return lines_of(t, a[0], "haproxy_backend", schema_backend);
}

static jv
h_service(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	return schema_service(t, a[0]);
}

static jv
h_tcp(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	return schema_tcp(t, a[0], a[1], a[2]);
}

static jv
h_routes(struct tmpl *t, void *st, jv *a)
{
	(void)t;
	return hap_routes(&((struct state *)st)->routes, a[0]);
}

/* clang-format off */
static const struct tmpl_helper list[] = {
	{"haproxy_name",    NULL, TMPL_ANSWER, h_name},
	{"haproxy_path",    NULL, TMPL_ANSWER, h_path},
	{"haproxy_servers", "$d", TMPL_ANSWER, h_servers},
	{"haproxy_backend", "$d", TMPL_ANSWER, h_backend},
	{"haproxy_routes",  NULL, TMPL_ANSWER, h_routes},
	{"easylb_service",  "$d", TMPL_EACH,   h_service},
	{"easylb_tcp",      "$p; $svc; $taken", TMPL_ANSWER, h_tcp},
};
/* clang-format on */

const struct tmpl_helpers easylb_helpers = {
    list, sizeof(list) / sizeof(list[0]), state_new, state_free};
