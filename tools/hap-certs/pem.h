/* hap-certs' pieces of PEM: names, payloads, hashes. */
#ifndef EASYLB_HAPCERTS_PEM_H
#define EASYLB_HAPCERTS_PEM_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* A certificate name becomes a file name: letters, digits, '.', '_' and
 * '-', not starting with '.', at most 100 bytes. */
int good_name(const char *s, size_t n);
/* Append s[0..n) to b without its blank lines and with a final newline:
 * haproxy's runtime API ends a payload at a blank line. */
void add_pem(struct buf *b, const char *s, size_t n);
/* The SHA-1 of the first certificate of pem, in hex, as haproxy's "show
 * ssl cert" shows it. */
void fingerprint(const struct buf *pem, char *out, size_t outlen);

#endif
