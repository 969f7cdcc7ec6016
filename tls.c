/*
 * tls.c - BearSSL glue for mtlsd: PEM loading, the server engine, and the
 * X.509 wrapper that decides who the client is.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls.h"

#define MAX_PEM_FILE (1024 * 1024)

/* TLS 1.2, ECDHE only, AEAD only; AES-GCM first, then ChaCha20. */
static const uint16_t cipher_suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};

static const char *alpn_names[] = { "http/1.1" };

/* OID 2.5.4.3, commonName, in BearSSL's length-prefixed form. */
static const unsigned char oid_common_name[] = { 3, 0x55, 0x04, 0x03 };

static const struct {
	int id;
	const br_hash_class *impl;
} hashes[] = {
	{ br_sha1_ID, &br_sha1_vtable },
	{ br_sha224_ID, &br_sha224_vtable },
	{ br_sha256_ID, &br_sha256_vtable },
	{ br_sha384_ID, &br_sha384_vtable },
	{ br_sha512_ID, &br_sha512_vtable },
};

/* ---- growable byte buffers, used only while loading at start-up ---- */

struct bytes {
	unsigned char *data;
	size_t len, cap;
};

static void
bytes_append(void *ctx, const void *src, size_t len)
{
	struct bytes *b = ctx;

	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		unsigned char *p;

		while (cap < b->len + len)
			cap *= 2;
		if (!(p = realloc(b->data, cap))) {
			perror("mtlsd: realloc");
			exit(1);
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, src, len);
	b->len += len;
}

static void *
copy_of(const void *src, size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p) {
		perror("mtlsd: malloc");
		exit(1);
	}
	memcpy(p, src, len);
	return p;
}

static int
fail(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -1;
}

