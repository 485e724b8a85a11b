/* The memo store: what memo(k; f) and {{ memo KEY }} blocks keep under
 * their key, from one render to the next, until a render does not use
 * it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl/int.h"

/* An entry of the memo table: under (block, key) the outputs of memo()
 * (block -1) or the text of a {{ memo }} block, the warnings that came
 * with them, and the render that last used them. */
struct mentry {
	struct mentry *next;
	uint64_t h;
	long block;
	jv key, payload, warns;
	double used;
};

/* The hash of a large array or object, kept for the value itself (a
 * copy, so that no other value can take its place in memory): when a
 * memo key holds a value that a memo or dirmap() gave, the same value
 * comes back from render to render, and is hashed and compared in O(1)
 * (jv_equal knows values that are the same). */
struct hcache {
	jv v;
	uint64_t h;
	double used;
};

#define HCACHE_MIN 64 /* elements of the values worth it */
#define HCACHE_MAX 16 /* values kept */

/* A memo() key whose outputs are being computed, and where its warnings
 * begin. */
struct miss {
	jv key;
	size_t warns;
};

/* A hash of v (borrowed) that equal values share, as jv_equal sees
 * them: the order of an object's keys does not count. */
static uint64_t jhash(struct tmpl *t, jv v);

/* jhash of array or object v (borrowed) through the cache: the hash
 * kept for the same value, or f's, kept when v has many elements (its
 * length is O(n) to ask for an object in jq 1.6: counted by f). */
static uint64_t
jhash_big(struct tmpl *t, jv v, uint64_t (*f)(struct tmpl *, jv, int *))
{
	size_t i, old = 0;
	uint64_t h;
	struct hcache *c;
	int n = 0;

	for (i = 0; i < t->memo.nhc; i++)
		if (jv_identical(jv_copy(t->memo.hc[i].v), jv_copy(v))) {
			t->memo.hc[i].used = t->renders;
			return t->memo.hc[i].h;
		}
	h = f(t, v, &n);
	if (n < HCACHE_MIN)
		return h;
	if (t->memo.nhc == HCACHE_MAX) {
		for (i = 1; i < t->memo.nhc; i++)
			if (t->memo.hc[i].used < t->memo.hc[old].used)
				old = i;
		jv_free(t->memo.hc[old].v);
		t->memo.hc[old] = t->memo.hc[--t->memo.nhc];
	}
	if ((c = array_grow(t->memo.hc, t->memo.nhc, sizeof(*c)))) {
		t->memo.hc = c;
		c[t->memo.nhc].v = jv_copy(v);
		c[t->memo.nhc].h = h;
		c[t->memo.nhc++].used = t->renders;
	}
	return h;
}

static uint64_t
jhash_array(struct tmpl *t, jv v, int *count)
{
	uint64_t h = 7;
	int i, n = jv_array_length(jv_copy(v));

	*count = n;
	for (i = 0; i < n; i++) {
		jv e = jv_array_get(jv_copy(v), i);
		h = h * 31 + jhash(t, e);
		jv_free(e);
	}
	return h;
}

static uint64_t
jhash_object(struct tmpl *t, jv v, int *count)
{
	uint64_t h = 11;

	jv_object_foreach(v, k, e)
	{
		++*count;
		h += (jv_string_hash(k) + 1) * 0xc4ceb9fe1a85ec53ULL ^
		     jhash(t, e);
		jv_free(e);
	}
	return h;
}

static uint64_t
jhash(struct tmpl *t, jv v)
{
	uint64_t h;
	double d;

	switch (jv_get_kind(v)) {
	case JV_KIND_NUMBER:
		d = jv_number_value(v);
		if (d == 0)
			d = 0; /* -0 and 0 are equal */
		memcpy(&h, &d, sizeof(h));
		return h * 0x9e3779b97f4a7c15ULL + 5;
	case JV_KIND_STRING:
		return jv_string_hash(jv_copy(v)) * 0xff51afd7ed558ccdULL + 6;
	case JV_KIND_ARRAY:
		return jhash_big(t, v, jhash_array);
	case JV_KIND_OBJECT:
		return jhash_big(t, v, jhash_object);
	default:
		return (uint64_t)jv_get_kind(v);
	}
}

static struct mentry **
memo_slot(struct tmpl *t, long block, jv key, uint64_t h)
{
	struct mentry **e;

	if (!t->memo.cap)
		return NULL;
	for (e = &t->memo.tab[h & (t->memo.cap - 1)]; *e; e = &(*e)->next)
		if ((*e)->h == h && (*e)->block == block &&
		    jv_equal(jv_copy((*e)->key), jv_copy(key)))
			return e;
	return e;
}

/* The outputs or text kept under (block, key) (key consumed), now used
 * by this render, their warnings given again; jv_invalid() when none is
 * kept. */
static jv
memo_use(struct tmpl *t, long block, jv key)
{
	uint64_t h = jhash(t, key) + (uint64_t)block;
	struct mentry **e = memo_slot(t, block, key, h);

	jv_free(key);
	if (!e || !*e)
		return jv_invalid();
	buf_add(&t->warns, jv_string_value((*e)->warns),
		(size_t)jv_string_length_bytes(jv_copy((*e)->warns)));
	(*e)->used = t->renders;
	return jv_copy((*e)->payload);
}

