/*
 * floor.c - BearSSL's floor for one mtlsd handshake: only the public-key
 * operations a full TLS 1.2 ECDHE handshake with a client certificate costs
 * the server, with the given keys and the default implementations tls.c
 * configures (br_rsa_*_get_default, br_ec_get_default, ...).
 *
 *   floor [-n N] [-1] [-g x25519|p256] SERVER_KEY CA_CERT CLIENT_CERT CLIENT_KEY
 *
 * The operations, in handshake order:
 *   sign       the server's ServerKeyExchange signature (private key)
 *   ecdhe_gen  the server's ECDHE key share (curve mulgen)
 *   ca_verify  the CA's signature on the client certificate (the real one)
 *   cv_verify  the client's CertificateVerify signature (client public key)
 *   ecdhe_mul  the ECDHE shared secret (curve mul)
 *
 * Each is timed N times (default 200) in process CPU time; the median of
 * each is printed, then their sum, as "name=microseconds" pairs that
 * bench/run.sh parses. -1 runs each operation exactly once inside
 * handshake_ops(), for callgrind's --toggle-collect (bench/profile.sh).
 * Hashing, record encryption and X.509 parsing are left out on purpose:
 * the floor is what no TLS stack built on these primitives can avoid.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bearssl.h>

#define MAX_RUNS 100000

struct blob {
	unsigned char *data;
	size_t len;
};

struct keys {
	br_skey_decoder_context server;     /* owns the server private key */
	br_skey_decoder_context client;     /* owns the client private key */
	br_x509_decoder_context ca_dc, client_dc;
	br_x509_pkey ca_pk, client_pk;      /* point into the decoders */
	struct blob client_cert;            /* DER */
	unsigned char tbs_hash[64];
	size_t tbs_hash_len;
	const unsigned char *tbs_hash_oid;
	unsigned char ca_sig[512];          /* the CA's signature on it */
	size_t ca_sig_len;
	int curve;                          /* BR_EC_curve25519 or BR_EC_secp256r1 */
};

/* What one run of each operation needs; filled once, outside the timing. */
struct work {
	const struct keys *k;
	unsigned char hash[32];              /* stands for a handshake hash */
	unsigned char server_sig[512];
	unsigned char cv_sig[512];
	size_t cv_sig_len;
	unsigned char ecdhe_priv[32];
	unsigned char ecdhe_pub[BR_EC_KBUF_PUB_MAX_SIZE];
	unsigned char peer_point[BR_EC_KBUF_PUB_MAX_SIZE];
	size_t peer_point_len;
};

static void die(const char *what) __attribute__((noreturn));

static void
die(const char *what)
{
	fprintf(stderr, "floor: %s\n", what);
	exit(1);
}

static void
append(void *ctx, const void *src, size_t len)
{
	struct blob *b = ctx;

	if (!(b->data = realloc(b->data, b->len + len)))
		die("out of memory");
	memcpy(b->data + b->len, src, len);
	b->len += len;
}

/* The DER of the first PEM object of `path`. */
static struct blob
read_pem(const char *path)
{
	struct blob text = { 0 }, der = { 0 };
	br_pem_decoder_context pc;
	unsigned char chunk[4096];
	const unsigned char *p;
	size_t n, left;
	FILE *f;
	int done = 0;

	if (!(f = fopen(path, "rb"))) {
		perror(path);
		exit(1);
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		append(&text, chunk, n);
	fclose(f);
	append(&text, "\n", 1);
	br_pem_decoder_init(&pc);
	p = text.data;
	left = text.len;
	while (left > 0 && !done) {
		size_t used = br_pem_decoder_push(&pc, p, left);

		p += used;
		left -= used;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			br_pem_decoder_setdest(&pc, append, &der);
			break;
		case BR_PEM_END_OBJ:
			done = 1;
			break;
		case BR_PEM_ERROR:
			die("bad PEM");
		}
	}
	free(text.data);
	if (!done)
		die("no PEM object");
	return der;
}

