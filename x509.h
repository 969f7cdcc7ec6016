/*
 * x509.h - reading certificates, keys and CRLs: files, PEM, DER, X.509
 * fields and extensions (x509.c). No engine and no credentials: tls.c
 * decides what the parsed fields mean.
 */
#ifndef MTLSD_X509_H
#define MTLSD_X509_H

#include "tls.h"

/* A growable byte buffer, used only while loading at start-up. */
struct bytes {
	unsigned char *data;
	size_t len, cap;
};

struct pem_object {
	char name[128];
	struct bytes der;
};

struct pem_objects {
	struct pem_object *items;
	size_t count;
};

struct der {
	const unsigned char *p;
	size_t len;
};

/*
 * Hash functions of certificate signatures that OpenSSL's security levels
 * refuse: MD2, MD4 and MD5 always, SHA-1 from level 2 (the default).
 */
enum sig_hash { SIG_HASH_STRONG, SIG_HASH_SHA1, SIG_HASH_MD5 };

/* What the extensions of a certificate allow, and what policy looks at. */
struct usage_verdict {
	bool has_eku, eku_client_auth, eku_server_auth;
	bool has_key_usage, key_usage_signature, key_usage_cert_sign;
	bool name_constraints;
	bool has_basic_constraints, is_ca;
	int path_len;                   /* pathLenConstraint; -1 if none */
	bool has_ns_cert_type, ns_ssl_client;   /* Netscape cert type */
	bool unknown_critical;          /* a critical extension x509.c does not know */
	struct der san;                 /* subjectAltName's value; len 0 if none */
	unsigned san_count;             /* how many subjectAltName extensions */
	int version;                    /* 1 to 3 */
	unsigned rsa_bits;              /* size of an RSA key's modulus; 0 for others */
	enum sig_hash sig_hash;         /* of the issuer's signature on it */
	const char *sig_name;           /* that algorithm, when weak */
	bool self_issued;               /* issuer and subject are the same Name */
	const char *unreadable;         /* when parsing failed: the part that did */
};

/*
 * Set when an allocation made while loading failed (a callback cannot
 * return an error); the load then fails with "out of memory".
 */
extern bool out_of_memory;
/* BearSSL's destination callback: appends to the struct bytes `ctx`. */
void bytes_append(void *ctx, const void *src, size_t len);
/* A malloc'ed copy; NULL (and out_of_memory set) when that fails. */
void *copy_of(const void *src, size_t len);
/* Formats the start-up error `why` and returns -1. */
int fail(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* `path` into `out` (at most `max` bytes); -1 with `why`, nothing kept. */
int read_whole_file(const char *path, struct bytes *out, size_t max, char *why,
    size_t why_len);

/* PEM: the objects of a file (freed with pem_free), or -1 with `why`. */
int pem_decode(const char *path, struct bytes text, struct pem_objects *objs, char *why,
    size_t why_len);
int pem_read_file(const char *path, struct pem_objects *objs, char *why, size_t why_len);
void pem_free(struct pem_objects *objs);
bool is_certificate(const struct pem_object *obj);

/* 0-15 for a hexadecimal digit, else -1. */
int hex_digit(char c);
/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
int64_t days_since_epoch(int64_t y, int m, int d);

/* Reads one element of tag `want` from `in` (see der_next in x509.c). */
bool der_expect(struct der *in, unsigned want, struct der *value, struct der *whole);
void sha256_of(const void *data, size_t len, unsigned char out[32]);
bool parse_certificate(const unsigned char *der, size_t len, struct client_identity *id,
    struct usage_verdict *usage);
bool signature_valid(struct der alg, struct der data, struct der signature,
    const br_x509_pkey *pk);
bool cert_signed_by(const unsigned char *der, size_t len, const br_x509_pkey *pk);

/* What tying a CRL to the CA that signed it needs (see crl_parse). */
struct crl_parts {
	struct der issuer;              /* the issuer Name, whole */
	struct der tbs, alg, sig;       /* the signed part, its algorithm, the signature */
	struct der entries;             /* revokedCertificates; len 0 if none */
};

int crl_parse(const char *path, const unsigned char *data, size_t len, struct crl *crl,
    struct crl_parts *c, char *why, size_t why_len);
int parse_revoked(const char *path, struct der entries, struct crl *crl, char *why,
    size_t why_len);
bool crl_lists(const struct crl *crl, const struct serial *serial);

#endif
