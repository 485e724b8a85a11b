/* hap-reload --status FILE: what its runs did, kept in FILE for
 * whoever watches the balancer (easy-lb status).  The outcome line a run
 * prints goes through status_say, which keeps it. */
#ifndef EASYLB_HAPRELOAD_STATUS_H
#define EASYLB_HAPRELOAD_STATUS_H

/* From now on, a run's end (status_done) and a death (die) write FILE,
 * if path is not NULL; revision tags the run ("-" when NULL). */
void status_init(const char *path, const char *revision);
/* printf to stdout, the text kept as the run's outcome. */
void status_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The run ended with exit status code: FILE says so. */
void status_done(int code);

#endif
