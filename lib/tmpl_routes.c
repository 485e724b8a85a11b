/* haproxy_routes (tmpl(1)): the services' routes in the order haproxy
 * must try them, and the one map that the shipped template's frontend
 * looks them up in.  C rather than jq: worked out in jq, the routes were
 * a third of a render from scratch at 1,000 services. */
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

/* haproxy_routes: see tmpl(1).  Orders and lengths are jq's: strings
 * byte by byte, lengths in characters, sorts stable. */
/* A string's bytes, for comparing without a jv call (qsort compares
 * 10,000 services some 300,000 times). */
struct str {
	const char *p;
	size_t n;
};

struct svc {
	jv name, hosts, loc; /* owned */
	size_t i;	     /* the rank of the name */
	struct str names;    /* name's bytes */
	struct str locs;     /* loc's bytes */
	char *hk;	     /* hosts' bytes, each NUL-ended; NULL: null */
	size_t hkn;
};

struct route {
	jv name, hosts, loc; /* owned; hosts null: any host */
	struct str locs, names;
	long rank[2]; /* [0, 0] exact names, [1, -length] wildcards,
			 [2, 0] any host */
	long loclen;
	size_t i; /* the order in which the routes were made */
};

static struct str
str_of(jv s)
{
	struct str r = {jv_string_value(s),
			(size_t)jv_string_length_bytes(jv_copy(s))};

	return r;
}

static int
scmp(const struct str *a, const struct str *b)
{
	return bytes_cmp(a->p, a->n, b->p, b->n);
}

/* Hosts null first, then arrays of strings element by element, a prefix
 * first (each NUL-ended, so that the bytes compare that way), then the
 * locations. */
static int
where_cmp(const struct svc *a, const struct svc *b)
{
	int r;

	if (!a->hk != !b->hk)
		return a->hk ? 1 : -1;
	r = a->hk ? bytes_cmp(a->hk, a->hkn, b->hk, b->hkn) : 0;
	return r ? r : scmp(&a->locs, &b->locs);
}

/* v's hosts as NUL-ended bytes, for where_cmp; -1 when out of memory. */
static int
hosts_key(struct svc *v)
{
	struct buf b = {0};
	int i, n;

	if (jv_get_kind(v->hosts) == JV_KIND_NULL)
		return 0;
	n = jv_array_length(jv_copy(v->hosts));
	for (i = 0; i < n; i++) {
		jv h = jv_array_get(jv_copy(v->hosts), i);
		int r = buf_add(&b, jv_string_value(h),
				(size_t)jv_string_length_bytes(jv_copy(h)) + 1);

		jv_free(h);
		if (r < 0) {
			buf_free(&b);
			return -1;
		}
	}
	if (!b.p && buf_add(&b, "", 0) < 0)
		return -1;
	v->hk = b.p;
	v->hkn = b.len;
	return 0;
}

#define CMP(a, b) (((a) > (b)) - ((a) < (b)))

/* group_by([.hosts, .loc]) */
static int
by_where(const void *pa, const void *pb)
{
	const struct svc *a = pa, *b = pb;
	int r = where_cmp(a, b);

	return r ? r : CMP(a->i, b->i);
}

/* sort_by([.rank, -(.loc | length), .loc, .name]) */
static int
by_route(const void *pa, const void *pb)
{
	const struct route *a = pa, *b = pb;
	int r = CMP(a->rank[0], b->rank[0]);

	if (!r)
		r = CMP(a->rank[1], b->rank[1]);
	if (!r)
		r = CMP(b->loclen, a->loclen);
	if (!r)
		r = scmp(&a->locs, &b->locs);
	if (!r)
		r = scmp(&a->names, &b->names);
	return r ? r : CMP(a->i, b->i);
}

/* Add to *r (*nr of them) the route of service v for hosts h (consumed),
 * ranked rank0, rank1; -1 when out of memory. */
