/* haproxy_routes (tmpl(1)): the services' routes in the order haproxy
 * must try them, and the one map that the shipped template's frontend
 * looks them up in.  C rather than jq: worked out in jq, the routes were
 * a third of a render from scratch at 1,000 services.
 *
 * Worked out again from the last call's: tmpl --follow calls it once a
 * render, with an object that differs from the last one by the services
 * that changed.  Each service keeps its routes and map lines from call
 * to call; a call works out those of the services that changed, and
 * takes them out of and puts them into the orders it keeps, so that a
 * change costs about a pass over 10,000 pointers, not the sorts of
 * 10,000 routes and their map lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "easylb/routes.h"

/* Orders and lengths are jq's: strings byte by byte, lengths in
 * characters, sorts stable.  A string's bytes, for comparing without a
 * jv call. */
struct str {
	const char *p;
	size_t n;
};

/* A line of the map: "KEY NAME", KEY's length and its hash. */
struct line {
	jv line;
	size_t klen;
	uint64_t h;
};

struct svc;

struct route {
	struct svc *s;
	jv hosts;     /* owned; null: any host */
	long rank[2]; /* [0, 0] exact names, [1, -length] wildcards,
			 [2, 0] any host */
	long loclen;
	long dots; /* the most labels of its wildcards */
	jv obj;	   /* as it comes in routes */
	struct line *l;
	size_t nl;
};

struct svc {
	jv name, val;  /* the key and its value, owned */
	jv hosts, loc; /* owned */
	struct str names, locs;
	char *hk; /* hosts' bytes, each NUL-ended; NULL: null */
	size_t hkn;
	struct route *r; /* its routes, were it the first of its place */
	size_t nr;
	int in;	  /* its routes are in the table */
	int want; /* ... must be, this call */
	int gone; /* left, or changed, this call */
};

/* What the last call kept: its input and result, the services in name
 * order and in place order, and the routes of the first service of each
 * place, in order. */
