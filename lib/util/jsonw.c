/* Writing JSON text directly, for outputs too large to build as jv:
 * UTF-8 validation, string literals, and bytes shown to a human. */
#include <stdio.h>
#include <string.h>

#include "util/jsonw.h"

int
utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str, *e = s + n;
	unsigned c, cp, need;

	while (s < e) {
		c = *s++;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if ((size_t)(e - s) < need)
			return 0;
		while (need--) {
			if ((*s & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (*s++ & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((c >= 0xe0 && c <= 0xef && cp < 0x800) ||
		    (c >= 0xf0 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

int
json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	unsigned char c;
	char esc[7];

	if (buf_add(b, "\"", 1) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		c = s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (buf_add(b, s + run, i - run) < 0)
			return -1;
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"':
		case '\\':
			esc[1] = c;
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			if (buf_add(b, esc, 6) < 0)
				return -1;
			continue;
		}
		if (buf_add(b, esc, 2) < 0)
			return -1;
	}
	if (buf_add(b, s + run, n - run) < 0 || buf_add(b, "\"", 1) < 0)
		return -1;
	return 0;
}

int
show_bytes(struct buf *b, const char *s, size_t n, size_t max)
{
	size_t i;
	unsigned char c;
	char t[5];

	for (i = 0; i < n && i < max; i++) {
		c = s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			t[0] = c;
			t[1] = '\0';
		} else if (c == '\\') {
			strcpy(t, "\\\\");
		} else if (c == '\n') {
			strcpy(t, "\\n");
		} else if (c == '\r') {
			strcpy(t, "\\r");
		} else if (c == '\t') {
			strcpy(t, "\\t");
		} else {
			snprintf(t, sizeof(t), "\\x%02x", c);
		}
		if (buf_puts(b, t) < 0)
			return -1;
	}
	return i < n ? buf_puts(b, "...") : 0;
}
