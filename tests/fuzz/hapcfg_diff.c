/* libFuzzer target for hap-reload's configuration differ (lib/hapcfg):
 * the input is split at its first NUL byte into the old and the new
 * configuration (no NUL: both are the input).  Any bytes must give a plan
 * or a reason, never a crash, leak or out-of-bounds read; identical
 * inputs must give no ops (hapcfg.h says runtime == 1 too, but a file the
 * differ refuses, say with duplicate server names, gives runtime == 0
 * with a reason even against itself); every op must name a backend and
 * a server. */
#include <stdint.h>
#include <string.h>

#include "hapcfg.h"

static void
check(const char *old, size_t on, const char *new, size_t nn, int same)
{
	struct hapcfg_plan plan;
	char err[256] = "";
	size_t i;

	memset(&plan, 0, sizeof(plan));
	if (hapcfg_diff(old, on, new, nn, &plan, err, sizeof(err)) < 0) {
		if (!err[0])
			__builtin_trap();
		return;
	}
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
