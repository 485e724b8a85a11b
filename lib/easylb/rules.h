/* easy-lb's rules for values (rules.c): each says whether s[0, n) is
 * what a key takes. */
#ifndef EASYLB_RULES_H
#define EASYLB_RULES_H

#include <stddef.h>

/* A haproxy name: letters, digits, '-', '_', '.', ':', at most 100. */
int rule_name(const char *s, size_t n);
/* A URL path as a location: "/" and the characters of a path that
 * haproxy reads as one word (no quote, blank or '#'). */
int rule_path(const char *s, size_t n);
/* A host name, lowercase: labels of letters, digits and '-' (not at
 * either end, at most 63) joined by '.', at most 253, after an optional
 * "*." (a wildcard). */
int rule_host(const char *s, size_t n);
/* A number without leading zeros, at most 10 digits, in [lo, hi]. */
int rule_num(const char *s, size_t n, long long lo, long long hi);
/* A time: 1 to 9 digits and an optional unit (us, ms, s, m, h, d). */
int rule_time(const char *s, size_t n);
/* The kind of address of a "host:port" word: 1 an IPv4 address, 2 an
 * IPv6 address in brackets, 3 a name; 0 none, or a port out of 1-65535. */
int rule_addr(const char *s, size_t n);

/* An http or https URL without blank, quote, backslash or '#': a host
 * name or an address (IPv6 in brackets), a port, a path and a query. */
int rule_url(const char *s, size_t n);
/* Why s[0, n) is no name of a header a service may set (a token, not
 * hop-by-hop, not Host nor Content-Length), or NULL when it is one. */
const char *rule_header(const char *s, size_t n);
/* A header value easy-lb takes: printable ASCII and tabs, no single
 * quote, at most 1024 bytes. */
int rule_header_value(const char *s, size_t n);

/* A cookie name: letters, digits, '-' and '_', at most 64. */
int rule_cookie_name(const char *s, size_t n);

/* A word of a value: offset and length. */
struct word {
	size_t off, n;
};
/* Are words w[0, n) of s server options easy-lb accepts? */
int rule_srvopts(const char *s, const struct word *w, size_t n);
/* Is s[0, n) a value easy-lb accepts for the backend directive name
 * (nn bytes)? */
int rule_bkopt(const char *name, size_t nn, const char *s, size_t n);

#endif