struct routes {
	jv where, res;
	struct svc **byname, **bywhere;
	size_t n;
	struct route **rt;
	size_t nrt;
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

#define CMP(a, b) (((a) > (b)) - ((a) < (b)))

/* By name, bytes (jq's order of keys). */
static int
by_name(const void *pa, const void *pb)
{
	const struct svc *a = *(struct svc *const *)pa,
			 *b = *(struct svc *const *)pb;

	return scmp(&a->names, &b->names);
}

/* Hosts null first, then arrays of strings element by element, a prefix
 * first (each NUL-ended, so that the bytes compare that way), then the
 * locations: group_by([.hosts, .loc]), the first by name first. */
static int
by_where(const void *pa, const void *pb)
{
	const struct svc *a = *(struct svc *const *)pa,
			 *b = *(struct svc *const *)pb;
	int r;

	if (!a->hk != !b->hk)
		return a->hk ? 1 : -1;
	r = a->hk ? bytes_cmp(a->hk, a->hkn, b->hk, b->hkn) : 0;
	if (!r)
		r = scmp(&a->locs, &b->locs);
	return r ? r : scmp(&a->names, &b->names);
}

static int
same_where(const struct svc *a, const struct svc *b)
{
	return !a->hk == !b->hk &&
	       (!a->hk || !bytes_cmp(a->hk, a->hkn, b->hk, b->hkn)) &&
	       !scmp(&a->locs, &b->locs);
}

/* sort_by([.rank, -(.loc | length), .loc, .name]): a total order, a
 * service having one route a rank. */
static int
by_route(const void *pa, const void *pb)
{
	const struct route *a = *(struct route *const *)pa,
			   *b = *(struct route *const *)pb;
	int r = CMP(a->rank[0], b->rank[0]);

	if (!r)
		r = CMP(a->rank[1], b->rank[1]);
	if (!r)
		r = CMP(b->loclen, a->loclen);
	if (!r)
		r = scmp(&a->s->locs, &b->s->locs);
	return r ? r : scmp(&a->s->names, &b->s->names);
}

/* Into out, a[0, na) and b[0, nb), each in cmp's order, merged. */
static void
merge(void **out, void **a, size_t na, void **b, size_t nb,
      int (*cmp)(const void *, const void *))
{
	while (na && nb)
		if (cmp(a, b) <= 0)
			*out++ = *a++, na--;
		else
			*out++ = *b++, nb--;
	if (na)
		memcpy(out, a, na * sizeof(*out));
	else if (nb)
		memcpy(out, b, nb * sizeof(*out));
}

static int
route_lines(struct route *r)
{
	const char *loc = jv_string_value(r->s->loc),
		   *name = jv_string_value(r->s->name);
	int j, nh = jv_get_kind(r->hosts) == JV_KIND_NULL
			? 1
			: jv_array_length(jv_copy(r->hosts));

	if (!(r->l = calloc((size_t)nh, sizeof(*r->l))))
		return -1;
	for (j = 0; j < nh; j++) {
		jv h = jv_get_kind(r->hosts) == JV_KIND_NULL
			   ? jv_string("")
			   : jv_array_get(jv_copy(r->hosts), j);
		struct line *l = &r->l[r->nl++];

		l->line =
		    jv_string_fmt("%s%s %s", jv_string_value(h), loc, name);
		l->klen = strlen(jv_string_value(h)) + strlen(loc);
		l->h = fnv1a(FNV1A, jv_string_value(l->line), l->klen);
		jv_free(h);
	}
	return 0;
}

/* The members of a route object. */
static jv
route_obj(const struct route *r)
{
	jv o = jv_object();

	o = jv_object_set(o, jv_string("name"), jv_copy(r->s->name));
	o = jv_object_set(o, jv_string("hosts"), jv_copy(r->hosts));
	o = jv_object_set(o, jv_string("loc"), jv_copy(r->s->loc));
	if (r->rank[0] == 2)
		return o;
	o = jv_object_set(o, jv_string("match"),
			  jv_string(r->rank[0] ? "end" : "str"));
	return jv_object_set(o, jv_string("rank"),
			     JV_ARRAY(jv_number((double)r->rank[0]),
				      jv_number((double)r->rank[1])));
}

/* Add to v the route for hosts h (consumed), ranked rank0, rank1; -1
 * when out of memory. */
static int
add_route(struct svc *v, jv h, long rank0, long rank1)
{
	struct route *a = array_grow(v->r, v->nr, sizeof(*v->r));
	const char *c;
	int i, n;

	if (!a) {
		jv_free(h);
		return -1;
	}
	v->r = a;
	a += v->nr++;
	memset(a, 0, sizeof(*a));
	a->s = v;
	a->hosts = h;
	a->rank[0] = rank0;
	a->rank[1] = rank1;
	a->loclen = jv_string_length_codepoints(jv_copy(v->loc));
	a->obj = jv_null();
	if (rank0 == 1) {
		n = jv_array_length(jv_copy(h));
		for (i = 0; i < n; i++) {
			jv e = jv_array_get(jv_copy(h), i);
			long d = 0;

			for (c = jv_string_value(e); *c; c++)
				d += *c == '.';
			if (d > a->dots)
				a->dots = d;
			jv_free(e);
		}
	}
	a->obj = route_obj(a);
	return route_lines(a);
}

/* The routes of service v, which has hosts: one for its exact names, one
 * for each length of its wildcards. */
static int
host_routes(struct svc *v)
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
	else if (add_route(v, exact, 0, 0) < 0)
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
		if (add_route(v, wild, 1, -len) < 0)
			return -1;
		done = len;
	}
}

/* The hosts and location of a service's value v (borrowed): [hosts,
 * location], or an object with members hosts and loc (as the shipped
 * template's services are), hosts null or an array of strings, location
 * a string.  0, or -1 with *h and *l null when v is neither. */