static int
read_whole_file(const char *path, struct bytes *out, char *why, size_t why_len)
{
	unsigned char chunk[4096];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return fail(why, why_len, "%s: %s", path, strerror(errno));
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail(why, why_len, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (out->len + (size_t)n > MAX_PEM_FILE) {
			close(fd);
			return fail(why, why_len, "%s: larger than %d bytes",
			    path, MAX_PEM_FILE);
		}
		bytes_append(out, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

/* ---- PEM ---- */

struct pem_object {
	char name[128];
	struct bytes der;
};

struct pem_objects {
	struct pem_object *items;
	size_t count;
};

/*
 * Decodes every PEM object of `path`. Returns -1 with `why` filled when the
 * file cannot be read or is not valid PEM.
 */
static int
pem_read_file(const char *path, struct pem_objects *objs, char *why, size_t why_len)
{
	struct bytes text = { 0 };
	br_pem_decoder_context pc;
	const unsigned char *p;
	size_t left;
	bool inside = false, tail_pushed = false;

	memset(objs, 0, sizeof *objs);
	if (read_whole_file(path, &text, why, why_len) < 0)
		return -1;
	if (text.len > 0 && memmem(text.data, text.len, "Proc-Type: 4,ENCRYPTED", 22)) {
		free(text.data);
		return fail(why, why_len, "%s: the key is encrypted; mtlsd "
		    "needs an unencrypted key (openssl pkey -in KEY -out PLAIN)", path);
	}
	br_pem_decoder_init(&pc);
	p = text.data;
	left = text.len;
	for (;;) {
		size_t used;
		struct pem_object *obj;

		if (left == 0) {
			/* A final newline lets the decoder finish a last line. */
			if (tail_pushed)
				break;
			tail_pushed = true;
			p = (const unsigned char *)"\n";
			left = 1;
		}
		used = br_pem_decoder_push(&pc, p, left);
		p += used;
		left -= used;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			objs->items = realloc(objs->items,
			    (objs->count + 1) * sizeof *objs->items);
			if (!objs->items) {
				perror("mtlsd: realloc");
				exit(1);
			}
			obj = &objs->items[objs->count++];
			memset(obj, 0, sizeof *obj);
			snprintf(obj->name, sizeof obj->name, "%s",
			    br_pem_decoder_name(&pc));
			br_pem_decoder_setdest(&pc, bytes_append, &obj->der);
			inside = true;
			break;
		case BR_PEM_END_OBJ:
			inside = false;
			break;
		case BR_PEM_ERROR:
			free(text.data);
			return fail(why, why_len, "%s: not valid PEM", path);
		}
	}
	free(text.data);
	if (inside)
		return fail(why, why_len, "%s: truncated PEM object", path);
	return 0;
}

static bool
is_certificate(const struct pem_object *obj)
{
	return strcmp(obj->name, "CERTIFICATE") == 0
	    || strcmp(obj->name, "X509 CERTIFICATE") == 0;
}

/* ---- certificates and keys ---- */

/*
 * Decodes one certificate far enough to know its public key and subject DN.
 * The returned key points into `dc`; the DN is appended to `dn` if given.
 */
static const br_x509_pkey *
decode_certificate(br_x509_decoder_context *dc, struct bytes *dn,
    const struct bytes *der)
{
	br_x509_decoder_init(dc, dn ? bytes_append : NULL, dn);
	br_x509_decoder_push(dc, der->data, der->len);
	return br_x509_decoder_get_pkey(dc);
}

static void
copy_pkey(br_x509_pkey *dst, const br_x509_pkey *src)
{
	*dst = *src;
	if (src->key_type == BR_KEYTYPE_RSA) {
		dst->key.rsa.n = copy_of(src->key.rsa.n, src->key.rsa.nlen);
		dst->key.rsa.e = copy_of(src->key.rsa.e, src->key.rsa.elen);
	} else {
		dst->key.ec.q = copy_of(src->key.ec.q, src->key.ec.qlen);
	}
}

static int
load_chain(struct tls_credentials *creds, const char *path, char *why, size_t why_len)
{
	struct pem_objects objs;
	size_t i;

	if (pem_read_file(path, &objs, why, why_len) < 0)
		return -1;
	creds->chain = calloc(objs.count ? objs.count : 1, sizeof *creds->chain);
	if (!creds->chain) {
		perror("mtlsd: calloc");
		exit(1);
	}
	for (i = 0; i < objs.count; i++) {
		br_x509_certificate *cert;

		if (!is_certificate(&objs.items[i])) {
			free(objs.items[i].der.data);
			continue;
		}
		cert = &creds->chain[creds->chain_len++];
		cert->data = objs.items[i].der.data;
		cert->data_len = objs.items[i].der.len;
	}
	free(objs.items);
	if (creds->chain_len == 0)
		return fail(why, why_len, "%s: no certificate found", path);
	return 0;
}

static int
load_key(struct tls_credentials *creds, const char *path, char *why, size_t why_len)
{
	struct pem_objects objs;
	const struct pem_object *found = NULL;
	size_t i;
	int err = 0;

	if (pem_read_file(path, &objs, why, why_len) < 0)
		return -1;
	for (i = 0; i < objs.count && !found; i++) {
		const char *name = objs.items[i].name;

		if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
			err = fail(why, why_len, "%s: the key is encrypted; "
			    "mtlsd needs an unencrypted key "
			    "(openssl pkey -in KEY -out PLAIN)", path);
			break;
		}
		if (strcmp(name, "PRIVATE KEY") == 0
		    || strcmp(name, "RSA PRIVATE KEY") == 0
		    || strcmp(name, "EC PRIVATE KEY") == 0)
			found = &objs.items[i];
	}
	if (!err && !found)
		err = fail(why, why_len, "%s: no private key found "
		    "(expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", path);
	if (!err) {
		br_skey_decoder_init(&creds->key);
		br_skey_decoder_push(&creds->key, found->der.data, found->der.len);
		if (br_skey_decoder_last_error(&creds->key) != 0)
			err = fail(why, why_len, "%s: unsupported or damaged "
			    "private key (mtlsd takes RSA or EC keys)", path);
		else
			creds->key_type = br_skey_decoder_key_type(&creds->key);
	}
	for (i = 0; i < objs.count; i++) {
		/* Key material is no longer needed in these buffers. */
		explicit_bzero(objs.items[i].der.data, objs.items[i].der.len);
		free(objs.items[i].der.data);
	}
	free(objs.items);
	return err;
}

static bool
same_unsigned(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	while (alen > 0 && *a == 0) {
		a++;
		alen--;
	}
	while (blen > 0 && *b == 0) {
		b++;
		blen--;
	}
	return alen == blen && memcmp(a, b, alen) == 0;
}

/*
 * The same modulus means the same key pair (n = pq). The public exponent is
 * not compared: BearSSL 0.6 cannot always recompute it from the private key.
 */
static bool
rsa_key_matches(const br_rsa_private_key *sk, const br_rsa_public_key *pk)
{
	unsigned char n[4096 / 8];   /* BearSSL's RSA stops at 4096 bits */
	br_rsa_compute_modulus modulus = br_rsa_compute_modulus_get_default();
	size_t nlen;

	if ((nlen = modulus(NULL, sk)) == 0 || nlen > sizeof n)
		return false;
	modulus(n, sk);
	return same_unsigned(n, nlen, pk->n, pk->nlen);
}

static bool
ec_key_matches(const br_ec_private_key *sk, const br_ec_public_key *pk)
{
	unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
	br_ec_public_key computed;
	size_t len;

	len = br_ec_compute_pub(br_ec_get_default(), &computed, q, sk);
	return len != 0 && computed.curve == pk->curve
	    && len == pk->qlen && memcmp(q, pk->q, len) == 0;
}

static int
check_key_matches_leaf(struct tls_credentials *creds, const char *cert_file,
    const char *key_file, char *why, size_t why_len)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	struct bytes leaf = { creds->chain[0].data, creds->chain[0].data_len, 0 };
	bool match;

	if (!(pk = decode_certificate(&dc, NULL, &leaf)))
		return fail(why, why_len, "%s: cannot decode the first "
		    "certificate (BearSSL error %d)", cert_file,
		    br_x509_decoder_last_error(&dc));
	if (pk->key_type != creds->key_type)
		return fail(why, why_len, "%s does not match the certificate "
		    "in %s (key types differ)", key_file, cert_file);
	creds->issuer_key_type = br_x509_decoder_get_signer_key_type(&dc);
	if (creds->key_type == BR_KEYTYPE_RSA)
		match = rsa_key_matches(br_skey_decoder_get_rsa(&creds->key),
		    &pk->key.rsa);
	else
		match = ec_key_matches(br_skey_decoder_get_ec(&creds->key),
		    &pk->key.ec);
	if (!match)
		return fail(why, why_len, "%s does not match the certificate "
		    "in %s", key_file, cert_file);
	return 0;
}