static int
add_route(struct route **r, size_t *nr, const struct svc *v, jv h, long rank0,
	  long rank1)
{
	struct route *a = array_grow(*r, *nr, sizeof(**r));

	if (!a) {
		jv_free(h);
		return -1;
	}
	*r = a;
	a += (*nr)++;
	a->name = jv_copy(v->name);
	a->loc = jv_copy(v->loc);
	a->locs = v->locs;
	a->names = str_of(v->name);
	a->hosts = h;
	a->rank[0] = rank0;
	a->rank[1] = rank1;
	a->loclen = jv_string_length_codepoints(jv_copy(v->loc));
	a->i = *nr;
	return 0;
}

/* The routes of service v, which has hosts: one for its exact names, one
 * for each length of its wildcards. */
static int
host_routes(struct route **r, size_t *nr, const struct svc *v)
{
	int n = jv_array_length(jv_copy(v->hosts)), i, j;
	jv exact = jv_array();
	long len, done = -1;

	for (i = 0; i < n; i++) {
		jv h = jv_array_get(jv_copy(v->hosts), i);

		if (jv_string_value(h)[0] != '.')
			exact = jv_array_append(exact, h);
		else
			jv_free(h);
	}
	if (jv_array_length(jv_copy(exact)) == 0)
		jv_free(exact);
	else if (add_route(r, nr, v, exact, 0, 0) < 0)
		return -1;
	/* (each length once, the shortest first) */
	for (;;) {
		jv wild = jv_array();

		len = -1;
		for (i = 0; i < n; i++) {
			jv h = jv_array_get(jv_copy(v->hosts), i);
			long l = jv_string_length_codepoints(jv_copy(h));

			if (jv_string_value(h)[0] == '.' && l > done &&
			    (len < 0 || l < len))
				len = l;
			jv_free(h);
		}
		if (len < 0) {
			jv_free(wild);
			return 0;
		}
		for (j = 0; j < n; j++) {
			jv h = jv_array_get(jv_copy(v->hosts), j);

			if (jv_string_value(h)[0] == '.' &&
			    jv_string_length_codepoints(jv_copy(h)) == len)
				wild = jv_array_append(wild, h);
			else
				jv_free(h);
		}
		if (add_route(r, nr, v, wild, 1, -len) < 0)
			return -1;
		done = len;
	}
}

/* The members of a route object, made once a call (a string made once
 * hashes once). */
enum { K_NAME, K_HOSTS, K_LOC, K_MATCH, K_RANK, K_END, K_STR, NKEYS };
static const char *const knames[NKEYS] = {"name", "hosts", "loc", "match",
					  "rank", "end",   "str"};

static jv
route_obj(const struct route *r, const jv *k)
{
	jv o = jv_object();

	o = jv_object_set(o, jv_copy(k[K_NAME]), jv_copy(r->name));
	o = jv_object_set(o, jv_copy(k[K_HOSTS]), jv_copy(r->hosts));
	o = jv_object_set(o, jv_copy(k[K_LOC]), jv_copy(r->loc));
	if (r->rank[0] == 2)
		return o;
	o = jv_object_set(o, jv_copy(k[K_MATCH]),
			  jv_copy(k[r->rank[0] ? K_END : K_STR]));
	return jv_object_set(o, jv_copy(k[K_RANK]),
			     JV_ARRAY(jv_number((double)r->rank[0]),
				      jv_number((double)r->rank[1])));
}

/* The routes r[0, nr) (in order) and the default service def as the
 * lines "KEY NAME" of one map_beg map: KEY is the host, ".domain" for a
 * wildcard or nothing for any host, followed by the location.  The
 * longest key that begins a request's host and path is the route of
 * the longest location for that host: the lookup order of tmpl(1) is
 * the one of the routes, a host at a time.  Of two routes with the same
 * key (a host two services share), the first keeps it. */
/* A line of the map: "KEY NAME", KEY's length, and its place. */
struct mline {
	jv line;
	size_t klen, i;
};

/* By key, then by place: the first of the same key first. */
static int
by_key(const void *pa, const void *pb)
{
	const struct mline *a = pa, *b = pb;
	int r = bytes_cmp(jv_string_value(a->line), a->klen,
			  jv_string_value(b->line), b->klen);

	return r ? r : CMP(a->i, b->i);
}

static int
by_place(const void *pa, const void *pb)
{
	const struct mline *a = pa, *b = pb;

	return CMP(a->i, b->i);
}

