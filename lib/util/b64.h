/* Standard base64 (RFC 4648, with padding), as etcd's JSON gateway uses
 * for keys and values. */
#ifndef EASYLB_B64_H
#define EASYLB_B64_H

#include <stddef.h>

/* Bytes b64_encode writes for n input bytes, not counting a NUL. */
size_t b64_enclen(size_t n);
/* Encode n bytes of in into out (b64_enclen(n) + 1 bytes, NUL-ended). */
void b64_encode(const unsigned char *in, size_t n, char *out);
/* Decode n characters of in into out (at least n / 4 * 3 + 3 bytes);
 * *outlen gets the decoded length.  Returns 0, or -1 on a character
 * outside the alphabet, bad padding or a truncated quantum. */
int b64_decode(const char *in, size_t n, unsigned char *out, size_t *outlen);

#endif