static int
load_anchors(struct tls_credentials *creds, const char *path, char *why, size_t why_len)
{
	struct pem_objects objs;
	size_t i;
	int err = 0;

	if (pem_read_file(path, &objs, why, why_len) < 0)
		return -1;
	creds->anchors = calloc(objs.count ? objs.count : 1, sizeof *creds->anchors);
	if (!creds->anchors) {
		perror("mtlsd: calloc");
		exit(1);
	}
	for (i = 0; i < objs.count; i++) {
		br_x509_decoder_context dc;
		struct bytes dn = { 0 };
		const br_x509_pkey *pk;
		br_x509_trust_anchor *ta;

		if (!is_certificate(&objs.items[i]))
			continue;
		if (!(pk = decode_certificate(&dc, &dn, &objs.items[i].der))) {
			err = fail(why, why_len, "%s: certificate %zu cannot be "
			    "decoded (BearSSL error %d)", path, i + 1,
			    br_x509_decoder_last_error(&dc));
			free(dn.data);
			break;
		}
		ta = &creds->anchors[creds->anchor_count++];
		ta->dn.data = dn.data;
		ta->dn.len = dn.len;
		/* Pinned by the operator: a CA whatever its extensions say. */
		ta->flags = BR_X509_TA_CA;
		copy_pkey(&ta->pkey, pk);
	}
	for (i = 0; i < objs.count; i++)
		free(objs.items[i].der.data);
	free(objs.items);
	if (!err && creds->anchor_count == 0)
		err = fail(why, why_len, "%s: no CA certificate found", path);
	return err;
}

int
tls_load_credentials(struct tls_credentials *creds, const char *cert_file,
    const char *key_file, const char *ca_file, char *why, size_t why_len)
{
	enum verify_mode mode = creds->mode;

	memset(creds, 0, sizeof *creds);
	creds->mode = mode;
	if (load_chain(creds, cert_file, why, why_len) < 0
	    || load_key(creds, key_file, why, why_len) < 0
	    || check_key_matches_leaf(creds, cert_file, key_file, why, why_len) < 0
	    || load_anchors(creds, ca_file, why, why_len) < 0)
		return -1;
	return 0;
}

