/* hap-certs' pieces of PEM: pure functions of their input. */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pem.h"
#include "tool.h"

/* A certificate name becomes a file name: letters, digits, '.', '_' and
 * '-', not starting with '.', at most 100 bytes. */
int
good_name(const char *s, size_t n)
{
	size_t i;

	if (!n || n > 100 || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

/* Append s[0..n) to b without its blank lines and with a final newline:
 * haproxy's runtime API ends a payload at a blank line. */
void
add_pem(struct buf *b, const char *s, size_t n)
{
	size_t a, e;

	for (a = 0; a < n; a = e + 1) {
		const char *nl = memchr(s + a, '\n', n - a);

		e = nl ? (size_t)(nl - s) : n;
		while (e > a && s[e - 1] == '\r')
			e--;
		if (e > a &&
		    (buf_add(b, s + a, e - a) < 0 || buf_add(b, "\n", 1) < 0))
			die(EXIT_TEMP, "out of memory");
		if (!nl)
			break;
		e = (size_t)(nl - s);
	}
}

/* The SHA-1 of the first certificate of pem, in hex, as haproxy's "show
 * ssl cert" shows it. */
void
fingerprint(const struct buf *pem, char *out, size_t outlen)
{
	BIO *b = BIO_new_mem_buf(pem->p, (int)pem->len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int i, n = 0;

	*out = '\0';
	if (x && X509_digest(x, EVP_sha1(), md, &n) == 1)
		for (i = 0; i < n && 2 * i + 3 <= outlen; i++)
			snprintf(out + 2 * i, 3, "%02X", md[i]);
	X509_free(x);
	BIO_free(b);
}
