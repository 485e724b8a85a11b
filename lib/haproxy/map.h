/* The haproxy maps a configuration carries for hap-reload: blocks that
 * it installs as files beside the configuration and changes at run time
 * with "add map", "set map" and "del map".  Pure functions of their input
 * buffers, like hapcfg. */
#ifndef EASYLB_HAPMAP_H
#define EASYLB_HAPMAP_H

#include <stddef.h>

#include "util/util.h"

/* One block: the lines from "@map PATH" to "@end". */
struct hapmap {
	char *path;	 /* PATH, as written */
	struct buf text; /* the lines between, as the file gets them */
	size_t from, at; /* the line that opened it: the at-th from the
			    line at offset from (hapmap_line) */
};

/* Take the blocks out of text (in place: what is left is the
 * configuration) into *maps (*nmaps of them).  Returns 0, or -1 with err
 * naming the line of what is wrong (text then in pieces): a block not
 * closed, a path that is not absolute or not one word, the same path
 * twice, an entry without a value, a control character. */
int hapmap_split(struct buf *text, struct hapmap **maps, size_t *nmaps,
		 char *err, size_t errlen);
void hapmap_free(struct hapmap *m, size_t n);
/* The line of the input that opened m, counted in the text hapmap_split
 * left (the same as the input up to the first block): counted only when
 * a message needs it, the lines before a map being most of a file. */
size_t hapmap_line(const struct hapmap *m, const char *text);

enum hapmap_opkind {
	HAPMAP_ADD, /* add map PATH KEY VALUE */
	HAPMAP_SET, /* set map PATH KEY VALUE */
	HAPMAP_DEL, /* del map PATH KEY */
};

struct hapmap_op {
	enum hapmap_opkind kind;
	char *key, *value; /* value NULL for DEL */
};

struct hapmap_plan {
	int runtime;   /* 1: the ops below apply the whole change */
	char why[256]; /* runtime == 0: the first reason they cannot */
	struct hapmap_op *ops;
	size_t nops;
	unsigned nadd, ndel, nchg;
};

/* The operations that turn the entries of one map text into those of
 * another (comments and blank lines aside).  runtime is 0 when a key
 * comes twice (haproxy would keep both) or a word could not be passed to
 * the runtime API as it is.  Returns 0, or -1 when memory ran out. */
int hapmap_diff(const char *old, size_t oldlen, const char *new, size_t newlen,
		struct hapmap_plan *p);
void hapmap_plan_free(struct hapmap_plan *p);

/* Replace in map text every value equal to from[i] with to[i].  Returns
 * 0, or -1 when memory ran out (text untouched). */
int hapmap_rename(struct buf *text, char *const *from, char *const *to,
		  size_t n);

#endif