static void
load_private_key(br_skey_decoder_context *dc, const char *path)
{
	struct blob der = read_pem(path);

	br_skey_decoder_init(dc);
	br_skey_decoder_push(dc, der.data, der.len);
	if (br_skey_decoder_last_error(dc))
		die("cannot decode a private key");
	free(der.data);
}

static void
load_public_key(br_x509_decoder_context *dc, br_x509_pkey *pk,
    struct blob *keep_der, const char *path)
{
	struct blob der = read_pem(path);
	const br_x509_pkey *p;

	br_x509_decoder_init(dc, NULL, NULL);
	br_x509_decoder_push(dc, der.data, der.len);
	if (!(p = br_x509_decoder_get_pkey(dc)))
		die("cannot decode a certificate");
	*pk = *p;
	if (keep_der)
		*keep_der = der;
	/* The key points into the decoder, not into the DER. */
	else
		free(der.data);
}

/* ---- just enough DER to find a certificate's signed part ---- */

struct tlv {
	unsigned tag;
	const unsigned char *start;   /* the tag byte */
	const unsigned char *value;
	size_t len;                   /* of the value */
	const unsigned char *end;     /* after the value */
};

static int
der_next(const unsigned char *p, const unsigned char *limit, struct tlv *t)
{
	size_t len, i, n;

	if (limit - p < 2)
		return -1;
	t->start = p;
	t->tag = *p++;
	len = *p++;
	if (len & 0x80) {
		n = len & 0x7f;
		if (n == 0 || n > 4 || (size_t)(limit - p) < n)
			return -1;
		for (len = 0, i = 0; i < n; i++)
			len = (len << 8) | *p++;
	}
	if ((size_t)(limit - p) < len)
		return -1;
	t->value = p;
	t->len = len;
	t->end = p + len;
	return 0;
}

static const unsigned char oid_rsa_sha256[] =
	{ 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b };
static const unsigned char oid_rsa_sha384[] =
	{ 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c };
static const unsigned char oid_ecdsa_sha256[] =
	{ 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const unsigned char oid_ecdsa_sha384[] =
	{ 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };

static int
oid_is(const struct tlv *oid, const unsigned char *want, size_t len)
{
	return oid->len == len && memcmp(oid->value, want, len) == 0;
}

/*
 * Hashes the client certificate's TBSCertificate and copies its signature:
 * what the CA's public key will be asked to check.
 */
static void
split_certificate(struct keys *k)
{
	const unsigned char *der = k->client_cert.data;
	const unsigned char *limit = der + k->client_cert.len;
	struct tlv cert, tbs, alg, oid, sig;
	br_hash_compat_context hc;
	const br_hash_class *hash;

	if (der_next(der, limit, &cert) < 0 || cert.tag != 0x30
	    || der_next(cert.value, cert.end, &tbs) < 0 || tbs.tag != 0x30
	    || der_next(tbs.end, cert.end, &alg) < 0 || alg.tag != 0x30
	    || der_next(alg.value, alg.end, &oid) < 0 || oid.tag != 0x06
	    || der_next(alg.end, cert.end, &sig) < 0 || sig.tag != 0x03
	    || sig.len < 2 || sig.value[0] != 0 || sig.len - 1 > sizeof k->ca_sig)
		die("client certificate: unexpected DER layout");
	if (oid_is(&oid, oid_rsa_sha256, sizeof oid_rsa_sha256)
	    || oid_is(&oid, oid_ecdsa_sha256, sizeof oid_ecdsa_sha256)) {
		hash = &br_sha256_vtable;
		k->tbs_hash_oid = BR_HASH_OID_SHA256;
	} else if (oid_is(&oid, oid_rsa_sha384, sizeof oid_rsa_sha384)
	    || oid_is(&oid, oid_ecdsa_sha384, sizeof oid_ecdsa_sha384)) {
		hash = &br_sha384_vtable;
		k->tbs_hash_oid = BR_HASH_OID_SHA384;
	} else {
		die("client certificate: signature algorithm not handled here");
	}
	hash->init(&hc.vtable);
	hash->update(&hc.vtable, tbs.start, (size_t)(tbs.end - tbs.start));
	hash->out(&hc.vtable, k->tbs_hash);
	k->tbs_hash_len = (hash->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
	memcpy(k->ca_sig, sig.value + 1, sig.len - 1);
	k->ca_sig_len = sig.len - 1;
}

/* ---- the operations ---- */

static size_t
sign_with(const br_skey_decoder_context *key, const unsigned char *hash,
    unsigned char *sig)
{
	if (br_skey_decoder_key_type(key) == BR_KEYTYPE_RSA) {
		const br_rsa_private_key *sk = br_skey_decoder_get_rsa(key);

		if (!br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, hash, 32,
		    sk, sig))
			die("RSA signature failed");
		return (sk->n_bitlen + 7) / 8;
	}
	return br_ecdsa_sign_asn1_get_default()(br_ec_get_default(),
	    &br_sha256_vtable, hash, br_skey_decoder_get_ec(key), sig);
}

static int
verify_with(const br_x509_pkey *pk, const unsigned char *hash, size_t hash_len,
    const unsigned char *hash_oid, const unsigned char *sig, size_t sig_len)
{
	if (pk->key_type == BR_KEYTYPE_RSA) {
		unsigned char out[64];

		return br_rsa_pkcs1_vrfy_get_default()(sig, sig_len, hash_oid,
		    hash_len, &pk->key.rsa, out) && memcmp(out, hash, hash_len) == 0;
	}
	return br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(), hash,
	    hash_len, &pk->key.ec, sig, sig_len) == 1;
}

