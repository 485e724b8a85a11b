/* The insides of the template engine, shared by its files; the public
 * API is tmpl.h.
 *
 * A template and its includes are parsed into a small tree of nodes, then
 * translated into ONE jq program, which outputs numbers, the marks of
 * marks.h, that stand for literal text and announce each
 * substituted value.  The renderer turns that stream back into text,
 * checking every value against the control-character rule on the way.
 * One program means one jq compile (jq 1.6 re-parses its builtins at each
 * compile) and lexical scoping of "range ... as $x" variables for free.
 *
 * The files, in the order a template goes through them:
 *   parse.c    text to the tree of nodes; a template's creation and
 *              release;
 *   gen.c      the tree to the jq program, each dirmap() call numbered;
 *   call.c     compilation, and libjq's callbacks, through which the
 *              program calls the helpers written in C: the engine's own
 *              (a table) and those of the sets the caller brings;
 *   keys.c     the sorted keys of the data, for ls, lsdir, under, gets
 *              and tree;
 *   memo.c     what memo() and {{ memo }} keep from render to render;
 *   inc.c      the keys changed since the last render, and what dirmap()
 *              and {{ each }} keep per directory, so that a render works
 *              out only the directories that changed;
 *   render.c   the program's output back to text, every value checked.
 * The engine knows nothing of haproxy or easy-lb: their helpers are a
 * set of lib/easylb/, which tmpl.h's API for helpers serves.
 * Only what crosses files is declared here. */
#ifndef EASYLB_TMPL_INT_H
#define EASYLB_TMPL_INT_H

#include <stdio.h>

#include <jq.h>

#include "tmpl/tmpl.h"
#include "tmpl/marks.h"

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

/* The parts of a template that its modules own, each made and released
 * by its module (the init and free functions below). */

/* call.c: libjq's state, the first message of its compile, the answer to
 * the last request of __ccall for jq's input to hand back, and the
 * helpers written in C by tag, each set's state beside. */
struct calls {
	jq_state *jq;
	struct buf jqerr;
	jv reply;
	struct call *list;
	size_t n;
	const struct tmpl_helpers **sets;
	void **states;
	size_t nsets;
};

/* memo.c: what memo() and {{ memo }} keep (a hash table of struct
 * mentry), the memo() keys being computed in this render, and the
 * identity-keyed hashes of large arrays and objects met in memo keys. */
struct memos {
	struct mentry **tab;
	size_t cap, count;
	struct miss *miss;
	size_t nmiss;
	struct hcache *hc;
	size_t nhc;
};

/* inc.c: whether the caller reports the changes, those since the last
 * render (an array of keys; all set when anything may have changed),
 * what dirmap() calls and {{ each }} blocks keep, the one being handed
 * from its request to its first mark, and the blocks open in the
 * renderer. */
struct incs {
	int tracking, all_changed;
	jv changed;
	struct inst **insts;
	size_t ninsts;
	long long serial;
	struct inst *each_pending;
	struct open_each *eachs;
	size_t neachs;
};

/* keys.c: the data of the render in progress and its keys in byte order
 * (rk) and in the order of their normal form ("/a/b", nk), n of them;
 * kept from one render to the next (valid) when the changes are known;
 * odd keys are not in normal form. */
struct keys {
	int valid;
	size_t odd;
	jv data;
	struct kref **rk, **nk;
	size_t n, cap;
};

/* render.c: the {{ memo }} blocks open, and the answer to the last block
 * request (memo.c's memo_block_get). */
struct renders {
	struct open_block *blocks;
	size_t nblocks;
	jv block_key, block_hit;
	size_t block_num;
};

/* A template: its program (parse.c, gen.c), the warnings of the last
 * render, and the parts above. */
struct tmpl {
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
	int need_tree; /* some expression says "tree" */
	int nomem;
	double renders;
	size_t nmemos;	    /* {{ memo }} and {{ each }} blocks */
	char *is_each;	    /* per block: 1 an {{ each }} block, 2 a list */
	struct list *lists; /* per block, for lists */
	size_t ndirmaps;    /* dirmap() calls in the program */
	struct calls call;
	struct memos memo;
	struct incs inc;
	struct keys keys;
	struct renders render;
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

/* call.c */

/* Gather the engine's helpers and those of sets (NULL-ended, borrowed
 * for t's life; NULL: none), each set's state made: 0, or -1 with err
 * (out of memory, or two helpers of one name). */
int calls_init(struct tmpl *t, const struct tmpl_helpers *const *sets,
	       struct tmpl_err *err);
/* The jq definitions of the helpers, for the program to define after
 * __norm and before gets: -1 when out of memory. */
int calls_defs(struct tmpl *t, struct buf *prog);
/* Release the states, the table and libjq's state. */
void calls_free(struct tmpl *t);

/* gen.c */

/* Write the program of t (its tree and tables borrowed) into t->prog;
 * -1 when out of memory. */
int gen_program(struct tmpl *t);

/* keys.c: the index is built by keys_load, or updated with the
 * changes of tmpl_changed when it is still valid; t->data lives from
 * keys_load to keys_free, one render. */

/* Make the part: no data. */
void keys_init(struct tmpl *t);
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
/* The answers of ls (dirs 0), lsdir (dirs 1), under and gets' scan for
 * the directory d or the prefix p (dn or n bytes, borrowed), as new jv. */
jv keys_ls(struct tmpl *t, const char *d, size_t dn, int dirs);
jv keys_under(struct tmpl *t, const char *d, size_t dn);
jv keys_scan(struct tmpl *t, const char *p, size_t n);
/* tree: data (borrowed, an object) nested by path segment; an invalid jv
 * with a message when out of memory. */
jv keys_tree(jv data);

/* memo.c: block -1 is memo(), block b >= 0 the {{ memo }} block
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
/* Forget everything, and release the store (the part is made empty:
 * all zero). */
void memo_free(struct tmpl *t);

/* inc.c: the helpers of dirmap() and {{ each }} (their rows in call.c's
 * table), the renderer's side of {{ each }}, and the end of a render. */
void inc_init(struct tmpl *t);
jv inc_dm(struct tmpl *t, void *st, jv *a);
jv inc_dm_put(struct tmpl *t, void *st, jv *a);
jv inc_dm_end(struct tmpl *t, void *st, jv *a);
jv inc_each(struct tmpl *t, void *st, jv *a);

int each_mark(struct tmpl *t, enum mark m, jv name, struct buf *out,
	      size_t max_output, char *why, size_t whylen);
void inc_render_end(struct tmpl *t, int ok);
void inc_free(struct tmpl *t);

/* render.c: the part made (no block open), and released. */
void render_init(struct tmpl *t);
void render_free(struct tmpl *t);

#endif
