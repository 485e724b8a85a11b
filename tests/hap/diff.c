/* Test driver for lib/hapcfg: diff OLD NEW prints the plan, one line per
 * operation, so that the bats tests can compare it with what they expect. */
#include <stdio.h>
#include <stdlib.h>

#include "haproxy/cfg.h"
#include "util/util.h"

static const char *const kind[] = {"add", "del", "addr", "weight"};

int
main(int argc, char *argv[])
{
	struct buf a = {0}, b = {0};
	struct hapcfg_plan p;
	char err[256];
	size_t i;

	if (argc != 3)
		return EXIT_BAD;
	if (read_file(argv[1], &a, err, sizeof(err)) < 0 ||
	    read_file(argv[2], &b, err, sizeof(err)) < 0 ||
	    hapcfg_diff(a.p ? a.p : "", a.len, b.p ? b.p : "", b.len, &p, err,
			sizeof(err)) < 0) {
		fprintf(stderr, "diff: %s\n", err);
		return EXIT_TEMP;
	}
	if (!p.runtime)
		printf("reload: %s\n", p.why);
	else
		printf("runtime +%u -%u ~%u\n", p.nadd, p.ndel, p.nchg);
	for (i = 0; i < p.nops; i++) {
		const struct hapcfg_op *o = &p.ops[i];
		printf("%s %s/%s", kind[o->kind], o->backend, o->server);
		if (o->kind == HAPCFG_ADD || o->kind == HAPCFG_ADDR)
			printf(" %s %s", o->addr, o->port ? o->port : "-");
		if (o->kind == HAPCFG_ADD)
			printf(" [%s]%s%s%s%s", o->args,
			       o->check ? " check" : "",
			       o->agent ? " agent" : "",
			       o->disabled ? " disabled" : "",
			       o->replace ? " replace" : "");
		if (o->kind == HAPCFG_DEL && o->replace)
			printf(" replace");
		if (o->kind == HAPCFG_WEIGHT)
			printf(" %ld", o->weight);
		putchar('\n');
	}
	for (i = 0; i < p.nwant; i++)
		printf("want %s/%s %s %s w%ld%s\n", p.want[i].backend,
		       p.want[i].server, p.want[i].addr ? p.want[i].addr : "-",
		       p.want[i].port ? p.want[i].port : "-", p.want[i].weight,
		       p.want[i].disabled ? " disabled" : "");
	hapcfg_plan_free(&p);
	buf_free(&a);
	buf_free(&b);
	return EXIT_OK;
}