static int
where_of(jv v, jv *h, jv *l)
{
	int i, n, ok;

	*h = *l = jv_null();
	if (jv_get_kind(v) == JV_KIND_ARRAY &&
	    jv_array_length(jv_copy(v)) == 2) {
		*h = jv_array_get(jv_copy(v), 0);
		*l = jv_array_get(jv_copy(v), 1);
	} else if (jv_get_kind(v) == JV_KIND_OBJECT) {
		*h = jv_object_get(jv_copy(v), jv_string("hosts"));
		*l = jv_object_get(jv_copy(v), jv_string("loc"));
	}
	ok = jv_get_kind(*l) == JV_KIND_STRING;
	if (ok && jv_get_kind(*h) == JV_KIND_ARRAY) {
		n = jv_array_length(jv_copy(*h));
		for (i = 0; ok && i < n; i++) {
			jv e = jv_array_get(jv_copy(*h), i);

			ok = jv_get_kind(e) == JV_KIND_STRING;
			jv_free(e);
		}
	} else {
		ok = ok && jv_get_kind(*h) == JV_KIND_NULL;
	}
	if (ok)
		return 0;
	jv_free(*h);
	jv_free(*l);
	*h = *l = jv_null();
	return -1;
}

static void
svc_free(struct svc *v)
{
	size_t i, j;

	if (!v)
		return;
	for (i = 0; i < v->nr; i++) {
		for (j = 0; j < v->r[i].nl; j++)
			jv_free(v->r[i].l[j].line);
		free(v->r[i].l);
		jv_free(v->r[i].hosts);
		jv_free(v->r[i].obj);
	}
	free(v->r);
	jv_free(v->name);
	jv_free(v->val);
	jv_free(v->hosts);
	jv_free(v->loc);
	free(v->hk);
	free(v);
}

/* Service name (consumed) at val (consumed), not worked out yet. */
static struct svc *
svc_new(jv name, jv val)
{
	struct svc *v = calloc(1, sizeof(*v));

	if (!v) {
		jv_free(name);
		jv_free(val);
		return NULL;
	}
	v->name = name;
	v->names = str_of(name);
	v->val = val;
	v->hosts = jv_null();
	v->loc = jv_null();
	return v;
}

/* Is there in s a character that a substituted value may not contain
 * (its code point in *cp)?  The map's text is made of names, hosts and
 * locations as they are: none may hold a line break. */
static int
unsafe(jv s, uint32_t *cp)
{
	return tmpl_bad_char(jv_string_value(s),
			     (size_t)jv_string_length_bytes(jv_copy(s)),
			     cp) != (size_t)-1;
}

/* Work out v's hosts key and routes: 0; 1 when its value has no hosts
 * and location (where_of), 2 when its name, a host or its location holds a
 * character that a substituted value may not (*cp); -1 when out of memory. (Its
 * routes are made whether it gets them or not: what the first of its
 * place would get.) */
static int
svc_work(struct svc *v, uint32_t *cp)
{
	struct buf b = {0};
	int i, n, bad;

	jv_free(v->hosts);
	jv_free(v->loc);
	if (where_of(v->val, &v->hosts, &v->loc) < 0)
		return 1;
	v->locs = str_of(v->loc);
	if (unsafe(v->name, cp) || unsafe(v->loc, cp))
		return 2;
	if (jv_get_kind(v->hosts) == JV_KIND_NULL) {
		if (v->locs.n == 1 && v->locs.p[0] == '/')
			return 0; /* the default, no route */
		return add_route(v, jv_null(), 2, 0);
	}
	n = jv_array_length(jv_copy(v->hosts));
	for (i = 0; i < n; i++) {
		jv h = jv_array_get(jv_copy(v->hosts), i);
		int r = buf_add(&b, jv_string_value(h),
				(size_t)jv_string_length_bytes(jv_copy(h)) + 1);

		bad = unsafe(h, cp);
		jv_free(h);
		if (r < 0 || bad) {
			buf_free(&b);
			return r < 0 ? -1 : 2;
		}
	}
	if (!b.p && buf_add(&b, "", 0) < 0)
		return -1;
	v->hk = b.p;
	v->hkn = b.len;
	return host_routes(v);
}

void
hap_routes_free(struct routes *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		svc_free(c->byname[i]);
	free(c->byname);
	free(c->bywhere);
	free(c->rt);
	jv_free(c->where);
	jv_free(c->res);
	free(c);
}

/* Whether value x (borrowed) gives v the hosts and location it has; if
 * so, x becomes v's value (a service whose servers changed, say). */
