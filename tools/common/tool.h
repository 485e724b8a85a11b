/* The tools' side of messages and failure: "prog: message[: strerror]"
 * on stderr, dying with the suite's exit codes, allocation that dies
 * when memory runs out, and the check of stdout at exit.  Only tools call
 * these; library code returns a status and fills an error buffer. */
#ifndef EASYLB_TOOL_H
#define EASYLB_TOOL_H

#include "util.h"

void setprogname(const char *argv0);
const char *getprogname_(void);
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warnerr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void dieerr(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Write stdout out and die with EXIT_TEMP if that failed (a closed pipe
 * included); called at exit by tools that print data. */
void fshut_stdout(void);

#endif
