/* Writing JSON text directly, for outputs too large to build as jv. */
#ifndef EASYLB_JSONW_H
#define EASYLB_JSONW_H

#include <stddef.h>

#include "util/util.h"

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF), else 0. */
int utf8_valid(const char *s, size_t n);

/* Append s[0..n) as a JSON string literal, quotes included.  s must be
 * valid UTF-8; control characters, '"' and '\\' are escaped.  -1 on
 * ENOMEM. */
int json_str(struct buf *b, const char *s, size_t n);

/* Append s[0..n) for a human: printable ASCII as is, anything else as
 * \xNN (or \n, \r, \t), cut after max input bytes with "...". */
int show_bytes(struct buf *b, const char *s, size_t n, size_t max);
#endif
