/* CONFIG.source (hap-reload(1), FILES): while CONFIG binds backends to
 * spares, the file as it came that CONFIG was made of, so that the next
 * run compares the new file with it (hapbind_from) instead of taking
 * both whole files apart. */
#ifndef EASYLB_HAPRELOAD_SOURCE_H
#define EASYLB_HAPRELOAD_SOURCE_H

#include "util/util.h"

/* Whether text binds backends (lib/haproxy/bind.h): a spare serving one, one
 * retired. */
int source_binds(const struct buf *text);
/* What CONFIG (read into old; binds: whether it binds) was made of, when
 * it is known: old itself when it binds nothing, else path (read into
 * held) when it names CONFIG as it is.  1 with it in *p, *n; 0 when it is
 * not known. */
int source_of(const char *config, const char *path, const struct buf *old,
	      int binds, struct buf *held, const char **p, size_t *n);
/* After CONFIG is installed: path says that CONFIG was made of src when
 * src is not NULL (CONFIG binds), and is gone when it is NULL.  A failure is
 * only said: without path, the next run takes both files apart. */
void source_keep(const char *config, const char *path, const struct buf *src);

#endif