static int
takes_value(struct svc *v, jv x)
{
	jv h, l;
	int same;

	if (where_of(x, &h, &l) < 0)
		return 0;
	same = jv_equal(h, jv_copy(v->hosts));
	same = jv_equal(l, jv_copy(v->loc)) && same;
	if (same) {
		jv_free(v->val);
		v->val = jv_copy(x);
	}
	return same;
}

/* The services of where that are not in c as they were, each worked
 * out, in name order, into *fresh (*nf of them); those of c that left
 * or changed marked gone.  Both in name order, walked side by side.  0;
 * -1 with *err (a message) when a value is not [hosts, location] or
 * memory ran out, c left as it was. */
static int
changes(struct routes *c, jv where, struct svc ***fresh, size_t *nf, jv *err)
{
	struct svc **f = NULL, **nw;
	struct tmpl_kv *e;
	size_t i, j, ne, n = 0;
	uint32_t cp = 0, cp2;
	int d, r;

	/* (in name order: a dirmap gives its names so, no sort then) */
	if (!(e = tmpl_kv_of(where, &ne))) {
		*err = jv_invalid_with_msg(jv_string("out of memory"));
		return -1;
	}
	if (tmpl_kv_ordered(e, ne) < ne)
		qsort(e, ne, sizeof(*e), tmpl_kv_cmp);
	for (i = j = 0; i < c->n || j < ne;) {
		d = i == c->n ? 1
		    : j == ne
			? -1
			: bytes_cmp(c->byname[i]->names.p,
				    c->byname[i]->names.n, e[j].p, e[j].n);
		if (d < 0) {
			c->byname[i++]->gone = 1;
			continue;
		}
		if (d == 0) {
			struct svc *v = c->byname[i++];

			v->gone = !jv_equal(jv_copy(e[j].v), jv_copy(v->val)) &&
				  !takes_value(v, e[j].v);
			if (!v->gone) {
				j++;
				continue;
			}
		}
		if (!(nw = array_grow(f, n, sizeof(*f))))
			goto nomem;
		f = nw;
		if (!(f[n] = svc_new(jv_copy(e[j].k), jv_copy(e[j].v))))
			goto nomem;
		n++;
		j++;
	}
	for (i = 0; i < n; i++) {
		if ((r = svc_work(f[i], &cp)) < 0)
			goto nomem;
		if (r == 1) {
			*err = jv_invalid_with_msg(jv_string_fmt(
			    "haproxy_routes: %s: not [hosts, location] nor {hosts, loc}",
			    jv_string_value(f[i]->name)));
			goto fail;
		}
		if (r == 2) {
			/* (the name shown only when it is not the culprit) */
			*err = jv_invalid_with_msg(jv_string_fmt(
			    "haproxy_routes: %s: control character U+%04X in its name, hosts or location",
			    unsafe(f[i]->name, &cp2)
				? "a service"
				: jv_string_value(f[i]->name),
			    (unsigned)cp));
			goto fail;
		}
	}
	*fresh = f;
	*nf = n;
	tmpl_kv_free(e, ne);
	return 0;
nomem:
	*err = jv_invalid_with_msg(jv_string("out of memory"));
fail:
	for (i = 0; i < n; i++)
		svc_free(f[i]);
	free(f);
	tmpl_kv_free(e, ne);
	return -1;
}

/* c->bywhere in order, each its place's first or not: want (the first,
 * with routes), the default (the first of any host at "/") and dup. */
static jv
places(struct routes *c, jv *def)
{
	jv dup = jv_array();
	size_t i, j;

	for (i = 0; i < c->n; i = j) {
		struct svc *w = c->bywhere[i];

		w->want = w->nr > 0;
		if (!w->hk && w->locs.n == 1 && w->locs.p[0] == '/' &&
		    jv_get_kind(*def) == JV_KIND_NULL)
			*def = jv_copy(w->name);
		for (j = i + 1; j < c->n && same_where(w, c->bywhere[j]); j++) {
			struct svc *v = c->bywhere[j];
			jv d = jv_object();

			v->want = 0;
			d = jv_object_set(d, jv_string("name"),
					  jv_copy(v->name));
			d = jv_object_set(d, jv_string("hosts"),
					  jv_copy(v->hosts));
			d = jv_object_set(d, jv_string("loc"), jv_copy(v->loc));
			d = jv_object_set(d, jv_string("winner"),
					  jv_copy(w->name));
			dup = jv_array_append(dup, d);
		}
	}
	return dup;
}

