/* What etcd's JSON replies say: a field, an int64 written as a string,
 * keys and values in base64, and the end of a prefix's range.  Every
 * other file of the client reads its replies through these. */
#include <stdlib.h>
#include <string.h>

#include "etcd/int.h"
#include "util/b64.h"

jv
etcd_field(jv obj, const char *field)
{
	jv v;

	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return jv_null();
	v = jv_object_get(jv_copy(obj), jv_string(field));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return jv_null();
	}
	return v;
}

long long
etcd_int(jv obj, const char *field)
{
	jv v = etcd_field(obj, field);
	long long n = 0;

	if (jv_get_kind(v) == JV_KIND_STRING)
		n = strtoll(jv_string_value(v), NULL, 10);
	else if (jv_get_kind(v) == JV_KIND_NUMBER &&
		 jv_number_value(v) >= -9223372036854775808.0 &&
		 jv_number_value(v) < 9223372036854775808.0)
		n = (long long)jv_number_value(v);
	jv_free(v);
	return n;
}

jv
etcd_b64(const char *p, size_t n)
{
	char *s = malloc(b64_enclen(n) + 1);
	jv v;

	if (!s)
		return jv_invalid_with_msg(jv_string("out of memory"));
	b64_encode((const unsigned char *)p, n, s);
	v = jv_string(s);
	free(s);
	return v;
}

jv
etcd_prefix_end(const char *prefix, size_t n)
{
	unsigned char *end;
	jv v;

	while (n && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	if (!n)
		return jv_string("AA==");
	if (!(end = malloc(n)))
		return jv_invalid_with_msg(jv_string("out of memory"));
	memcpy(end, prefix, n);
	end[n - 1]++;
	v = etcd_b64((char *)end, n);
	free(end);
	return v;
}

static int
b64_field(jv obj, const char *field, char **out, size_t *outlen)
{
	jv v = etcd_field(obj, field);
	const char *s = "";
	size_t n = 0;
	int r = 0;

	if (jv_get_kind(v) == JV_KIND_STRING) {
		s = jv_string_value(v);
		n = jv_string_length_bytes(jv_copy(v));
	} else if (jv_get_kind(v) != JV_KIND_NULL) {
		jv_free(v);
		return -1;
	}
	*out = malloc(n / 4 * 3 + 4);
	if (!*out || b64_decode(s, n, (unsigned char *)*out, outlen) < 0)
		r = -1;
	else
		(*out)[*outlen] = '\0';
	jv_free(v);
	return r;
}

int
etcd_kv_decode(jv kv, struct etcd_kv *out)
{
	memset(out, 0, sizeof(*out));
	if (jv_get_kind(kv) != JV_KIND_OBJECT ||
	    b64_field(kv, "key", &out->key, &out->klen) < 0 ||
	    b64_field(kv, "value", &out->value, &out->vlen) < 0) {
		etcd_kv_free(out);
		return -1;
	}
	out->create_rev = etcd_int(kv, "create_revision");
	out->mod_rev = etcd_int(kv, "mod_revision");
	out->version = etcd_int(kv, "version");
	out->lease = etcd_int(kv, "lease");
	return 0;
}

void
etcd_kv_free(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	kv->key = kv->value = NULL;
}
