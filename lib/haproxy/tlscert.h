/* A TLS certificate as etcd holds it under TLS_PREFIX: a PEM certificate
 * chain and a PEM private key, checked with libcrypto for what haproxy
 * would refuse (garbage, a key that is not the certificate's) and read
 * for what an operator needs to know of it (when it expires, its serial,
 * its subject).  The key's bytes never go into a message. */
#ifndef EASYLB_TLSCERT_H
#define EASYLB_TLSCERT_H

#include <stddef.h>

/* What tlscert_check found wrong. */
enum tlscert_fault {
	TLSCERT_OK = 0,
	TLSCERT_BADCERT,  /* the certificate is not a PEM certificate */
	TLSCERT_BADKEY,	  /* the key is not a PEM private key */
	TLSCERT_MISMATCH, /* the key is not the certificate's */
};

/* What a good pair's first certificate says of itself. */
struct tlscert_info {
	long long not_after; /* seconds since the epoch */
	char serial[130];    /* hexadecimal, as haproxy shows it */
	char subject[256];   /* one line, e.g. CN=api.example.com */
};

/* Check the PEM certificate chain cert (clen bytes) and the PEM private
 * key key (klen bytes).  TLSCERT_OK with info filled, or the fault with
 * err saying why in a few words (libcrypto's reason, never the key). */
enum tlscert_fault tlscert_check(const char *cert, size_t clen, const char *key,
				 size_t klen, struct tlscert_info *info,
				 char *err, size_t errlen);

#endif
