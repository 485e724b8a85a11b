/* libFuzzer target for hap-reload's configuration differ (lib/hapcfg):
 * the input is split at its first NUL byte into the old and the new
 * configuration (no NUL: both are the input).  Any bytes must give a plan
 * or a reason, never a crash, leak or out-of-bounds read; identical
 * inputs must give no ops (lib/haproxy/cfg.h says runtime == 1 too, but a file
 * the differ refuses, say with duplicate server names, gives runtime == 0 with
 * a reason even against itself); every op must name a backend and a server.
 *
 * The differ takes apart only the window of sections where the files
 * differ.  So each pair is diffed a second time with the window turned
 * off (hapcfg_whole, which nothing else sets): the whole of both files.
 * The two plans must be the same. */
#include <stdint.h>
#include <string.h>

#include "haproxy/cfg.h"

static int
same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The plans a and b, field by field. */
static int
same_plan(const struct hapcfg_plan *a, const struct hapcfg_plan *b)
{
	size_t i;

	if (a->runtime != b->runtime || strcmp(a->why, b->why) ||
	    a->nops != b->nops || a->nwant != b->nwant || a->nadd != b->nadd ||
	    a->ndel != b->ndel || a->nchg != b->nchg)
		return 0;
	for (i = 0; i < a->nops; i++) {
		const struct hapcfg_op *x = &a->ops[i], *y = &b->ops[i];
		if (x->kind != y->kind || !same_str(x->backend, y->backend) ||
		    !same_str(x->server, y->server) ||
		    !same_str(x->addr, y->addr) ||
		    !same_str(x->port, y->port) ||
		    !same_str(x->args, y->args) || x->weight != y->weight ||
		    x->check != y->check || x->agent != y->agent ||
		    x->disabled != y->disabled || x->replace != y->replace)
			return 0;
	}
	for (i = 0; i < a->nwant; i++) {
		const struct hapcfg_want *x = &a->want[i], *y = &b->want[i];
		if (!same_str(x->backend, y->backend) ||
		    !same_str(x->server, y->server) ||
		    !same_str(x->addr, y->addr) ||
		    !same_str(x->port, y->port) || x->weight != y->weight ||
		    x->disabled != y->disabled)
			return 0;
	}
	return 1;
}

extern int hapcfg_whole;

static void
check(const char *old, size_t on, const char *new, size_t nn, int same)
{
	struct hapcfg_plan plan, whole;
	char err[256] = "";
	size_t i;

	memset(&plan, 0, sizeof(plan));
	if (hapcfg_diff(old, on, new, nn, &plan, err, sizeof(err)) < 0) {
		if (!err[0])
			__builtin_trap();
		return;
	}
	hapcfg_whole = 1;
	if (hapcfg_diff(old, on, new, nn, &whole, err, sizeof(err)) == 0) {
		if (!same_plan(&plan, &whole))
			__builtin_trap();
		hapcfg_plan_free(&whole);
	}
	hapcfg_whole = 0;
	if (same && plan.nops)
		__builtin_trap();
	if (!plan.runtime && !plan.why[0])
		__builtin_trap();
	if (plan.runtime)
		for (i = 0; i < plan.nops; i++)
			if (!plan.ops[i].backend || !plan.ops[i].server)
				__builtin_trap();
	hapcfg_plan_free(&plan);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	const char *z = memchr(d, '\0', size);

	if (!z) {
		check(d, size, d, size, 1);
		return 0;
	}
	check(d, (size_t)(z - d), z + 1, size - (size_t)(z - d) - 1, 0);
	/* And the other way round: a removal is an addition reversed. */
	check(z + 1, size - (size_t)(z - d) - 1, d, (size_t)(z - d), 0);
	return 0;
}
