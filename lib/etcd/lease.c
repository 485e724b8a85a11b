/* The etcd client's leases: grant one, renew it, revoke it (which
 * deletes every key attached to it at once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/int.h"

int
etcd_lease_grant(struct etcd *e, long long ttl, char **id, char *err,
		 size_t errlen)
{
	jv req = jv_object_set(jv_object(), jv_string("TTL"), jv_number(ttl));
	jv resp, v;
	int st;

	*id = NULL;
	if ((st = etcd_call(e, "/v3/lease/grant", req, &resp, err, errlen)) !=
	    ETCD_OK)
		return st;
	v = etcd_field(resp, "ID");
	jv_free(resp);
	if (jv_get_kind(v) == JV_KIND_STRING) {
		*id = strdup(jv_string_value(v));
	} else if (jv_get_kind(v) == JV_KIND_NUMBER && (*id = malloc(32))) {
		snprintf(*id, 32, "%.0f", jv_number_value(v));
	} else {
		jv_free(v);
		seterr(err, errlen, "%s: lease grant returned no ID",
		       etcd_endpoint(e));
		return ETCD_ETEMP;
	}
	jv_free(v);
	if (!*id) {
		seterr(err, errlen, "out of memory");
		return ETCD_ETEMP;
	}
	return ETCD_OK;
}

int
etcd_lease_keepalive(struct etcd *e, const char *id, int *alive, char *err,
		     size_t errlen)
{
	jv req = jv_object_set(jv_object(), jv_string("ID"), jv_string(id));
	jv resp, res;
	int st;

	if ((st = etcd_call(e, "/v3/lease/keepalive", req, &resp, err,
			    errlen)) != ETCD_OK)
		return st;
	/* The gateway streams this call: the reply sits in "result".  An
	 * expired lease answers with no TTL (zero is omitted). */
	res = etcd_field(resp, "result");
	*alive = etcd_int(res, "TTL") > 0;
	jv_free(res);
	jv_free(resp);
	return ETCD_OK;
}

int
etcd_lease_revoke(struct etcd *e, const char *id, char *err, size_t errlen)
{
	jv req = jv_object_set(jv_object(), jv_string("ID"), jv_string(id));
	jv resp;
	int st;

	if ((st = etcd_call(e, "/v3/lease/revoke", req, &resp, err, errlen)) ==
	    ETCD_OK)
		jv_free(resp);
	return st;
}
