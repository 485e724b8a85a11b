/* libFuzzer target for lib/b64: the decoder must never write past the
 * size b64.h promises, must accept exactly the canonical padded RFC 4648
 * encodings (checked against an independent validator below), and
 * encode then decode must give back the input bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/b64.h"

static int
inalpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static int
sixbits(unsigned char c)
{
	const char *a =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	return (int)(strchr(a, c) - a);
}

/* Canonical: length a multiple of 4, alphabet only, "=" or "==" only at
 * the very end, and the bits the padding leaves over all zero. */
static int
canonical(const uint8_t *s, size_t n)
{
	size_t i, pad = 0;

	if (n % 4)
		return 0;
	if (n >= 1 && s[n - 1] == '=')
		pad = (n >= 2 && s[n - 2] == '=') ? 2 : 1;
	for (i = 0; i < n - pad; i++)
		if (!inalpha(s[i]))
			return 0;
	if (pad == 2 && (sixbits(s[n - 3]) & 15))
		return 0;
	if (pad == 1 && (sixbits(s[n - 2]) & 3))
		return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly the size b64.h asks for, so ASan sees any overrun. */
	unsigned char *out = malloc(size / 4 * 3 + 3);
	char *enc = malloc(b64_enclen(size) + 1);
	unsigned char *back;
	size_t outlen = (size_t)-1, backlen = (size_t)-1;
	int ok;

	if (!out || !enc)
		abort();
	/* 1. Arbitrary input: accepted exactly when canonical, and then
	 * re-encoding gives the input back. */
	ok = b64_decode((const char *)data, size, out, &outlen) == 0;
	if (ok != canonical(data, size))
		__builtin_trap();
	if (ok) {
		char *re = malloc(b64_enclen(outlen) + 1);

		if (!re || outlen > size / 4 * 3)
			__builtin_trap();
		b64_encode(out, outlen, re);
		if (strlen(re) != size || memcmp(re, data, size))
			__builtin_trap();
		free(re);
	}
	/* 2. Arbitrary bytes: encode, decode, compare. */
	b64_encode(data, size, enc);
	if (strlen(enc) != b64_enclen(size))
		__builtin_trap();
	back = malloc(b64_enclen(size) / 4 * 3 + 3);
	if (!back || b64_decode(enc, b64_enclen(size), back, &backlen) != 0 ||
	    backlen != size || (size && memcmp(back, data, size)))
		__builtin_trap();
	free(back);
	free(enc);
	free(out);
	return 0;
}
