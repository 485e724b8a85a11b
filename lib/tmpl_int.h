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
 *   tmpl_gen.c     the tree to the jq program;
 *   tmpl_call.c    compilation, and libjq's callbacks, through which the
 *                  program calls the helpers written in C;
 *   tmpl_keys.c    the sorted keys of the data, for ls, lsdir, under,
 *                  gets and tree;
 *   tmpl_memo.c    what memo() and {{ memo }} keep from render to render;
 *   tmpl_render.c  the program's output back to text, every value
 *                  checked.
 * Only what crosses files is declared here. */
#ifndef EASYLB_TMPL_INT_H
#define EASYLB_TMPL_INT_H

#include <stdio.h>

#include <jq.h>

#include "tmpl.h"

enum ntype { N_TEXT, N_EXPR, N_RANGE, N_IF, N_INCLUDE, N_MEMO };

struct node {
	enum ntype type;
	size_t lit;  /* N_TEXT: literal number */
	size_t expr; /* N_EXPR, N_RANGE, N_IF, N_MEMO: expression number */
	size_t memo; /* N_MEMO: block number */
	char *pat;   /* N_RANGE: binding pattern after "as", or NULL */
	struct node *body, *alt; /* range body/else; if then/else */
	struct node *next;
};

struct expr {
	size_t file; /* index into files */
	int line, col;
	int raw;
	char *code;
	int pline0, pline1; /* lines of the code in the program */
};

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
	size_t nmemos; /* {{ memo }} blocks */
	/* The render in progress: its data, its keys in byte order and in
	 * the order of their normal form ("/a/b"), the {{ memo }} blocks
	 * open and the answer to the last block request. */
	jv data;
	struct kref *rk, *nk;
	size_t nkeys;
	struct open_block *blocks;
	size_t nblocks;
	jv block_key, block_hit;
	size_t block_num;
};

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

/* tmpl_gen.c */

/* Write the program of t (its tree and tables borrowed) into t->prog;
 * -1 when out of memory. */
int gen_program(struct tmpl *t);

/* tmpl_keys.c: the index lives from keys_load to keys_free, one render. */

/* Index the keys of data (borrowed; a copy is kept as t->data); -1 when
 * out of memory. */
int keys_load(struct tmpl *t, jv data);
/* Release the index and t->data. */
void keys_free(struct tmpl *t);
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

#endif
