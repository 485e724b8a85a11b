/* Standard base64 (RFC 4648, with padding), as etcd's JSON gateway uses
 * for keys and values: encoding and a strict decoder. */
#include <string.h>

#include "util/b64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
b64_enclen(size_t n)
{
	return (n + 2) / 3 * 4;
}

void
b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i;
	unsigned v;

	for (i = 0; i + 2 < n; i += 3) {
		v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];
		*out++ = alphabet[v >> 18];
		*out++ = alphabet[v >> 12 & 63];
		*out++ = alphabet[v >> 6 & 63];
		*out++ = alphabet[v & 63];
	}
	if (n - i == 1) {
		v = in[i] << 16;
		*out++ = alphabet[v >> 18];
		*out++ = alphabet[v >> 12 & 63];
		*out++ = '=';
		*out++ = '=';
	} else if (n - i == 2) {
		v = in[i] << 16 | in[i + 1] << 8;
		*out++ = alphabet[v >> 18];
		*out++ = alphabet[v >> 12 & 63];
		*out++ = alphabet[v >> 6 & 63];
		*out++ = '=';
	}
	*out = '\0';
}

static int
val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
b64_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
	size_t i, o = 0;
	int a, b, c, d;

	if (n % 4)
		return -1;
	for (i = 0; i < n; i += 4) {
		a = val(in[i]);
		b = val(in[i + 1]);
		if (a < 0 || b < 0)
			return -1;
		out[o++] = a << 2 | b >> 4;
		if (in[i + 2] == '=') {
			/* "xx==" ends the input. */
			if (in[i + 3] != '=' || i + 4 != n || (b & 15))
				return -1;
			break;
		}
		if ((c = val(in[i + 2])) < 0)
			return -1;
		out[o++] = (b & 15) << 4 | c >> 2;
		if (in[i + 3] == '=') {
			if (i + 4 != n || (c & 3))
				return -1;
			break;
		}
		if ((d = val(in[i + 3])) < 0)
			return -1;
		out[o++] = (c & 3) << 6 | d;
	}
	*outlen = o;
	return 0;
}
