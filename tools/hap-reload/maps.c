/* hap-reload's maps: see maps.h. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maps.h"
#include "tool.h"

/* The directory of path, resolved; NULL when it cannot be. */
static char *
dir_of(const char *path)
{
	char *copy = xstrdup(path), *r = realpath(dirname(copy), NULL);

	free(copy);
	return r;
}

int
maps_read(struct maps *mp, const char *config, struct buf *text, char *err,
	  size_t errlen)
{
	char *cdir, *mdir, e[512];
	size_t i;

	memset(mp, 0, sizeof(*mp));
	mp->runtime = 1;
	if (hapmap_split(text, &mp->m, &mp->n, err, errlen) < 0)
		return -1;
	if (!mp->n)
		return 0;
	if (!(cdir = dir_of(config)))
		dieerr(EXIT_TEMP, "the directory of %s", config);
	mp->old = calloc(mp->n, sizeof(*mp->old));
	mp->had = calloc(mp->n, sizeof(*mp->had));
	mp->plan = calloc(mp->n, sizeof(*mp->plan));
	mp->rt = calloc(mp->n, sizeof(*mp->rt));
	mp->orig = calloc(mp->n, sizeof(*mp->orig));
	if (!mp->old || !mp->had || !mp->plan || !mp->rt || !mp->orig)
		die(EXIT_TEMP, "out of memory");
	for (i = 0; i < mp->n; i++) {
		const char *p = mp->m[i].path;
		int same;

		mdir = dir_of(p);
		same = mdir && !strcmp(mdir, cdir);
		free(mdir);
		if (!same || !strcmp(p, config)) {
			free(cdir);
			return seterr(
			    err, errlen,
			    "line %zu: map %s is not a file beside %s",
			    hapmap_line(&mp->m[i], text->p), p, config);
		}
		mp->had[i] = access(p, F_OK) == 0;
		if (mp->had[i] && read_file(p, &mp->old[i], e, sizeof(e)) < 0)
			die(EXIT_TEMP, "%s", e);
	}
	free(cdir);
	return 0;
}

void
maps_bind(struct maps *mp, const struct hapbind *b, size_t nb)
{
	char **from, **to;
	size_t i;

	if (!nb || !mp->n)
		return;
	from = xmalloc(nb * sizeof(*from));
	to = xmalloc(nb * sizeof(*to));
	for (i = 0; i < nb; i++) {
		from[i] = b[i].name;
		to[i] = b[i].spare;
	}
	for (i = 0; i < mp->n; i++) {
		mp->orig[i] = mp->m[i].text;
		memset(&mp->m[i].text, 0, sizeof(mp->m[i].text));
		if (buf_add(&mp->m[i].text, mp->orig[i].p, mp->orig[i].len) <
			0 ||
		    hapmap_rename(&mp->m[i].text, from, to, nb) < 0)
			die(EXIT_TEMP, "out of memory");
	}
	mp->bound = 1;
	free(from);
	free(to);
}

void
maps_unbind(struct maps *mp)
{
	size_t i;

	if (!mp->bound)
		return;
	for (i = 0; i < mp->n; i++) {
		buf_free(&mp->m[i].text);
		mp->m[i].text = mp->orig[i];
		memset(&mp->orig[i], 0, sizeof(mp->orig[i]));
	}
	mp->bound = 0;
}

void
maps_plan(struct maps *mp)
{
	size_t i;

	for (i = 0; i < mp->n; i++) {
		struct hapmap_plan *p = &mp->plan[i];

		hapmap_plan_free(p);
		if (!mp->had[i]) {
			/* (haproxy has never read it: only a reload can
			 * give it the map) */
			mp->runtime = 0;
			snprintf(mp->why, sizeof(mp->why), "map %s is new",
				 mp->m[i].path);
			continue;
		}
		if (hapmap_diff(mp->old[i].p ? mp->old[i].p : "",
				mp->old[i].len,
				mp->m[i].text.p ? mp->m[i].text.p : "",
				mp->m[i].text.len, p) < 0)
			die(EXIT_TEMP, "out of memory");
		if (!p->runtime && mp->runtime) {
			mp->runtime = 0;
			snprintf(mp->why, sizeof(mp->why), "%s: %s",
				 mp->m[i].path, p->why);
		}
		mp->rt[i].path = mp->m[i].path;
		mp->rt[i].plan = p;
		mp->nadd += p->nadd;
		mp->ndel += p->ndel;
		mp->nchg += p->nchg;
	}
}

int
maps_same(const struct maps *mp)
{
	size_t i;

	for (i = 0; i < mp->n; i++)
		if (!mp->had[i] || mp->old[i].len != mp->m[i].text.len ||
		    (mp->old[i].len &&
		     memcmp(mp->old[i].p, mp->m[i].text.p, mp->old[i].len)))
			return 0;
	return 1;
}

void
install_file(const char *path, const struct buf *b)
{
	char err[512];
	int changed;

	if (atomic_replace(path, b->p ? b->p : "", b->len, &changed, err,
			   sizeof(err)) < 0)
		die(EXIT_TEMP, "%s", err);
}

void
maps_put(struct maps *mp)
{
	size_t i;

	for (i = 0; i < mp->n; i++)
		install_file(mp->m[i].path, &mp->m[i].text);
	mp->put = 1;
}

void
maps_put_early(struct maps *mp)
{
	char err[512];
	size_t i;
	int changed;

	for (i = 0; i < mp->n; i++) {
		if (atomic_replace_unsynced(
			mp->m[i].path, mp->m[i].text.p ? mp->m[i].text.p : "",
			mp->m[i].text.len, &changed, err, sizeof(err)) < 0)
			die(EXIT_TEMP, "%s", err);
		mp->unsynced |= changed;
	}
	mp->put = 1;
}

int
maps_sync(struct maps *mp, char *err, size_t errlen)
{
	size_t i;

	if (!mp->unsynced)
		return 0;
	/* (all of them when one changed: easy-lb's files carry one map) */
	for (i = 0; i < mp->n; i++)
		if (sync_file(mp->m[i].path, err, errlen) < 0)
			return -1;
	mp->unsynced = 0;
	return 0;
}

void
maps_put_missing(struct maps *mp)
{
	size_t i;

	for (i = 0; i < mp->n; i++)
		if (!mp->had[i])
			install_file(mp->m[i].path, &mp->m[i].text);
}

void
maps_restore(struct maps *mp)
{
	size_t i;

	if (!mp->put)
		return;
	for (i = 0; i < mp->n; i++) {
		if (mp->had[i])
			install_file(mp->m[i].path, &mp->old[i]);
		else if (unlink(mp->m[i].path) < 0 && errno != ENOENT)
			dieerr(EXIT_TEMP, "unlink %s", mp->m[i].path);
	}
	mp->put = 0;
}

void
maps_free(struct maps *mp)
{
	size_t i;

	/* (a split that failed leaves the blocks read so far, nothing
	 * else) */
	for (i = 0; mp->old && i < mp->n; i++) {
		buf_free(&mp->old[i]);
		buf_free(&mp->orig[i]);
		hapmap_plan_free(&mp->plan[i]);
	}
	free(mp->orig);
	free(mp->old);
	free(mp->had);
	free(mp->plan);
	free(mp->rt);
	hapmap_free(mp->m, mp->n);
	memset(mp, 0, sizeof(*mp));
}
