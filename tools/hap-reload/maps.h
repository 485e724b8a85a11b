/* hap-reload's maps: the blocks of NEWFILE (lib/haproxy/map.h), the files they
 * go to beside CONFIG, and the runtime change from one to the other. */
#ifndef EASYLB_HAPRELOAD_MAPS_H
#define EASYLB_HAPRELOAD_MAPS_H

#include <stddef.h>

#include "haproxy/bind.h"
#include "haproxy/map.h"
#include "runtime.h"

struct maps {
	struct hapmap *m; /* NEWFILE's blocks */
	size_t n;
	struct buf *old;	  /* each file as it is */
	int *had;		  /* ... 1 when there is one */
	struct hapmap_plan *plan; /* old to new, each */
	struct rt_map *rt;	  /* the plans for apply_runtime */
	int runtime;		  /* every plan a runtime one */
	char why[300];		  /* runtime == 0: why */
	unsigned nadd, ndel, nchg;
	int put;	  /* the new contents are on disk */
	int unsynced;	  /* ... not synced yet */
	struct buf *orig; /* bound: each map as NEWFILE gave it */
	int bound;
};

/* Take mp's blocks out of NEWFILE's text (which is left the
 * configuration), check that each goes to a file in CONFIG's directory
 * and read what those files hold.  0, or -1 with err for a NEWFILE to
 * refuse (dies on I/O errors). */
int maps_read(struct maps *mp, const char *config, struct buf *text, char *err,
	      size_t errlen);
/* Rename the values of the bound backends to their spares; back. */
void maps_bind(struct maps *mp, const struct hapbind *b, size_t nb);
void maps_unbind(struct maps *mp);
/* Plan each map's change; sets runtime, why and the counts. */
void maps_plan(struct maps *mp);
/* Nonzero when every file already holds its new contents. */
int maps_same(const struct maps *mp);
/* The new contents into the files; the old ones back (dying when either
 * cannot be written). */
void maps_put(struct maps *mp);
void maps_restore(struct maps *mp);
/* maps_put without the syncs, for a runtime change that must find them
 * in place: maps_sync makes them durable once it is live (0, or -1 with
 * err). */
void maps_put_early(struct maps *mp);
int maps_sync(struct maps *mp, char *err, size_t errlen);
/* The new contents, only into files that do not exist yet (--check). */
void maps_put_missing(struct maps *mp);
void maps_free(struct maps *mp);

/* Replace path with b atomically, the one way hap-reload writes a file
 * (CONFIG and its maps); dies with EXIT_TEMP when it cannot. */
void install_file(const char *path, const struct buf *b);

#endif