/* The routes table of c brought to what each service wants: -1 when out
 * of memory. */
static int
table(struct routes *c)
{
	struct route **keep, **add = NULL, **nw;
	size_t i, j, nk = 0, na = 0;

	if (!(keep = malloc((c->nrt + 1) * sizeof(*keep))))
		return -1;
	for (i = 0; i < c->nrt; i++)
		if (!c->rt[i]->s->gone && c->rt[i]->s->want)
			keep[nk++] = c->rt[i];
	for (i = 0; i < c->n; i++) {
		struct svc *v = c->byname[i];

		if (v->want && !v->in)
			for (j = 0; j < v->nr; j++) {
				if (!(nw = array_grow(add, na, sizeof(*add)))) {
					free(add);
					free(keep);
					return -1;
				}
				add = nw;
				add[na++] = &v->r[j];
			}
	}
	if (na)
		qsort(add, na, sizeof(*add), by_route);
	if (!(nw = malloc((nk + na + 1) * sizeof(*nw)))) {
		free(add);
		free(keep);
		return -1;
	}
	merge((void **)nw, (void **)keep, nk, (void **)add, na, by_route);
	free(add);
	free(keep);
	free(c->rt);
	c->rt = nw;
	c->nrt = nk + na;
	for (i = 0; i < c->n; i++)
		c->byname[i]->in = c->byname[i]->want;
	return 0;
}

/* The table's lines as one map_beg map, in order (the first of a key
 * keeps it), then the default's: as an array in *map, as text in *text,
 * each line after a newline.  0, or -1 when out of memory.
 *
 * KEY is the host, ".domain" for a wildcard or nothing for any host,
 * followed by the location.  The longest key that begins a request's
 * host and path is the route of the longest location for that host:
 * the lookup order of tmpl(1) is the one of the routes, a host at a
 * time. */
static int
route_map(const struct routes *c, jv def, jv *map, jv *text)
{
	const struct line **seen;
	struct buf b = {0};
	size_t i, j, n = 0, size = 16, slot;

	for (i = 0; i < c->nrt; i++)
		n += c->rt[i]->nl;
	while (size < 2 * n)
		size *= 2;
	if (!(seen = calloc(size, sizeof(*seen))))
		return -1;
	*map = jv_array_sized((int)n + 1);
	for (i = 0; i < c->nrt; i++)
		for (j = 0; j < c->rt[i]->nl; j++) {
			const struct line *l = &c->rt[i]->l[j];
			const char *p = jv_string_value(l->line);
			size_t len =
			    (size_t)jv_string_length_bytes(jv_copy(l->line));

			for (slot = l->h & (size - 1); seen[slot];
			     slot = (slot + 1) & (size - 1))
				if (seen[slot]->klen == l->klen &&
				    !memcmp(jv_string_value(seen[slot]->line),
					    p, l->klen))
					break;
			if (seen[slot])
				continue;
			seen[slot] = l;
			*map = jv_array_append(*map, jv_copy(l->line));
			if (buf_add(&b, "\n", 1) < 0 || buf_add(&b, p, len) < 0)
				goto nomem;
		}
	free(seen);
	if (jv_get_kind(def) == JV_KIND_STRING) {
		*map = jv_array_append(
		    *map, jv_string_fmt("/ %s", jv_string_value(def)));
		if (buf_printf(&b, "\n/ %s", jv_string_value(def)) < 0)
			goto nomem2;
	}
	*text = jv_string_sized(b.p ? b.p : "", (int)b.len);
	buf_free(&b);
	return 0;
nomem:
	free(seen);
nomem2:
	buf_free(&b);
	jv_free(*map);
	return -1;
}

/* haproxy_routes of where (borrowed), *cp keeping what it needs to
 * work out the next call's from this one's: see tmpl(1). */