/* ---- the client verifier: br_x509_minimal plus a per-connection verdict ---- */

static struct client_verifier *
verifier_of(const br_x509_class **ctx)
{
	return (struct client_verifier *)(void *)ctx;
}

static void
verifier_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct client_verifier *v = verifier_of(ctx);

	v->auth = AUTH_REJECTED;
	v->x509_error = BR_ERR_X509_NOT_TRUSTED;
	v->cert_count = 0;
	v->cn[0] = '\0';
	v->minimal.vtable->start_chain(&v->minimal.vtable, server_name);
}

static void
verifier_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct client_verifier *v = verifier_of(ctx);

	/* Past the cap, stop feeding the validator: no CPU for long chains. */
	if (++v->cert_count <= TLS_MAX_CLIENT_CHAIN)
		v->minimal.vtable->start_cert(&v->minimal.vtable, length);
}

static void
verifier_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct client_verifier *v = verifier_of(ctx);

	if (v->cert_count <= TLS_MAX_CLIENT_CHAIN)
		v->minimal.vtable->append(&v->minimal.vtable, buf, len);
}

static void
verifier_end_cert(const br_x509_class **ctx)
{
	struct client_verifier *v = verifier_of(ctx);

	if (v->cert_count <= TLS_MAX_CLIENT_CHAIN)
		v->minimal.vtable->end_cert(&v->minimal.vtable);
}

static unsigned
verifier_end_chain(const br_x509_class **ctx)
{
	struct client_verifier *v = verifier_of(ctx);
	unsigned err;

	if (v->cert_count > TLS_MAX_CLIENT_CHAIN)
		err = BR_ERR_X509_LIMIT_EXCEEDED;
	else
		err = v->minimal.vtable->end_chain(&v->minimal.vtable);
	v->x509_error = (int)err;
	v->auth = err == 0 ? AUTH_VERIFIED : AUTH_REJECTED;
	if (err != 0 || v->cn_element.status != 1)
		v->cn[0] = '\0';
	return err;
}

static const br_x509_pkey *
verifier_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct client_verifier *v = verifier_of((const br_x509_class **)ctx);

	if (v->auth != AUTH_VERIFIED)
		return NULL;
	return v->minimal.vtable->get_pkey(&v->minimal.vtable, usages);
}

static const br_x509_class verifier_class = {
	sizeof(struct client_verifier),
	verifier_start_chain,
	verifier_start_cert,
	verifier_append,
	verifier_end_cert,
	verifier_end_chain,
	verifier_get_pkey,
};

