/* The insides of the template engine, shared by its files; the public
 * API is tmpl.h.
 *
 * A template and its includes are parsed into a small tree of nodes, then
 * translated into ONE jq program, which outputs numbers, the marks of
 * tmpl_marks.h, that stand for literal text and announce each
 * substituted value.  The renderer turns that stream back into text,
 * checking every value against the control-character rule on the way.
 * One program means one jq compile (jq 1.6 re-parses its builtins at each
 * compile) and lexical scoping of "range ... as $x" variables for free.
 *
 * The files, in the order a template goes through them:
 *   tmpl_parse.c   text to the tree of nodes; a template's creation and
 *                  release;
 *   tmpl_gen.c     the tree to the jq program, each dirmap() call
 *                  numbered;
 *   tmpl_call.c    compilation, and libjq's callbacks, through which the
 *                  program calls the helpers written in C;
 *   tmpl_keys.c    the sorted keys of the data, for ls, lsdir, under,
 *                  gets and tree;
 *   tmpl_memo.c    what memo() and {{ memo }} keep from render to render;
 *   tmpl_inc.c     the keys changed since the last render, and what
 *                  dirmap() and {{ each }} keep per directory, so that a
 *                  render works out only the directories that changed;
 *   tmpl_hap.c     the haproxy helpers: values checked, in C;
 *   tmpl_render.c  the program's output back to text, every value
 *                  checked.
 * Only what crosses files is declared here. */
#ifndef EASYLB_TMPL_INT_H
#define EASYLB_TMPL_INT_H

#include <stdio.h>

#include <jq.h>

#include "tmpl.h"
#include "tmpl_marks.h"

enum ntype { N_TEXT, N_EXPR, N_RANGE, N_IF, N_INCLUDE, N_MEMO, N_EACH };

struct node {
	enum ntype type;
	size_t lit;  /* N_TEXT: literal number */
	size_t expr; /* N_EXPR, N_RANGE, N_IF, N_MEMO, N_EACH: expression */
	size_t memo; /* N_MEMO, N_EACH: block number */
	size_t key;  /* N_EACH: the expression of its KEY, or (size_t)-1 */
	char *pat;   /* N_RANGE, N_EACH: binding pattern after "as", or NULL */
	struct node *body, *alt; /* range body/else; if then/else */
	struct node *next;
};

/* A range whose body is only the expression "." between two optional
 * texts renders its filter's outputs in C, from one array: the texts'
 * literal numbers ((size_t)-1 for none) and the expression. */
struct list {
	size_t before, expr, after;
};

struct expr {
	size_t file; /* index into files */
	int line, col;
	int raw;
	char *code;
	int pline0, pline1; /* lines of the code in the program */
};

struct tmpl {
	struct routes *routes; /* haproxy_routes' (tmpl_routes.c) */
	struct buf prog;
	struct buf warns; /* warn() and debug messages of the last render */
	int plines;	  /* newlines in prog so far */
	struct buf lits;
	size_t *litoff, *litlen, nlits;
	struct expr *exprs;
	size_t nexprs;
	char **files;
	size_t nfiles;
	struct node *root;
	jq_state *jq;
	struct buf jqerr; /* first message from jq's error callback */
	int need_tree;	  /* some expression says "tree" */
	int nomem;
	/* The answer to the last request of __ccall, for jq's input to
	 * hand back (tmpl_call.c). */
	jv ccall_reply;
	/* What memo() and {{ memo }} keep (a hash table of struct mentry)
	 * and the memo() keys being computed in this render. */
	struct mentry **mtab;
	size_t mcap, mcount;
	struct miss *miss;
	size_t nmiss;
	double renders;
	size_t nmemos;	    /* {{ memo }} and {{ each }} blocks */
	char *is_each;	    /* per block: 1 an {{ each }} block, 2 a list */
	struct list *lists; /* per block, for lists */
	size_t ndirmaps;    /* dirmap() calls in the program */
	/* Identity-keyed hashes of large arrays and objects met in memo
	 * keys (tmpl_memo.c). */
	struct hcache *hc;
	size_t nhc;
	/* Incremental renders (tmpl_inc.c): whether the caller reports the
	 * changes, those since the last render (an array of keys; all set
	 * when anything may have changed), what dirmap() calls and
	 * {{ each }} blocks keep, the one being handed from its request to
	 * its first mark, and the blocks open in the renderer. */
	int tracking, all_changed;
	jv changed;
	struct inst **insts;
	size_t ninsts;
	long long serial;
	struct inst *each_pending;
	struct open_each *eachs;
	size_t neachs;
	/* The key index is kept from one render to the next (kvalid) when
	 * the changes are known; kodd keys are not in normal form. */
	int kvalid;
	size_t kodd;
	/* The render in progress: its data, its keys in byte order and in
	 * the order of their normal form ("/a/b"), the {{ memo }} blocks
	 * open and the answer to the last block request. */
	jv data;
	struct kref **rk, **nk;
	size_t nkeys, kcap;
	struct open_block *blocks;
	size_t nblocks;
	jv block_key, block_hit;
	size_t block_num;
};