jv
hap_routes(struct routes **cp, jv where)
{
	struct routes *c = *cp;
	struct svc **fresh = NULL, **byname, **bywhere, **gone;
	jv res, dup, def = jv_null(), map, text, list;
	size_t nf = 0, i, nk, ng = 0;
	long most = 0;
	int r;

	if (jv_get_kind(where) != JV_KIND_OBJECT)
		return jv_invalid_with_msg(
		    jv_string("haproxy_routes: the input is not an object"));
	if (!c) {
		if (!(c = calloc(1, sizeof(*c))))
			return jv_invalid_with_msg(jv_string("out of memory"));
		c->where = jv_object();
		c->res = jv_null();
		*cp = c;
	}
	if (jv_identical(jv_copy(where), jv_copy(c->where)) &&
	    jv_get_kind(c->res) == JV_KIND_OBJECT)
		return jv_copy(c->res);
	if (changes(c, where, &fresh, &nf, &res) < 0)
		return res;
	/* (no service came, left or moved: the routes are as they were) */
	for (i = 0; !nf && i < c->n && !c->byname[i]->gone; i++)
		;
	if (!nf && i == c->n && jv_get_kind(c->res) == JV_KIND_OBJECT) {
		free(fresh);
		jv_free(c->where);
		c->where = jv_copy(where);
		return jv_copy(c->res);
	}
	/* The orders: those that stay, the fresh merged in; the gone kept
	 * aside until the table has let go of their routes. */
	byname = malloc((c->n + nf + 1) * sizeof(*byname));
	bywhere = malloc((c->n + nf + 1) * sizeof(*bywhere));
	gone = malloc((c->n + 1) * sizeof(*gone));
	if (!byname || !bywhere || !gone) {
		free(byname);
		free(bywhere);
		free(gone);
		for (i = 0; i < nf; i++)
			svc_free(fresh[i]);
		free(fresh);
		return jv_invalid_with_msg(jv_string("out of memory"));
	}
	for (i = nk = 0; i < c->n; i++)
		if (!c->byname[i]->gone)
			c->byname[nk++] = c->byname[i];
		else
			gone[ng++] = c->byname[i];
	merge((void **)byname, (void **)c->byname, nk, (void **)fresh, nf,
	      by_name);
	for (i = nk = 0; i < c->n; i++)
		if (!c->bywhere[i]->gone)
			c->bywhere[nk++] = c->bywhere[i];
	if (nf)
		qsort(fresh, nf, sizeof(*fresh), by_where);
	merge((void **)bywhere, (void **)c->bywhere, nk, (void **)fresh, nf,
	      by_where);
	free(fresh);
	free(c->byname);
	free(c->bywhere);
	c->byname = byname;
	c->bywhere = bywhere;
	c->n = nk + nf;
	dup = places(c, &def);
	r = table(c);
	for (i = 0; i < ng; i++)
		svc_free(gone[i]);
	free(gone);
	if (r < 0)
		goto nomem;
	if (route_map(c, def, &map, &text) < 0)
		goto nomem;
	list = jv_array_sized((int)c->nrt);
	for (i = 0; i < c->nrt; i++)
		list = jv_array_append(list, jv_copy(c->rt[i]->obj));
	res = jv_object_set(jv_object(), jv_string("map"), map);
	res = jv_object_set(res, jv_string("text"), text);
	for (i = 0; i < c->nrt; i++)
		if (c->rt[i]->dots > most)
			most = c->rt[i]->dots;
	res = jv_object_set(res, jv_string("depth"), jv_number((double)most));
	res = jv_object_set(res, jv_string("default"), def);
	res = jv_object_set(res, jv_string("routes"), list);
	res = jv_object_set(res, jv_string("dup"), dup);
	jv_free(c->where);
	jv_free(c->res);
	c->where = jv_copy(where);
	c->res = jv_copy(res);
	return res;
nomem:
	jv_free(dup);
	jv_free(def);
	/* (what is kept may be half way: forgotten, the next call starts
	 * again from nothing) */
	hap_routes_free(c);
	*cp = NULL;
	return jv_invalid_with_msg(jv_string("out of memory"));
}