static void
op_sign(struct work *w)
{
	if (sign_with(&w->k->server, w->hash, w->server_sig) == 0)
		die("server signature failed");
}

static void
op_ecdhe_gen(struct work *w)
{
	if (br_ec_get_default()->mulgen(w->ecdhe_pub, w->ecdhe_priv,
	    sizeof w->ecdhe_priv, w->k->curve) == 0)
		die("mulgen failed");
}

static void
op_ca_verify(struct work *w)
{
	if (!verify_with(&w->k->ca_pk, w->k->tbs_hash, w->k->tbs_hash_len,
	    w->k->tbs_hash_oid, w->k->ca_sig, w->k->ca_sig_len))
		die("the CA's signature on the client certificate does not verify");
}

static void
op_cv_verify(struct work *w)
{
	if (!verify_with(&w->k->client_pk, w->hash, 32, BR_HASH_OID_SHA256,
	    w->cv_sig, w->cv_sig_len))
		die("the CertificateVerify signature does not verify");
}

static void
op_ecdhe_mul(struct work *w)
{
	unsigned char point[BR_EC_KBUF_PUB_MAX_SIZE];

	/* mul works in place, so each run starts from the peer's point. */
	memcpy(point, w->peer_point, w->peer_point_len);
	if (!br_ec_get_default()->mul(point, w->peer_point_len, w->ecdhe_priv,
	    sizeof w->ecdhe_priv, w->k->curve))
		die("mul failed");
}

static const struct {
	const char *name;
	void (*run)(struct work *);
} ops[] = {
	{ "sign", op_sign },
	{ "ecdhe_gen", op_ecdhe_gen },
	{ "ca_verify", op_ca_verify },
	{ "cv_verify", op_cv_verify },
	{ "ecdhe_mul", op_ecdhe_mul },
};
#define OP_COUNT (sizeof ops / sizeof ops[0])

/* Kept out of line: bench/profile.sh counts instructions inside it. */
void handshake_ops(struct work *w) __attribute__((noinline));
void
handshake_ops(struct work *w)
{
	size_t i;

	for (i = 0; i < OP_COUNT; i++)
		ops[i].run(w);
}

