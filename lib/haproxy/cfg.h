/* A haproxy configuration differ: decide whether the change from one
 * configuration to the next can be applied through the runtime API (only
 * server lines of existing backends changed) or needs a reload, and list
 * the runtime operations.  Pure functions of their input buffers: no I/O,
 * no global state, so the differ can be fuzzed. */
#ifndef EASYLB_HAPCFG_H
#define EASYLB_HAPCFG_H

#include <stddef.h>

enum hapcfg_opkind {
	HAPCFG_ADD,    /* add server, enable health, state ready */
	HAPCFG_DEL,    /* drain, maint, shutdown sessions, del server */
	HAPCFG_ADDR,   /* set server addr/port */
	HAPCFG_WEIGHT, /* set weight */
};

struct hapcfg_op {
	enum hapcfg_opkind kind;
	char *backend, *server;
	char *addr, *port; /* ADD and ADDR; port may be NULL for ADDR */
	char *args;	   /* ADD: options, default-server ones first */
	long weight;	   /* WEIGHT */
	int check;	   /* ADD: health checks to enable */
	int agent;	   /* ADD: agent checks to enable */
	int disabled;	   /* ADD: the server is declared disabled */
	int replace;	   /* DEL+ADD pair replacing a server in place */
};

/* One server the running process must have once the ops are applied. */
struct hapcfg_want {
	char *backend, *server;
	char *addr, *port; /* as written; port may be NULL */
	long weight;
	int disabled;
};

struct hapcfg_plan {
	int runtime;   /* 1: the ops below apply the whole change */
	char why[256]; /* runtime == 0: the first reason a reload is needed */
	struct hapcfg_op *ops;
	size_t nops;
	unsigned nadd, ndel, nchg; /* servers added, removed, changed */
	/* Every server of every backend that has ops, as the new file
	 * declares it, for checking the result with "show servers state". */
	struct hapcfg_want *want;
	size_t nwant;
};

/* Compare two configurations (borrowed, not NUL-terminated, may hold any
 * bytes) and fill plan.  Identical inputs give runtime == 1 and no ops.
 * Returns 0, or -1 with err filled when memory ran out; anything the differ
 * does not understand only means runtime == 0 with a reason in why. */
int hapcfg_diff(const char *old, size_t oldlen, const char *new, size_t newlen,
		struct hapcfg_plan *plan, char *err, size_t errlen);
void hapcfg_plan_free(struct hapcfg_plan *plan);

/* Nonzero when the balance algorithm named by word (the first word after
 * "balance") allows servers to be added and removed at run time. */
int hapcfg_dynamic_balance(const char *word);

/* Split an address word "host:port", "[v6]:port" or "v6:port" into a
 * numeric host and a decimal port (malloc'd, *port NULL when absent).
 * Returns 1 when the host is a numeric IPv4 or IPv6 address and the port,
 * when given, a plain number in 1..65535; 0 otherwise (nothing allocated),
 * -1 when memory ran out. */
int hapcfg_split_addr(const char *word, char **host, char **port);

/* Whether the line that starts at text[at] opens a section (its first
 * word is a section keyword); *eol: where that line ends. */
int hapcfg_header(const char *text, size_t len, size_t at, size_t *eol);

/* The part of two texts that holds every difference, widened to whole
 * sections: old[*from, *oend) and new[*from, *nend); before and after it
 * they are byte for byte the same.  (Both whole when they start to differ
 * in their first section.) */
void hapcfg_window(const char *old, size_t oldlen, const char *new,
		   size_t newlen, size_t *from, size_t *oend, size_t *nend);

#endif