static void
verifier_init(struct client_verifier *v, const struct tls_credentials *creds)
{
	size_t i;

	memset(v, 0, sizeof *v);
	v->vtable = &verifier_class;
	br_x509_minimal_init(&v->minimal, &br_sha256_vtable,
	    creds->anchors, creds->anchor_count);
	for (i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
		br_x509_minimal_set_hash(&v->minimal, hashes[i].id, hashes[i].impl);
	br_x509_minimal_set_rsa(&v->minimal, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(&v->minimal, br_ec_get_default(),
	    br_ecdsa_vrfy_asn1_get_default());
	v->cn_element.oid = oid_common_name;
	v->cn_element.buf = v->cn;
	v->cn_element.len = sizeof v->cn;
	br_x509_minimal_set_name_elements(&v->minimal, &v->cn_element, 1);
}

/* ---- sessions ---- */

void
tls_session_init(struct tls_session *s, const struct tls_credentials *creds)
{
	br_ssl_engine_context *eng = &s->server.eng;
	uint32_t flags;
	size_t i;

	br_ssl_server_zero(&s->server);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, cipher_suites,
	    sizeof cipher_suites / sizeof cipher_suites[0]);
	br_ssl_engine_set_default_ec(eng);
	for (i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
		br_ssl_engine_set_hash(eng, hashes[i].id, hashes[i].impl);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(eng);
	br_ssl_engine_set_default_chapol(eng);
	/* Verifying the client's CertificateVerify signature. */
	br_ssl_engine_set_default_rsavrfy(eng);
	br_ssl_engine_set_default_ecdsa(eng);

	if (creds->key_type == BR_KEYTYPE_RSA)
		br_ssl_server_set_single_rsa(&s->server, creds->chain,
		    creds->chain_len, br_skey_decoder_get_rsa(&creds->key),
		    BR_KEYTYPE_SIGN, br_rsa_private_get_default(),
		    br_rsa_pkcs1_sign_get_default());
	else
		br_ssl_server_set_single_ec(&s->server, creds->chain,
		    creds->chain_len, br_skey_decoder_get_ec(&creds->key),
		    BR_KEYTYPE_SIGN, creds->issuer_key_type,
		    br_ec_get_default(), br_ecdsa_sign_asn1_get_default());

	/* Naming the CAs is what makes BearSSL ask for a certificate. */
	br_ssl_server_set_trust_anchor_names_alt(&s->server,
	    creds->anchors, creds->anchor_count);
	verifier_init(&s->verifier, creds);
	br_ssl_engine_set_x509(eng, &s->verifier.vtable);

	br_ssl_engine_set_protocol_names(eng, alpn_names, 1);
	flags = BR_OPT_ENFORCE_SERVER_PREFERENCES | BR_OPT_NO_RENEGOTIATION;
	if (creds->mode == VERIFY_ON)
		flags |= BR_OPT_TOLERATE_NO_CLIENT_AUTH;
	br_ssl_engine_set_all_flags(eng, flags);
	br_ssl_engine_set_buffers_bidi(eng, s->iobuf, BR_SSL_BUFSIZE_INPUT,
	    s->iobuf + BR_SSL_BUFSIZE_INPUT, BR_SSL_BUFSIZE_OUTPUT);
}

void
tls_session_start(struct tls_session *s)
{
	unsigned char seed[32];
	ssize_t got;

	s->verifier.auth = AUTH_NOT_SENT;
	s->verifier.x509_error = 0;
	s->verifier.cert_count = 0;
	s->verifier.cn[0] = '\0';
	do
		got = getrandom(seed, sizeof seed, 0);
	while (got < 0 && errno == EINTR);
	/* Without it BearSSL seeds itself from the OS on first use. */
	if (got == (ssize_t)sizeof seed)
		br_ssl_engine_inject_entropy(&s->server.eng, seed, sizeof seed);
	br_ssl_server_reset(&s->server);
}

static bool
would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

enum tls_io
tls_session_pump(struct tls_session *s, int fd)
{
	br_ssl_engine_context *eng = &s->server.eng;

	for (;;) {
		unsigned state = br_ssl_engine_current_state(eng);
		unsigned char *buf;
		size_t len;
		ssize_t n;

		if (state & BR_SSL_CLOSED)
			return TLS_IO_CLOSED;
		if (state & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			n = send(fd, buf, len, MSG_NOSIGNAL);
			if (n > 0) {
				br_ssl_engine_sendrec_ack(eng, (size_t)n);
				continue;
			}
			if (n < 0 && !would_block())
				return TLS_IO_CLOSED;
		}
		if (state & BR_SSL_RECVREC) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			n = recv(fd, buf, len, 0);
			if (n > 0) {
				br_ssl_engine_recvrec_ack(eng, (size_t)n);
				continue;
			}
			if (n == 0 || !would_block())
				return TLS_IO_CLOSED;
		}
		return TLS_IO_OPEN;
	}
}

short
tls_session_poll_events(const struct tls_session *s)
{
	unsigned state = br_ssl_engine_current_state(&s->server.eng);
	short events = 0;

	if (state & BR_SSL_SENDREC)
		events |= POLLOUT;
	if (state & BR_SSL_RECVREC)
		events |= POLLIN;
	return events;
}

bool
tls_session_handshake_done(const struct tls_session *s)
{
	unsigned state = br_ssl_engine_current_state(&s->server.eng);

	return (state & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0;
}

int
tls_session_error(const struct tls_session *s)
{
	return br_ssl_engine_last_error(&s->server.eng);
}

size_t
tls_session_read(struct tls_session *s, void *buf, size_t len)
{
	unsigned char *app;
	size_t avail;

	if (!(app = br_ssl_engine_recvapp_buf(&s->server.eng, &avail)))
		return 0;
	if (avail > len)
		avail = len;
	memcpy(buf, app, avail);
	br_ssl_engine_recvapp_ack(&s->server.eng, avail);
	return avail;
}

unsigned char *
tls_session_write_space(struct tls_session *s, size_t *len)
{
	unsigned char *buf = br_ssl_engine_sendapp_buf(&s->server.eng, len);

	if (!buf)
		*len = 0;
	return buf;
}

void
tls_session_write_done(struct tls_session *s, size_t len)
{
	br_ssl_engine_sendapp_ack(&s->server.eng, len);
}

void
tls_session_flush(struct tls_session *s)
{
	br_ssl_engine_flush(&s->server.eng, 0);
}

void
tls_session_close(struct tls_session *s)
{
	br_ssl_engine_close(&s->server.eng);
}

bool
tls_session_sending(const struct tls_session *s)
{
	return (br_ssl_engine_current_state(&s->server.eng) & BR_SSL_SENDREC) != 0;
}

void
tls_session_send_refusal(const struct tls_session *s, int fd)
{
	enum { HANDSHAKE_FAILURE = 40, BAD_CERTIFICATE = 42,
		CERTIFICATE_EXPIRED = 45, UNKNOWN_CA = 48 };
	unsigned char alert[7] = { 21, 3, 3, 0, 2, 2, BAD_CERTIFICATE };

	if (s->verifier.auth == AUTH_VERIFIED)
		return;
	if (s->verifier.auth == AUTH_NOT_SENT)
		alert[6] = HANDSHAKE_FAILURE;
	else if (s->verifier.x509_error == BR_ERR_X509_EXPIRED)
		alert[6] = CERTIFICATE_EXPIRED;
	else if (s->verifier.x509_error == BR_ERR_X509_NOT_TRUSTED)
		alert[6] = UNKNOWN_CA;
	if (send(fd, alert, sizeof alert, MSG_NOSIGNAL) < 0) {
		/* The client is gone; nothing to tell. */
	}
}

enum client_auth
tls_session_auth(const struct tls_session *s)
{
	return s->verifier.auth;
}

const char *
tls_session_client_cn(const struct tls_session *s)
{
	if (s->verifier.auth != AUTH_VERIFIED)
		return NULL;
	return s->verifier.cn;
}

const char *
tls_session_auth_failure(const struct tls_session *s)
{
	static char text[160];

	switch (s->verifier.auth) {
	case AUTH_VERIFIED:
		return "client certificate verified";
	case AUTH_NOT_SENT:
		return "client sent no required SSL certificate";
	case AUTH_REJECTED:
		break;
	}
	snprintf(text, sizeof text, "client SSL certificate verify error: %s",
	    tls_error_text(s->verifier.x509_error));
	return text;
}

const char *
tls_error_text(int err)
{
	static const struct {
		int code;
		const char *text;
	} texts[] = {
		{ BR_ERR_OK, "no error" },
		{ BR_ERR_BAD_PARAM, "bad parameter from the peer" },
		{ BR_ERR_BAD_STATE, "unexpected state" },
		{ BR_ERR_UNSUPPORTED_VERSION, "unsupported protocol version (TLS 1.2 only)" },
		{ BR_ERR_BAD_VERSION, "bad record version" },
		{ BR_ERR_BAD_LENGTH, "bad record length" },
		{ BR_ERR_TOO_LARGE, "record too large" },
		{ BR_ERR_BAD_MAC, "bad record MAC" },
		{ BR_ERR_NO_RANDOM, "no entropy" },
		{ BR_ERR_UNKNOWN_TYPE, "unknown record type (not TLS?)" },
		{ BR_ERR_UNEXPECTED, "unexpected message" },
		{ BR_ERR_BAD_CCS, "bad ChangeCipherSpec" },
		{ BR_ERR_BAD_ALERT, "bad alert" },
		{ BR_ERR_BAD_HANDSHAKE, "bad handshake message" },
		{ BR_ERR_OVERSIZED_ID, "oversized session ID" },
		{ BR_ERR_BAD_CIPHER_SUITE, "bad cipher suite" },
		{ BR_ERR_BAD_COMPRESSION, "bad compression" },
		{ BR_ERR_BAD_FRAGLEN, "bad fragment length" },
		{ BR_ERR_BAD_SECRENEG, "bad secure renegotiation" },
		{ BR_ERR_EXTRA_EXTENSION, "unexpected extension" },
		{ BR_ERR_BAD_SNI, "bad server name" },
		{ BR_ERR_BAD_HELLO_DONE, "bad ServerHelloDone" },
		{ BR_ERR_LIMIT_EXCEEDED, "limit exceeded" },
		{ BR_ERR_BAD_FINISHED, "bad Finished message" },
		{ BR_ERR_RESUME_MISMATCH, "session resumption mismatch" },
		{ BR_ERR_INVALID_ALGORITHM, "unsupported algorithm" },
		{ BR_ERR_BAD_SIGNATURE, "bad signature" },
		{ BR_ERR_WRONG_KEY_USAGE, "key usage does not allow signing" },
		{ BR_ERR_NO_CLIENT_AUTH, "client sent no required SSL certificate" },
		{ BR_ERR_IO, "I/O error" },
		{ BR_ERR_X509_INVALID_VALUE, "certificate has an invalid value" },
		{ BR_ERR_X509_TRUNCATED, "certificate truncated" },
		{ BR_ERR_X509_EMPTY_CHAIN, "empty certificate chain" },
		{ BR_ERR_X509_INNER_TRUNC, "certificate inner element truncated" },
		{ BR_ERR_X509_BAD_TAG_CLASS, "certificate has a bad tag class" },
		{ BR_ERR_X509_BAD_TAG_VALUE, "certificate has a bad tag value" },
		{ BR_ERR_X509_INDEFINITE_LENGTH, "certificate uses indefinite length" },
		{ BR_ERR_X509_EXTRA_ELEMENT, "certificate has an extra element" },
		{ BR_ERR_X509_UNEXPECTED, "certificate has an unexpected element" },
		{ BR_ERR_X509_NOT_CONSTRUCTED, "certificate element not constructed" },
		{ BR_ERR_X509_NOT_PRIMITIVE, "certificate element not primitive" },
		{ BR_ERR_X509_PARTIAL_BYTE, "certificate has a partial byte" },
		{ BR_ERR_X509_BAD_BOOLEAN, "certificate has a bad boolean" },
		{ BR_ERR_X509_OVERFLOW, "certificate value overflow" },
		{ BR_ERR_X509_BAD_DN, "certificate has a bad distinguished name" },
		{ BR_ERR_X509_BAD_TIME, "certificate has a bad time" },
		{ BR_ERR_X509_UNSUPPORTED, "certificate uses an unsupported feature" },
		{ BR_ERR_X509_LIMIT_EXCEEDED, "certificate chain too long or certificate too large" },
		{ BR_ERR_X509_WRONG_KEY_TYPE, "certificate key type not supported" },
		{ BR_ERR_X509_BAD_SIGNATURE, "certificate signature is invalid" },
		{ BR_ERR_X509_TIME_UNKNOWN, "current time unknown" },
		{ BR_ERR_X509_EXPIRED, "certificate has expired or is not yet valid" },
		{ BR_ERR_X509_DN_MISMATCH, "issuer name mismatch" },
		{ BR_ERR_X509_BAD_SERVER_NAME, "bad server name" },
		{ BR_ERR_X509_CRITICAL_EXTENSION, "certificate has an unsupported critical extension" },
		{ BR_ERR_X509_NOT_CA, "issuer is not a CA" },
		{ BR_ERR_X509_FORBIDDEN_KEY_USAGE, "key usage forbids this use" },
		{ BR_ERR_X509_WEAK_PUBLIC_KEY, "public key too weak" },
		{ BR_ERR_X509_NOT_TRUSTED, "certificate not trusted: no pinned CA issued it" },
	};
	static char other[48];
	size_t i;

	if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT) {
		snprintf(other, sizeof other, "client sent fatal alert %d",
		    err - BR_ERR_RECV_FATAL_ALERT);
		return other;
	}
	if (err >= BR_ERR_SEND_FATAL_ALERT) {
		snprintf(other, sizeof other, "sent fatal alert %d",
		    err - BR_ERR_SEND_FATAL_ALERT);
		return other;
	}
	for (i = 0; i < sizeof texts / sizeof texts[0]; i++)
		if (texts[i].code == err)
			return texts[i].text;
	snprintf(other, sizeof other, "BearSSL error %d", err);
	return other;
}