/* Keep p under (block, key), all consumed, with the warnings given since
 * offset from. */
void
memo_keep(struct tmpl *t, long block, jv key, jv p, size_t from)
{
	uint64_t h = jhash(t, key) + (uint64_t)block;
	struct mentry **slot, *e;

	if (t->memo.count >= t->memo.cap) {
		size_t nc = t->memo.cap ? 2 * t->memo.cap : 256, i;
		struct mentry **nt = calloc(nc, sizeof(*nt));

		if (nt) {
			for (i = 0; i < t->memo.cap; i++)
				while ((e = t->memo.tab[i])) {
					t->memo.tab[i] = e->next;
					e->next = nt[e->h & (nc - 1)];
					nt[e->h & (nc - 1)] = e;
				}
			free(t->memo.tab);
			t->memo.tab = nt;
			t->memo.cap = nc;
		}
	}
	if (from > t->warns.len)
		from = t->warns.len;
	if (!(slot = memo_slot(t, block, key, h)) ||
	    (!*slot && !(*slot = calloc(1, sizeof(**slot))))) {
		/* Out of memory: not kept, computed again next time. */
		jv_free(key);
		jv_free(p);
		return;
	}
	e = *slot;
	if (e->h == h && e->block == block && jv_is_valid(e->key)) {
		jv_free(e->payload);
		jv_free(e->warns);
		jv_free(key);
	} else {
		e->h = h;
		e->block = block;
		e->key = key;
		t->memo.count++;
	}
	e->payload = p;
	e->warns = jv_string_sized(t->warns.p ? t->warns.p + from : "",
				   (int)(t->warns.len - from));
	e->used = t->renders;
}

/* memo(k; f) asks for key k: the outputs of f kept for k, or null for a
 * miss, k then noted as being computed. */
jv
memo_get(struct tmpl *t, jv key)
{
	jv p = memo_use(t, -1, jv_copy(key));

	if (jv_is_valid(p)) {
		jv_free(key);
		return p;
	}
	{
		void *nm = array_grow(t->memo.miss, t->memo.nmiss,
				      sizeof(*t->memo.miss));

		if (!nm) {
			jv_free(key);
			return jv_null();
		}
		t->memo.miss = nm;
	}
	t->memo.miss[t->memo.nmiss].key = key;
	t->memo.miss[t->memo.nmiss++].warns = t->warns.len;
	return jv_null();
}

/* f's outputs for key, with the warnings f gave since the miss (the
 * newest miss of that key: memo() calls nest). */
void
memo_put(struct tmpl *t, jv key, jv outs)
{
	size_t from = t->warns.len, i = t->memo.nmiss;

	while (i > 0 &&
	       !jv_equal(jv_copy(t->memo.miss[i - 1].key), jv_copy(key)))
		i--;
	if (i > 0) {
		from = t->memo.miss[i - 1].warns;
		/* Those above it were left by errors caught on the way. */
		while (t->memo.nmiss >= i)
			jv_free(t->memo.miss[--t->memo.nmiss].key);
	}
	memo_keep(t, -1, key, outs, from);
}

/* A {{ memo }} block asks for the text kept under its key: the answer is
 * true (and the text in block_hit) or false (and the key in block_key,
 * for the body that follows). */
jv
memo_block_get(struct tmpl *t, jv b, jv key)
{
	jv_free(t->render.block_hit);
	jv_free(t->render.block_key);
	t->render.block_num = (size_t)jv_number_value(b);
	jv_free(b);
	t->render.block_hit =
	    memo_use(t, (long)t->render.block_num, jv_copy(key));
	t->render.block_key = jv_invalid();
	if (jv_is_valid(t->render.block_hit)) {
		jv_free(key);
		return jv_true();
	}
	t->render.block_key = key;
	return jv_false();
}

/* Drop what the last render did not use. */
void
memo_sweep(struct tmpl *t)
{
	struct mentry **e, *dead;
	size_t i;

	for (i = 0; i < t->memo.cap; i++)
		for (e = &t->memo.tab[i]; *e;) {
			if ((*e)->used == t->renders) {
				e = &(*e)->next;
				continue;
			}
			dead = *e;
			*e = dead->next;
			jv_free(dead->key);
			jv_free(dead->payload);
			jv_free(dead->warns);
			free(dead);
			t->memo.count--;
		}
	while (t->memo.nmiss)
		jv_free(t->memo.miss[--t->memo.nmiss].key);
	for (i = 0; i < t->memo.nhc;) {
		if (t->memo.hc[i].used == t->renders) {
			i++;
			continue;
		}
		jv_free(t->memo.hc[i].v);
		t->memo.hc[i] = t->memo.hc[--t->memo.nhc];
	}
}

void
memo_free(struct tmpl *t)
{
	t->renders = -1; /* nothing was used by it: all goes */
	memo_sweep(t);
	free(t->memo.tab);
	free(t->memo.miss);
	free(t->memo.hc);
}