static void
prepare(struct work *w, const struct keys *k)
{
	br_hmac_drbg_context rng;
	unsigned char scalar[32];
	size_t i;

	memset(w, 0, sizeof *w);
	w->k = k;
	br_hmac_drbg_init(&rng, &br_sha256_vtable, "mtlsd floor", 11);
	br_hmac_drbg_generate(&rng, w->hash, sizeof w->hash);
	/* A scalar below every curve order used here, never zero. */
	br_hmac_drbg_generate(&rng, w->ecdhe_priv, sizeof w->ecdhe_priv);
	w->ecdhe_priv[0] &= 0x7f;
	w->ecdhe_priv[31] |= 1;
	/* The client's key share, from an unrelated scalar. */
	br_hmac_drbg_generate(&rng, scalar, sizeof scalar);
	scalar[0] &= 0x7f;
	scalar[31] |= 1;
	w->peer_point_len = br_ec_get_default()->mulgen(w->peer_point, scalar,
	    sizeof scalar, k->curve);
	if (w->peer_point_len == 0)
		die("this BearSSL does not do that curve");
	w->cv_sig_len = sign_with(&k->client, w->hash, w->cv_sig);
	for (i = 0; i < OP_COUNT; i++)
		ops[i].run(w);   /* checks every signature once */
}

static double
cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median_us(void (*run)(struct work *), struct work *w, int runs, double *samples)
{
	int i;

	for (i = 0; i < runs; i++) {
		double t0 = cpu_us();

		run(w);
		samples[i] = cpu_us() - t0;
	}
	qsort(samples, (size_t)runs, sizeof *samples, by_value);
	return runs % 2 ? samples[runs / 2]
	    : (samples[runs / 2 - 1] + samples[runs / 2]) / 2;
}

static void
usage(void)
{
	fprintf(stderr, "usage: floor [-n N] [-1] [-g x25519|p256] "
	    "SERVER_KEY CA_CERT CLIENT_CERT CLIENT_KEY\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct keys k;
	static struct work w;
	double *samples, total = 0;
	int runs = 200, once = 0, argi = 1;
	size_t i;

	k.curve = BR_EC_curve25519;
	while (argi < argc && argv[argi][0] == '-') {
		if (strcmp(argv[argi], "-n") == 0 && argi + 1 < argc) {
			runs = atoi(argv[argi + 1]);
			argi += 2;
		} else if (strcmp(argv[argi], "-1") == 0) {
			once = 1;
			argi++;
		} else if (strcmp(argv[argi], "-g") == 0 && argi + 1 < argc) {
			if (strcmp(argv[argi + 1], "x25519") == 0)
				k.curve = BR_EC_curve25519;
			else if (strcmp(argv[argi + 1], "p256") == 0)
				k.curve = BR_EC_secp256r1;
			else
				usage();
			argi += 2;
		} else {
			usage();
		}
	}
	if (argc - argi != 4 || runs < 1 || runs > MAX_RUNS)
		usage();
	load_private_key(&k.server, argv[argi]);
	load_public_key(&k.ca_dc, &k.ca_pk, NULL, argv[argi + 1]);
	load_public_key(&k.client_dc, &k.client_pk, &k.client_cert, argv[argi + 2]);
	load_private_key(&k.client, argv[argi + 3]);
	split_certificate(&k);
	prepare(&w, &k);
	if (once) {
		handshake_ops(&w);
		return 0;
	}
	if (!(samples = malloc((size_t)runs * sizeof *samples)))
		die("out of memory");
	printf("floor curve=%s server_key=%s",
	    k.curve == BR_EC_curve25519 ? "x25519" : "p256",
	    br_skey_decoder_key_type(&k.server) == BR_KEYTYPE_RSA ? "rsa" : "ec");
	for (i = 0; i < OP_COUNT; i++) {
		double us = median_us(ops[i].run, &w, runs, samples);

		printf(" %s=%.1f", ops[i].name, us);
		total += us;
	}
	printf(" total=%.1f\n", total);
	free(samples);
	return 0;
}
