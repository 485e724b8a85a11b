/* Spare backends: how a backend that the running haproxy does not have
 * goes live without a reload.  haproxy cannot add a backend at run time
 * (before 3.4), so a configuration declares empty backends named
 * easy-lb-spare-N ahead; a new backend takes the place of a free one
 * whose other lines are the same, under the spare's name, and a backend
 * gone stays as an empty one, retired, until the next reload.  A comment
 * line under the header says so in the installed file:
 *
 *     backend easy-lb-spare-3
 *         # easy-lb: serves NAME
 *     backend NAME
 *         # easy-lb: retired
 *
 * Pure functions of their input buffers, like hapcfg. */
#ifndef EASYLB_HAPBIND_H
#define EASYLB_HAPBIND_H

#include <stddef.h>

#include "util/util.h"

#define HAPBIND_SPARE "easy-lb-spare-"
/* (the comment lines, after the indent) */
#define HAPBIND_SERVES "# easy-lb: serves "
#define HAPBIND_RETIRED "# easy-lb: retired"

struct hapbind {
	char *name;  /* the backend as the new file names it */
	char *spare; /* the spare backend of the running haproxy serving it */
	int fresh;   /* bound by this change, not by an earlier one */
};

/* The new configuration as the running one must read to apply it at run
 * time: its sections in the order and under the names of the old one
 * (installed, with the bindings of earlier changes), new backends in
 * spares, backends gone retired.  Returns 1 with the text in *out and the
 * bindings in *b (*nb of them); 0 when there is none (a section other
 * than a backend added or removed, no free spare left: a reload), with
 * why; -1 when memory ran out. */
int hapbind(const char *old, size_t oldlen, const char *new, size_t newlen,
	    struct buf *out, struct hapbind **b, size_t *nb, char *why,
	    size_t whylen);
void hapbind_free(struct hapbind *b, size_t n);

/* hapbind's answer, worked out from the backends that changed alone,
 * when old is the file hapbind made of src: src and new are compared,
 * and what stands in old for each backend of their difference (the
 * spare serving it, the backend itself) found by its name, the file not
 * taken apart.  Returns 1 as hapbind does; 2 when it cannot tell (a
 * section other than a backend changed, a name found twice, no free
 * spare...: hapbind must be asked), with nothing in *out or *b; -1 when
 * memory ran out.  At 10,000 backends (a 5.4 MB file) hapbind costs 9
 * to 15 ms; this one 2 to 5. */
int hapbind_from(const char *old, size_t oldlen, const char *src, size_t srclen,
		 const char *new, size_t newlen, struct buf *out,
		 struct hapbind **b, size_t *nb);

/* What an installed configuration (text[0, len)) says of its backends,
 * from their comment lines: each spare bound (name the backend it
 * serves, spare the spare's), each backend retired (name NULL, spare
 * its own).  0, or -1 when memory ran out. */
int hapbind_read(const char *text, size_t len, struct hapbind **b, size_t *nb);

#endif
