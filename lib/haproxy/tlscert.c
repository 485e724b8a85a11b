/* TLS certificate pairs checked with libcrypto (see tlscert.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "haproxy/tlscert.h"
#include "util/util.h"

/* libcrypto's reason for the last failure, or what, into err; its error
 * queue emptied. */
static void
reason(const char *what, char *err, size_t errlen)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	if (r)
		seterr(err, errlen, "%s (%s)", what, r);
	else
		seterr(err, errlen, "%s", what);
	ERR_clear_error();
}

/* The serial of x as uppercase hexadecimal, as haproxy shows it. */
static void
serial_hex(X509 *x, char *out, size_t outlen)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	snprintf(out, outlen, "%s", hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

/* The subject of x on one line, into out. */
static void
subject_line(X509 *x, char *out, size_t outlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	*out = '\0';
	if (!b)
		return;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
			       XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(b, &p)) > 0)
		snprintf(out, outlen, "%.*s", (int)n, p);
	BIO_free(b);
}

enum tlscert_fault
tlscert_check(const char *cert, size_t clen, const char *key, size_t klen,
	      struct tlscert_info *info, char *err, size_t errlen)
{
	BIO *cb = BIO_new_mem_buf(cert, (int)clen);
	BIO *kb = BIO_new_mem_buf(key, (int)klen);
	enum tlscert_fault ret = TLSCERT_BADCERT;
	EVP_PKEY *pk = NULL;
	X509 *x = NULL, *y;
	struct tm tm;

	memset(info, 0, sizeof(*info));
	if (!cb || !kb) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	if (!(x = PEM_read_bio_X509(cb, NULL, NULL, NULL))) {
		reason("not a PEM certificate", err, errlen);
		goto out;
	}
	/* The chain after it: haproxy loads every block, so one it cannot
	 * read would fail every later check of the whole configuration. */
	ERR_clear_error();
	while ((y = PEM_read_bio_X509(cb, NULL, NULL, NULL)))
		X509_free(y);
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		reason("a certificate of its chain is damaged", err, errlen);
		goto out;
	}
	ERR_clear_error();
	ret = TLSCERT_BADKEY;
	/* (no passphrase: an encrypted key is not one haproxy can load) */
	if (!(pk = PEM_read_bio_PrivateKey(kb, NULL, NULL, (void *)""))) {
		reason("not a PEM private key (or one with a passphrase)", err,
		       errlen);
		goto out;
	}
	ret = TLSCERT_MISMATCH;
	if (X509_check_private_key(x, pk) != 1) {
		reason("the key is not the certificate's", err, errlen);
		goto out;
	}
	ret = TLSCERT_OK;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		info->not_after = (long long)timegm(&tm);
	serial_hex(x, info->serial, sizeof(info->serial));
	subject_line(x, info->subject, sizeof(info->subject));
out:
	EVP_PKEY_free(pk);
	X509_free(x);
	BIO_free(cb);
	BIO_free(kb);
	ERR_clear_error();
	return ret;
}
