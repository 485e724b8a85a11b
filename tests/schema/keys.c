/* The key schema's table (lib/easylb/schema.c) as the rows of the
 * README's key table, for make lint (tests/lint.sh, schema) to compare:
 * key, value, what it becomes in haproxy, how a change is applied. */
#include <stdio.h>

#include "easylb/schema.h"

int
main(void)
{
	const struct schema_key *k;
	size_t i, n;

	k = schema_keys(&n);
	for (i = 0; i < n; i++)
		printf("| `/services/<svc>%s%s` | %s | %s | %s |\n",
		       k[i].key[0] ? "/" : "", k[i].key, k[i].doc, k[i].becomes,
		       k[i].runtime ? "runtime API" : "reload");
	return 0;
}