static jv
route_map(const struct route *r, size_t nr, jv def)
{
	jv map = jv_array();
	struct mline *l = NULL, *nl;
	size_t i, k, n = 0, kept;
	int j, nh;

	for (i = 0; i < nr; i++) {
		const char *loc = jv_string_value(r[i].loc);

		nh = jv_get_kind(r[i].hosts) == JV_KIND_NULL
			 ? 1
			 : jv_array_length(jv_copy(r[i].hosts));
		for (j = 0; j < nh; j++) {
			jv h = jv_get_kind(r[i].hosts) == JV_KIND_NULL
				   ? jv_string("")
				   : jv_array_get(jv_copy(r[i].hosts), j);

			if (!(nl = array_grow(l, n, sizeof(*l)))) {
				jv_free(h);
				goto nomem;
			}
			l = nl;
			l[n].line =
			    jv_string_fmt("%s%s %s", jv_string_value(h), loc,
					  jv_string_value(r[i].name));
			l[n].klen = strlen(jv_string_value(h)) + strlen(loc);
			l[n].i = n;
			n++;
			jv_free(h);
		}
	}
	/* (the keys sorted once, not looked up one by one: the first
	 * of each key stays, in its place) */
	if (n)
		qsort(l, n, sizeof(*l), by_key);
	for (i = kept = 0; i < n; i = k) {
		for (k = i + 1; k < n && l[k].klen == l[i].klen &&
				!memcmp(jv_string_value(l[k].line),
					jv_string_value(l[i].line), l[i].klen);
		     k++)
			jv_free(l[k].line);
		l[kept++] = l[i];
	}
	if (kept)
		qsort(l, kept, sizeof(*l), by_place);
	for (i = 0; i < kept; i++)
		map = jv_array_append(map, l[i].line);
	free(l);
	if (jv_get_kind(def) == JV_KIND_STRING)
		map = jv_array_append(
		    map, jv_string_fmt("/ %s", jv_string_value(def)));
	return map;
nomem:
	for (i = 0; i < n; i++)
		jv_free(l[i].line);
	free(l);
	jv_free(map);
	return jv_invalid_with_msg(jv_string("out of memory"));
}

/* The most labels of a wildcard domain of r[0, nr): how many suffixes of
 * a request's host the lookup must try. */
static long
route_depth(const struct route *r, size_t nr)
{
	long most = 0, n;
	size_t i;
	int j, nh;

	for (i = 0; i < nr; i++) {
		if (r[i].rank[0] != 1)
			continue;
		nh = jv_array_length(jv_copy(r[i].hosts));
		for (j = 0; j < nh; j++) {
			jv h = jv_array_get(jv_copy(r[i].hosts), j);
			const char *c;

			for (n = 0, c = jv_string_value(h); *c; c++)
				n += *c == '.';
			if (n > most)
				most = n;
			jv_free(h);
		}
	}
	return most;
}

/* Is v [hosts, location], hosts null or an array of strings? */
static int
is_where(jv v)
{
	jv h;
	int i, n, ok;

	if (jv_get_kind(v) != JV_KIND_ARRAY || jv_array_length(jv_copy(v)) != 2)
		return 0;
	h = jv_array_get(jv_copy(v), 1);
	ok = jv_get_kind(h) == JV_KIND_STRING;
	jv_free(h);
	h = jv_array_get(jv_copy(v), 0);
	if (jv_get_kind(h) == JV_KIND_ARRAY) {
		n = jv_array_length(jv_copy(h));
		for (i = 0; ok && i < n; i++) {
			jv e = jv_array_get(jv_copy(h), i);

			ok = jv_get_kind(e) == JV_KIND_STRING;
			jv_free(e);
		}
	} else {
		ok = ok && jv_get_kind(h) == JV_KIND_NULL;
	}
	jv_free(h);
	return ok;
}

/* By name, bytes (jq's order of keys). */
static int
by_name(const void *pa, const void *pb)
{
	const struct svc *a = pa, *b = pb;

	return scmp(&a->names, &b->names);
}

