/* libFuzzer target for lib/etcd/scan.c, the reader of etcd-get's range
 * replies: whatever the input, etcd_scan_range returns 0 or -1 without
 * a fault; every key and value it takes is NUL-terminated; and when it
 * takes a reply, jq's parser (the path it stands in for) reads the same
 * JSON the same way: the header's revision, "more", and every kv, its
 * key, value and numbers. */
#include <stdint.h>
#include <string.h>

#include <jv.h>

#include "etcd/int.h"

static int
same_kv(const struct etcd_kv *a, const struct etcd_kv *b)
{
	return a->klen == b->klen && a->vlen == b->vlen &&
	       !memcmp(a->key, b->key, a->klen) &&
	       !memcmp(a->value, b->value, a->vlen) &&
	       a->create_rev == b->create_rev && a->mod_rev == b->mod_rev &&
	       a->version == b->version && a->lease == b->lease;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcd_scan sc;
	struct etcd_kv kv;
	size_t i;
	jv v, kvs, more, hdr;

	if (size > 1 << 20)
		return 0;
	if (etcd_scan_range((const char *)data, size, &sc) < 0) {
		etcd_scan_free(&sc);
		return 0;
	}
	for (i = 0; i < sc.n; i++)
		if (sc.kvs[i].key[sc.kvs[i].klen] != '\0' ||
		    sc.kvs[i].value[sc.kvs[i].vlen] != '\0')
			__builtin_trap();
	v = jv_parse_sized((const char *)data, (int)size);
	if (jv_get_kind(v) != JV_KIND_OBJECT)
		__builtin_trap();
	kvs = etcd_field(v, "kvs");
	more = etcd_field(v, "more");
	hdr = etcd_field(v, "header");
	if ((jv_get_kind(kvs) == JV_KIND_ARRAY
		 ? (size_t)jv_array_length(jv_copy(kvs))
		 : 0) != sc.n ||
	    (jv_get_kind(more) == JV_KIND_TRUE) != sc.more ||
	    etcd_int(hdr, "revision") != sc.rev)
		__builtin_trap();
	for (i = 0; i < sc.n; i++) {
		jv one = jv_array_get(jv_copy(kvs), (int)i);

		memset(&kv, 0, sizeof(kv));
		if (etcd_kv_decode(one, &kv) < 0 || !same_kv(&kv, &sc.kvs[i]))
			__builtin_trap();
		etcd_kv_free(&kv);
		jv_free(one);
	}
	jv_free(hdr);
	jv_free(kvs);
	jv_free(more);
	jv_free(v);
	etcd_scan_free(&sc);
	return 0;
}