/* Characters of jq identifiers. */
static inline int
isidstart(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static inline int
isid(int c)
{
	return isidstart(c) || (c >= '0' && c <= '9');
}

static inline int
nomem(struct tmpl_err *err)
{
	err->kind = TMPL_ENOMEM;
	snprintf(err->msg, sizeof(err->msg), "out of memory");
	return -1;
}

/* tmpl_call.c */

/* The helpers that C answers, in jq, for the program to define after
 * __norm and before gets. */
extern const char ccall_defs[];
/* Put answer r (consumed) in the reply slot, for input to hand back;
 * returns 1. */
int ccall_answer(struct tmpl *t, jv r);

/* tmpl_gen.c */

/* Write the program of t (its tree and tables borrowed) into t->prog;
 * -1 when out of memory. */
int gen_program(struct tmpl *t);

/* tmpl_keys.c: the index is built by keys_load, or updated with the
 * changes of tmpl_changed when it is still valid; t->data lives from
 * keys_load to keys_free, one render. */

/* Index the keys of data (borrowed; a copy is kept as t->data); -1 when
 * out of memory. */
int keys_load(struct tmpl *t, jv data);
/* Release t->data. */
void keys_free(struct tmpl *t);
/* Release the index. */
void keys_drop(struct tmpl *t);
/* Are there keys below directory d (normal form, dn bytes)? */
int keys_dir_exists(struct tmpl *t, const char *d, size_t dn);
/* Is key s (n bytes) in normal form ("/a/b")?  keys_normal: its normal
 * form, a new string of *outn bytes, or NULL when out of memory. */
int keys_is_normal(const char *s, size_t n);
char *keys_normal(const char *s, size_t n, size_t *outn);
/* The directory argument d (consumed) of helper in normal form, a string;
 * an error naming helper when it is not a string. */
jv keys_dir(jv d, const char *helper);
/* Call f for each name directly below directory d (normal form, dn
 * bytes), in the order of ls: with the name (nm, nn bytes), the key raw
 * + "/" + name (borrowed) and its value (borrowed; invalid when there is
 * no such key, the name being a directory only). */
typedef void keys_child_fn(struct tmpl *t, const char *nm, size_t nn,
			   const struct buf *key, jv value, void *ctx);
int keys_children(struct tmpl *t, const char *raw, size_t rawn, const char *d,
		  size_t dn, keys_child_fn *f, void *ctx); /* -1: ENOMEM */
/* The answers of ls (dirs 0), lsdir (dirs 1), under and gets' scan for
 * the directory d or the prefix p (dn or n bytes, borrowed), as new jv. */
jv keys_ls(struct tmpl *t, const char *d, size_t dn, int dirs);
jv keys_under(struct tmpl *t, const char *d, size_t dn);
jv keys_scan(struct tmpl *t, const char *p, size_t n);
/* tree: data (borrowed, an object) nested by path segment; an invalid jv
 * with a message when out of memory. */
jv keys_tree(jv data);

/* tmpl_memo.c: block -1 is memo(), block b >= 0 the {{ memo }} block
 * numbered b. */

/* memo(k; f)'s lookup of key (consumed): the answer, a new array of the
 * outputs kept or null. */
jv memo_get(struct tmpl *t, jv key);
/* memo(k; f)'s outputs outs for key, both consumed, kept. */
void memo_put(struct tmpl *t, jv key, jv outs);
/* {{ memo }} block b's lookup of key, both consumed: the answer, true
 * with the text in t->block_hit or false with the key in t->block_key. */
jv memo_block_get(struct tmpl *t, jv b, jv key);
/* Keep p under (block, key), both jv consumed, with the warnings given
 * since offset from of t->warns. */
void memo_keep(struct tmpl *t, long block, jv key, jv p, size_t from);
/* Forget what the render numbered t->renders did not use. */
void memo_sweep(struct tmpl *t);
/* Forget everything, and release the store. */
void memo_free(struct tmpl *t);

/* tmpl_inc.c: the answers to the requests of dirmap() and {{ each }}
 * (msg borrowed, its tag tg and length n; 0 when msg is none of theirs),
 * the renderer's side of {{ each }}, and the end of a render. */
int inc_request(struct tmpl *t, const char *tg, int n, jv msg);

/* A name of an object and its value, both owned, and the name's bytes:
 * for walking or ordering an object by name (dirmap, haproxy_routes). */
struct tmpl_kv {
	jv k, v;
	const char *p;
	size_t n;
};
/* The entries of object o (borrowed) in its order, *n of them; NULL
 * when out of memory. */
struct tmpl_kv *kv_of(jv o, size_t *n);
/* How many of a[0, n) come first in name order (n: all). */
size_t kv_ordered(const struct tmpl_kv *a, size_t n);
/* qsort's comparison of two entries by name (bytewise). */
int kv_cmp(const void *a, const void *b);
void kv_free(struct tmpl_kv *a, size_t n);
int each_mark(struct tmpl *t, enum mark m, jv name, struct buf *out,
	      size_t max_output, char *why, size_t whylen);
void inc_render_end(struct tmpl *t, int ok);
void inc_free(struct tmpl *t);

/* tmpl_render.c: the offset of the first character of p[0, len) that a
 * substituted value may not contain (its code point in *cp), or
 * (size_t)-1. */
size_t bad_char(const char *p, size_t len, uint32_t *cp);
/* tmpl_render.c: append s (n bytes) to out: 0, 1 when out would grow
 * past max bytes, -1 when out of memory. */
int out_put(struct buf *out, const char *s, size_t n, size_t max);

/* tmpl_hap.c: the haproxy helpers' requests, as inc_request. */
int hap_request(struct tmpl *t, const char *tg, int n, jv msg);
/* haproxy_routes of where (borrowed), tmpl_routes.c: *c keeps what the
 * next call works its answer out from (NULL at first), until
 * hap_routes_free. */
struct routes;
jv hap_routes(struct routes **c, jv where);
void hap_routes_free(struct routes *c);
/* Append warning m (n bytes) to t->warns, one line, control characters
 * escaped, as warn() does. */
void warn_line(struct tmpl *t, const char *m, size_t n);

#endif