jv
hap_routes(jv where)
{
	jv res, list, dup, def, k[NKEYS];
	struct svc *s;
	struct route *r = NULL;
	size_t n, i, j, nr = 0;
	int it;

	if (jv_get_kind(where) != JV_KIND_OBJECT)
		return jv_invalid_with_msg(
		    jv_string("haproxy_routes: the input is not an object"));
	n = (size_t)jv_object_length(jv_copy(where));
	if (!(s = calloc(n + 1, sizeof(*s))))
		return jv_invalid_with_msg(jv_string("out of memory"));
	/* (the names in jq's order, sorted here: jv_keys compares through
	 * jv calls, a third of the whole at 10,000 services; each value
	 * waits in hosts until its turn) */
	i = 0;
	for (it = jv_object_iter(where); jv_object_iter_valid(where, it);
	     it = jv_object_iter_next(where, it)) {
		s[i].name = jv_object_iter_key(where, it);
		s[i].names = str_of(s[i].name);
		s[i].hosts = jv_object_iter_value(where, it);
		s[i].loc = jv_null();
		i++;
	}
	qsort(s, n, sizeof(*s), by_name);
	for (i = 0; i < NKEYS; i++)
		k[i] = jv_string(knames[i]);
	list = jv_array();
	dup = jv_array();
	def = jv_null();
	for (i = 0; i < n; i++) {
		jv v = s[i].hosts;

		s[i].hosts = jv_null();
		s[i].i = i;
		if (!is_where(v)) {
			res = jv_invalid_with_msg(jv_string_fmt(
			    "haproxy_routes: %s: not [hosts, location]",
			    jv_string_value(s[i].name)));
			jv_free(v);
			goto out;
		}
		s[i].hosts = jv_array_get(jv_copy(v), 0);
		s[i].loc = jv_array_get(v, 1);
		s[i].locs = str_of(s[i].loc);
		if (hosts_key(&s[i]) < 0)
			goto nomem;
	}
	qsort(s, n, sizeof(*s), by_where);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && !where_cmp(&s[i], &s[j]); j++) {
			jv d = jv_object();

			d = jv_object_set(d, jv_string("name"),
					  jv_copy(s[j].name));
			d = jv_object_set(d, jv_string("hosts"),
					  jv_copy(s[j].hosts));
			d = jv_object_set(d, jv_string("loc"),
					  jv_copy(s[j].loc));
			d = jv_object_set(d, jv_string("winner"),
					  jv_copy(s[i].name));
			dup = jv_array_append(dup, d);
		}
		if (jv_get_kind(s[i].hosts) != JV_KIND_NULL) {
			if (host_routes(&r, &nr, &s[i]) < 0)
				goto nomem;
		} else if (strcmp(jv_string_value(s[i].loc), "/") ||
			   jv_string_length_bytes(jv_copy(s[i].loc)) != 1) {
			if (add_route(&r, &nr, &s[i], jv_null(), 2, 0) < 0)
				goto nomem;
		} else if (jv_get_kind(def) == JV_KIND_NULL) {
			def = jv_copy(s[i].name);
		}
	}
	if (nr)
		qsort(r, nr, sizeof(*r), by_route);
	for (i = 0; i < nr; i++)
		list = jv_array_append(list, route_obj(&r[i], k));
	res = route_map(r, nr, def);
	if (!jv_is_valid(res))
		goto out;
	res = jv_object_set(jv_object(), jv_string("map"), res);
	res = jv_object_set(res, jv_string("depth"),
			    jv_number((double)route_depth(r, nr)));
	res = jv_object_set(res, jv_string("default"), def);
	res = jv_object_set(res, jv_string("routes"), list);
	res = jv_object_set(res, jv_string("dup"), dup);
	list = dup = def = jv_invalid();
	goto out;
nomem:
	res = jv_invalid_with_msg(jv_string("out of memory"));
out:
	for (i = 0; i < nr; i++) {
		jv_free(r[i].name);
		jv_free(r[i].hosts);
		jv_free(r[i].loc);
	}
	free(r);
	for (i = 0; i < n; i++) {
		jv_free(s[i].name);
		jv_free(s[i].hosts);
		jv_free(s[i].loc);
		free(s[i].hk);
	}
	free(s);
	for (i = 0; i < NKEYS; i++)
		jv_free(k[i]);
	jv_free(list);
	jv_free(dup);
	jv_free(def);
	return res;
}
