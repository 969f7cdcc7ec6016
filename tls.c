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
#include <time.h>
#include <unistd.h>

#include "tls.h"

#define MAX_PEM_FILE (1024 * 1024)

/*
 * Socket reads per tls_session_pump() call. A peer that streams records the
 * engine swallows without producing anything (warning alerts, say) would
 * otherwise keep the single-threaded loop here for as long as it sends.
 */
#define PUMP_MAX_RECVS 32

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
			break;
		}
		if (out->len + (size_t)n > MAX_PEM_FILE) {
			fail(why, why_len, "%s: larger than %d bytes", path, MAX_PEM_FILE);
			break;
		}
		bytes_append(out, chunk, (size_t)n);
	}
	close(fd);
	if (n != 0) {
		/* Nothing stays allocated on failure. */
		free(out->data);
		memset(out, 0, sizeof *out);
		return -1;
	}
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

static void
pem_free(struct pem_objects *objs)
{
	size_t i;

	for (i = 0; i < objs->count; i++)
		free(objs->items[i].der.data);
	free(objs->items);
	memset(objs, 0, sizeof *objs);
}

/*
 * Decodes every PEM object of `path`. Returns -1 with `why` filled (and
 * nothing allocated) when the file cannot be read or is not valid PEM.
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
			pem_free(objs);
			return fail(why, why_len, "%s: not valid PEM", path);
		}
	}
	free(text.data);
	if (inside) {
		pem_free(objs);
		return fail(why, why_len, "%s: truncated PEM object", path);
	}
	return 0;
}

static bool
is_certificate(const struct pem_object *obj)
{
	return strcmp(obj->name, "CERTIFICATE") == 0
	    || strcmp(obj->name, "X509 CERTIFICATE") == 0;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- DER: just enough to read certificates and CRLs ---- */

struct der {
	const unsigned char *p;
	size_t len;
};

/*
 * Reads one element from `in`: its tag, its contents and (if `whole` is not
 * NULL) the element with its header. Single-byte tags, definite lengths.
 */
static bool
der_next(struct der *in, unsigned *tag, struct der *value, struct der *whole)
{
	size_t i = 2, len;

	if (in->len < 2 || (in->p[0] & 0x1f) == 0x1f)
		return false;
	len = in->p[1];
	if (len & 0x80) {
		size_t n = len & 0x7f, k;

		if (n == 0 || n > 4 || in->len < 2 + n)
			return false;
		for (len = 0, k = 0; k < n; k++)
			len = (len << 8) | in->p[2 + k];
		i += n;
	}
	if (len > in->len - i)
		return false;
	*tag = in->p[0];
	value->p = in->p + i;
	value->len = len;
	if (whole) {
		whole->p = in->p;
		whole->len = i + len;
	}
	in->p += i + len;
	in->len -= i + len;
	return true;
}

static bool
der_expect(struct der *in, unsigned want, struct der *value, struct der *whole)
{
	unsigned tag;

	return der_next(in, &tag, value, whole) && tag == want;
}

static bool
der_oid_is(struct der oid, const unsigned char *want, size_t want_len)
{
	return oid.len == want_len && memcmp(oid.p, want, want_len) == 0;
}

static const unsigned char oid_eku[] = { 0x55, 0x1d, 0x25 };
static const unsigned char oid_key_usage[] = { 0x55, 0x1d, 0x0f };
static const unsigned char oid_name_constraints[] = { 0x55, 0x1d, 0x1e };
static const unsigned char oid_client_auth[] = { 0x2b, 6, 1, 5, 5, 7, 3, 2 };
static const unsigned char oid_server_auth[] = { 0x2b, 6, 1, 5, 5, 7, 3, 1 };
static const unsigned char oid_email[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 9, 1 };

/* Days since 1970 for a proleptic Gregorian date (month 1-12). */
static int64_t
days_since_epoch(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool
digits(const unsigned char *p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

/* UTCTime or GeneralizedTime, "Z" form, to Unix time. */
static bool
der_time(unsigned tag, struct der v, int64_t *out)
{
	int y, mo, d, h, mi, s = 0, at = 0;

	if (tag == 0x17 && (v.len == 13 || v.len == 11)) {
		if (!digits(v.p, 2, &y))
			return false;
		y += y < 50 ? 2000 : 1900;
		at = 2;
	} else if (tag == 0x18 && v.len == 15) {
		if (!digits(v.p, 4, &y))
			return false;
		at = 4;
	} else {
		return false;
	}
	if (v.p[v.len - 1] != 'Z' || !digits(v.p + at, 2, &mo)
	    || !digits(v.p + at + 2, 2, &d) || !digits(v.p + at + 4, 2, &h)
	    || !digits(v.p + at + 6, 2, &mi)
	    || (v.len - (size_t)at > 9 && !digits(v.p + at + 8, 2, &s))
	    || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return false;
	*out = days_since_epoch(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return true;
}

static const struct {
	unsigned char oid[3];
	const char *name;
} dn_names[] = {
	{ { 0x55, 0x04, 0x03 }, "CN" }, { { 0x55, 0x04, 0x0b }, "OU" },
	{ { 0x55, 0x04, 0x0a }, "O" }, { { 0x55, 0x04, 0x07 }, "L" },
	{ { 0x55, 0x04, 0x08 }, "ST" }, { { 0x55, 0x04, 0x06 }, "C" },
	{ { 0x55, 0x04, 0x05 }, "serialNumber" }, { { 0x55, 0x04, 0x09 }, "street" },
	{ { 0x55, 0x04, 0x2a }, "GN" }, { { 0x55, 0x04, 0x04 }, "SN" },
	{ { 0x55, 0x04, 0x0c }, "title" },
};

struct text_out {
	char *p;
	size_t len, cap;
};

static void
text_add(struct text_out *t, const char *s, size_t n)
{
	while (n-- > 0 && t->len + 1 < t->cap)
		t->p[t->len++] = *s++;
	t->p[t->len] = '\0';
}

/* An attribute value as RFC 4514 text: specials escaped, controls as \XX. */
static void
text_add_value(struct text_out *t, struct der v)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < v.len; i++) {
		unsigned char c = v.p[i];
		char esc[3];

		if (c < 0x20 || c == 0x7f) {
			esc[0] = '\\';
			esc[1] = hex[c >> 4];
			esc[2] = hex[c & 15];
			text_add(t, esc, 3);
			continue;
		}
		if (strchr(",+\"\\<>;=", c) || (i == 0 && (c == ' ' || c == '#'))
		    || (i + 1 == v.len && c == ' '))
			text_add(t, "\\", 1);
		text_add(t, (const char *)&c, 1);
	}
}

/* An OID in dotted form, for attribute types without a short name. */
static void
text_add_oid(struct text_out *t, struct der oid)
{
	char arc[24];
	uint64_t v = 0;
	size_t i;
	bool first = true;

	for (i = 0; i < oid.len; i++) {
		v = (v << 7) | (oid.p[i] & 0x7f);
		if (oid.p[i] & 0x80) {
			if (v > (UINT64_MAX >> 8))
				return;
			continue;
		}
		if (first) {
			unsigned top = v < 80 ? (unsigned)(v / 40) : 2;

			snprintf(arc, sizeof arc, "%u.%llu", top,
			    (unsigned long long)(v - top * 40));
			first = false;
		} else {
			snprintf(arc, sizeof arc, ".%llu", (unsigned long long)v);
		}
		text_add(t, arc, strlen(arc));
		v = 0;
	}
}

/*
 * A CN that --allow-cn may compare byte for byte: a string type whose bytes
 * are its UTF-8 text, no control character (a NUL would end the C string
 * early), and short enough to be kept whole.
 */
static bool
cn_comparable(unsigned tag, struct der v, size_t cap)
{
	size_t i;

	if (tag != 0x0c && tag != 0x13 && tag != 0x16)   /* UTF8, Printable, IA5 */
		return false;
	if (v.len >= cap)
		return false;
	for (i = 0; i < v.len; i++)
		if (v.p[i] < 0x20 || v.p[i] == 0x7f)
			return false;
	return true;
}

/* A CN for logs: control characters as \XX, nothing else escaped. */
static void
text_add_cn(struct text_out *t, struct der v)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < v.len; i++) {
		unsigned char c = v.p[i];
		char esc[3] = { '\\', hex[c >> 4], hex[c & 15] };

		if (c < 0x20 || c == 0x7f)
			text_add(t, esc, 3);
		else
			text_add(t, (const char *)&c, 1);
	}
}

/*
 * Formats a Name as RFC 4514 (last RDN first, as nginx's $ssl_client_s_dn)
 * and copies its CN, if any, to `cn`. *cn_ok tells whether that CN is the
 * name's only one and can be compared whole (see cn_comparable).
 */
static bool
format_name(struct der name, char *out, size_t out_cap, char *cn, size_t cn_cap,
    bool *cn_ok)
{
	struct der rdns[32], rdn, atv, oid, value;
	struct text_out t = { out, 0, out_cap };
	unsigned tag;
	size_t count = 0, i, k, cns = 0;

	out[0] = '\0';
	if (cn) {
		cn[0] = '\0';
		*cn_ok = false;
	}
	while (name.len > 0) {
		if (!der_expect(&name, 0x31, &rdn, NULL) || count == 32)
			return false;
		rdns[count++] = rdn;
	}
	for (i = count; i-- > 0; ) {
		rdn = rdns[i];
		while (rdn.len > 0) {
			if (!der_expect(&rdn, 0x30, &atv, NULL)
			    || !der_expect(&atv, 0x06, &oid, NULL)
			    || !der_next(&atv, &tag, &value, NULL))
				return false;
			if (t.len > 0)
				text_add(&t, ",", 1);
			for (k = 0; k < sizeof dn_names / sizeof dn_names[0]; k++)
				if (der_oid_is(oid, dn_names[k].oid, 3))
					break;
			if (k < sizeof dn_names / sizeof dn_names[0])
				text_add(&t, dn_names[k].name, strlen(dn_names[k].name));
			else if (der_oid_is(oid, oid_email, sizeof oid_email))
				text_add(&t, "emailAddress", 12);
			else
				text_add_oid(&t, oid);
			text_add(&t, "=", 1);
			text_add_value(&t, value);
			if (cn && k == 0 && cns++ == 0) {
				struct text_out c = { cn, 0, cn_cap };

				text_add_cn(&c, value);
				*cn_ok = cn_comparable(tag, value, cn_cap);
			} else if (cn && k == 0) {
				*cn_ok = false;         /* two CNs: which one is "the" CN? */
			}
		}
	}
	return true;
}

static void
set_serial(struct serial *s, struct der v)
{
	while (v.len > 1 && v.p[0] == 0) {
		v.p++;
		v.len--;
	}
	s->len = (unsigned char)(v.len > sizeof s->bytes ? sizeof s->bytes : v.len);
	memcpy(s->bytes, v.p, s->len);
}

static void
sha256_of(const void *data, size_t len, unsigned char out[32])
{
	br_sha256_context ctx;

	br_sha256_init(&ctx);
	br_sha256_update(&ctx, data, len);
	br_sha256_out(&ctx, out);
}

/* What the extensions of a client certificate allow. */
struct usage_verdict {
	bool has_eku, eku_client_auth, eku_server_auth;
	bool has_key_usage, key_usage_signature;
	bool name_constraints;
};

static bool
parse_extensions(struct der exts, struct usage_verdict *u)
{
	struct der seq, ext, oid, value, inner, item;
	unsigned tag;

	if (!der_expect(&exts, 0x30, &seq, NULL))
		return false;
	while (seq.len > 0) {
		if (!der_expect(&seq, 0x30, &ext, NULL)
		    || !der_expect(&ext, 0x06, &oid, NULL)
		    || !der_next(&ext, &tag, &value, NULL))
			return false;
		if (tag == 0x01 && !der_expect(&ext, 0x04, &value, NULL))
			return false;           /* skip "critical", take the value */
		else if (tag != 0x01 && tag != 0x04)
			return false;
		if (der_oid_is(oid, oid_eku, sizeof oid_eku)) {
			u->has_eku = true;
			if (!der_expect(&value, 0x30, &inner, NULL))
				return false;
			while (inner.len > 0) {
				if (!der_expect(&inner, 0x06, &item, NULL))
					return false;
				if (der_oid_is(item, oid_client_auth, sizeof oid_client_auth))
					u->eku_client_auth = true;
				if (der_oid_is(item, oid_server_auth, sizeof oid_server_auth))
					u->eku_server_auth = true;
			}
		} else if (der_oid_is(oid, oid_name_constraints, sizeof oid_name_constraints)) {
			u->name_constraints = true;
		} else if (der_oid_is(oid, oid_key_usage, sizeof oid_key_usage)) {
			u->has_key_usage = true;
			if (!der_expect(&value, 0x03, &inner, NULL) || inner.len < 1)
				return false;
			u->key_usage_signature = inner.len >= 2 && (inner.p[1] & 0x80);
		}
	}
	return true;
}

/*
 * Reads what mtlsd needs from a certificate: names, serial, validity and
 * the usage extensions. Returns false if it is not a certificate.
 */
static bool
parse_certificate(const unsigned char *der, size_t len, struct client_identity *id,
    struct usage_verdict *usage)
{
	struct der in = { der, len }, cert, tbs, v, issuer, validity, subject;
	unsigned tag;
	int64_t t;

	memset(usage, 0, sizeof *usage);
	if (!der_expect(&in, 0x30, &cert, NULL) || !der_expect(&cert, 0x30, &tbs, NULL))
		return false;
	if (tbs.len > 0 && tbs.p[0] == 0xa0 && !der_next(&tbs, &tag, &v, NULL))
		return false;
	if (!der_expect(&tbs, 0x02, &v, NULL))
		return false;
	set_serial(&id->serial, v);
	if (!der_expect(&tbs, 0x30, &v, NULL)
	    || !der_expect(&tbs, 0x30, &v, &issuer)
	    || !format_name(v, id->issuer, sizeof id->issuer, NULL, 0, NULL))
		return false;
	sha256_of(issuer.p, issuer.len, id->issuer_hash);
	if (!der_expect(&tbs, 0x30, &validity, NULL)
	    || !der_next(&validity, &tag, &v, NULL) || !der_time(tag, v, &t))
		return false;
	id->not_before = t;
	if (!der_next(&validity, &tag, &v, NULL) || !der_time(tag, v, &t))
		return false;
	id->not_after = t;
	if (!der_expect(&tbs, 0x30, &subject, NULL)
	    || !format_name(subject, id->subject, sizeof id->subject, id->cn, sizeof id->cn,
	    &id->cn_ok)
	    || !der_expect(&tbs, 0x30, &v, NULL))
		return false;
	while (tbs.len > 0) {
		if (!der_next(&tbs, &tag, &v, NULL))
			return false;
		if (tag == 0xa3 && !parse_extensions(v, usage))
			return false;
	}
	return true;
}

/* ---- CRLs ---- */

static const struct {
	unsigned char oid[9];
	unsigned char len;
	bool ecdsa;
	int hash_id;
	const br_hash_class *hash;
	const unsigned char *rsa_oid;   /* BearSSL's hash OID for PKCS#1 */
} signature_algorithms[] = {
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 11 }, 9, false, br_sha256_ID, &br_sha256_vtable, BR_HASH_OID_SHA256 },
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 12 }, 9, false, br_sha384_ID, &br_sha384_vtable, BR_HASH_OID_SHA384 },
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 13 }, 9, false, br_sha512_ID, &br_sha512_vtable, BR_HASH_OID_SHA512 },
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 5 }, 9, false, br_sha1_ID, &br_sha1_vtable, BR_HASH_OID_SHA1 },
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 2 }, 8, true, br_sha256_ID, &br_sha256_vtable, NULL },
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 3 }, 8, true, br_sha384_ID, &br_sha384_vtable, NULL },
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 4 }, 8, true, br_sha512_ID, &br_sha512_vtable, NULL },
};

/* Verifies `signature` over `data` with a pinned CA's key. */
static bool
signature_valid(struct der alg, struct der data, struct der signature,
    const br_x509_pkey *pk)
{
	br_hash_compat_context hc;
	unsigned char hash[64], expected[64];
	struct der oid;
	size_t i, hash_len;

	if (!der_expect(&alg, 0x06, &oid, NULL) || signature.len < 2 || signature.p[0] != 0)
		return false;
	signature.p++;          /* BIT STRING: skip the unused-bits count */
	signature.len--;
	for (i = 0; i < sizeof signature_algorithms / sizeof signature_algorithms[0]; i++)
		if (der_oid_is(oid, signature_algorithms[i].oid, signature_algorithms[i].len))
			break;
	if (i == sizeof signature_algorithms / sizeof signature_algorithms[0])
		return false;
	signature_algorithms[i].hash->init(&hc.vtable);
	signature_algorithms[i].hash->update(&hc.vtable, data.p, data.len);
	signature_algorithms[i].hash->out(&hc.vtable, hash);
	hash_len = (signature_algorithms[i].hash->desc >> BR_HASHDESC_OUT_OFF)
	    & BR_HASHDESC_OUT_MASK;
	if (signature_algorithms[i].ecdsa) {
		if (pk->key_type != BR_KEYTYPE_EC)
			return false;
		return br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(), hash,
		    hash_len, &pk->key.ec, signature.p, signature.len) == 1;
	}
	if (pk->key_type != BR_KEYTYPE_RSA)
		return false;
	return br_rsa_pkcs1_vrfy_get_default()(signature.p, signature.len,
	    signature_algorithms[i].rsa_oid, hash_len, &pk->key.rsa, expected) == 1
	    && memcmp(expected, hash, hash_len) == 0;
}

/* Parses and verifies one DER CRL against the pinned CAs. */
static int
load_crl_der(struct tls_credentials *creds, const char *path, const unsigned char *data,
    size_t len, char *why, size_t why_len)
{
	struct der in = { data, len }, list, tbs, tbs_whole, v, issuer, alg, sig, entries;
	struct crl *crl;
	unsigned tag;
	size_t i, cap = 0;
	const br_x509_trust_anchor *ca = NULL;

	if (!der_expect(&in, 0x30, &list, NULL) || !der_expect(&list, 0x30, &tbs, &tbs_whole)
	    || !der_expect(&list, 0x30, &alg, NULL) || !der_expect(&list, 0x03, &sig, NULL))
		return fail(why, why_len, "%s: not a CRL", path);
	creds->crls = realloc(creds->crls, (creds->crl_count + 1) * sizeof *creds->crls);
	if (!creds->crls) {
		perror("mtlsd: realloc");
		exit(1);
	}
	crl = &creds->crls[creds->crl_count];
	memset(crl, 0, sizeof *crl);
	if (tbs.len > 0 && tbs.p[0] == 0x02 && !der_next(&tbs, &tag, &v, NULL))
		return fail(why, why_len, "%s: not a CRL", path);
	if (!der_expect(&tbs, 0x30, &v, NULL) || !der_expect(&tbs, 0x30, &v, &issuer)
	    || !format_name(v, crl->issuer, sizeof crl->issuer, NULL, 0, NULL)
	    || !der_next(&tbs, &tag, &v, NULL) || !der_time(tag, v, &crl->this_update))
		return fail(why, why_len, "%s: not a CRL", path);
	if (tbs.len > 0 && (tbs.p[0] == 0x17 || tbs.p[0] == 0x18)
	    && (!der_next(&tbs, &tag, &v, NULL) || !der_time(tag, v, &crl->next_update)))
		return fail(why, why_len, "%s: bad nextUpdate", path);
	for (i = 0; i < creds->anchor_count && !ca; i++)
		if (creds->anchors[i].dn.len == issuer.len
		    && memcmp(creds->anchors[i].dn.data, issuer.p, issuer.len) == 0)
			ca = &creds->anchors[i];
	if (!ca)
		return fail(why, why_len, "%s: issuer %s is not a pinned CA (-C)",
		    path, crl->issuer);
	if (!signature_valid(alg, tbs_whole, sig, &ca->pkey))
		return fail(why, why_len, "%s: signature does not verify with the "
		    "pinned CA %s", path, crl->issuer);
	sha256_of(issuer.p, issuer.len, crl->issuer_hash);
	if (tbs.len > 0 && tbs.p[0] == 0x30) {
		if (!der_expect(&tbs, 0x30, &entries, NULL))
			return fail(why, why_len, "%s: bad revoked list", path);
		while (entries.len > 0) {
			struct der entry, serial;

			if (!der_expect(&entries, 0x30, &entry, NULL)
			    || !der_expect(&entry, 0x02, &serial, NULL)) {
				free(crl->revoked);     /* not counted yet: not freed with creds */
				return fail(why, why_len, "%s: bad revoked entry", path);
			}
			if (crl->revoked_count == cap) {
				cap = cap ? cap * 2 : 16;
				crl->revoked = realloc(crl->revoked, cap * sizeof *crl->revoked);
				if (!crl->revoked) {
					perror("mtlsd: realloc");
					exit(1);
				}
			}
			set_serial(&crl->revoked[crl->revoked_count++], serial);
		}
	}
	creds->crl_count++;
	return 0;
}

/* One file: PEM "X509 CRL" objects, or a single DER CRL. */
static int
load_crl_file(struct tls_credentials *creds, const char *path, char *why, size_t why_len)
{
	struct bytes raw = { 0 };
	struct pem_objects objs;
	size_t i, found = 0;
	int err = 0;

	if (read_whole_file(path, &raw, why, why_len) < 0)
		return -1;
	if (raw.len == 0 || raw.data[0] == 0x30) {
		err = raw.len == 0 ? fail(why, why_len, "%s: empty file", path)
		    : load_crl_der(creds, path, raw.data, raw.len, why, why_len);
		free(raw.data);
		return err;
	}
	free(raw.data);
	if (pem_read_file(path, &objs, why, why_len) < 0)
		return -1;
	for (i = 0; i < objs.count; i++) {
		if (!err && strcmp(objs.items[i].name, "X509 CRL") == 0) {
			found++;
			err = load_crl_der(creds, path, objs.items[i].der.data,
			    objs.items[i].der.len, why, why_len);
		}
		free(objs.items[i].der.data);
	}
	free(objs.items);
	if (!err && found == 0)
		err = fail(why, why_len, "%s: no CRL found (expected X509 CRL)", path);
	return err;
}

static bool
serial_equal(const struct serial *a, const struct serial *b)
{
	return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static bool
crl_in_force(const struct crl *crl, int64_t now)
{
	return now >= crl->this_update && (crl->next_update == 0 || now <= crl->next_update);
}

/*
 * TLS_ERR_REVOKED, TLS_ERR_CA_REVOKED, TLS_ERR_CRL_EXPIRED,
 * TLS_ERR_CRL_NOT_YET_VALID or TLS_ERR_CRL_MISSING if the CRLs of `creds` say so, else 0.
 *
 * Once CRLs are given, every certificate of the chain must be covered by
 * its issuer's CRL, or the chain is refused, as nginx does (OpenSSL's
 * CRL_CHECK_ALL). CRLs come from pinned CAs only, so the one certificate
 * they can cover is the one a pinned CA signed: a chain with intermediates
 * has certificates no CRL can cover.
 */
static int
revocation_status(const struct tls_credentials *creds, const struct client_identity *id,
    int64_t now)
{
	const struct crl *crl = NULL;
	size_t i, k;

	if (creds->crl_count == 0)
		return 0;
	if (!id->top_known)
		return TLS_ERR_CRL_MISSING;
	/* Of several CRLs from one CA, the newest one in force, as OpenSSL. */
	for (i = 0; i < creds->crl_count; i++) {
		const struct crl *c = &creds->crls[i];

		if (memcmp(c->issuer_hash, id->top_issuer_hash, 32) != 0)
			continue;
		if (!crl || crl_in_force(c, now) > crl_in_force(crl, now)
		    || (crl_in_force(c, now) == crl_in_force(crl, now)
		    && c->this_update > crl->this_update))
			crl = c;
	}
	if (!crl)
		return TLS_ERR_CRL_MISSING;
	if (now < crl->this_update)
		return TLS_ERR_CRL_NOT_YET_VALID;
	if (crl->next_update != 0 && now > crl->next_update)
		return TLS_ERR_CRL_EXPIRED;
	for (k = 0; k < crl->revoked_count; k++)
		if (serial_equal(&crl->revoked[k], &id->top_serial))
			return id->trusted_at > 1 ? TLS_ERR_CA_REVOKED : TLS_ERR_REVOKED;
	if (id->trusted_at > 1)
		return TLS_ERR_CRL_MISSING;
	return 0;
}

static bool
allowed_by_lists(const struct tls_credentials *creds, const struct client_identity *id)
{
	const struct tls_config *cfg = creds->config;
	size_t i;

	if (cfg->allow_cn_count == 0 && creds->allow_fingerprint_count == 0)
		return true;
	for (i = 0; i < cfg->allow_cn_count && id->cn_ok; i++)
		if (strcmp(cfg->allow_cn[i], id->cn) == 0)
			return true;
	for (i = 0; i < creds->allow_fingerprint_count; i++)
		if (memcmp(creds->allow_fingerprints[i], id->fingerprint, 32) == 0)
			return true;
	return false;
}

static int
parse_fingerprint(const char *text, unsigned char out[32])
{
	size_t n = 0;
	const char *p;

	for (p = text; *p; p++) {
		int v;

		if (*p == ':')
			continue;
		if ((v = hex_digit(*p)) < 0 || n == 64)
			return -1;
		if (n % 2 == 0)
			out[n / 2] = (unsigned char)(v << 4);
		else
			out[n / 2] |= (unsigned char)v;
		n++;
	}
	return n == 64 ? 0 : -1;
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
		if (objs.items[i].der.data)
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
	creds->anchor_names = calloc(objs.count ? objs.count : 1, sizeof *creds->anchor_names);
	creds->anchor_not_before = calloc(objs.count ? objs.count : 1,
	    sizeof *creds->anchor_not_before);
	creds->anchor_not_after = calloc(objs.count ? objs.count : 1,
	    sizeof *creds->anchor_not_after);
	creds->anchor_dn_hash = calloc(objs.count ? objs.count : 1,
	    sizeof *creds->anchor_dn_hash);
	creds->valid_anchors = calloc(objs.count ? objs.count : 1,
	    sizeof *creds->valid_anchors);
	if (!creds->anchors || !creds->anchor_names || !creds->anchor_not_before
	    || !creds->anchor_not_after || !creds->anchor_dn_hash
	    || !creds->valid_anchors) {
		perror("mtlsd: calloc");
		exit(1);
	}
	for (i = 0; i < objs.count; i++) {
		br_x509_decoder_context dc;
		struct bytes dn = { 0 };
		const br_x509_pkey *pk;
		br_x509_trust_anchor *ta;
		struct client_identity id;
		struct usage_verdict usage;

		if (!is_certificate(&objs.items[i]))
			continue;
		if (!(pk = decode_certificate(&dc, &dn, &objs.items[i].der))) {
			err = fail(why, why_len, "%s: certificate %zu cannot be "
			    "decoded (BearSSL error %d)", path, i + 1,
			    br_x509_decoder_last_error(&dc));
			free(dn.data);
			break;
		}
		if (parse_certificate(objs.items[i].der.data, objs.items[i].der.len,
		    &id, &usage)) {
			if (usage.name_constraints) {
				/* BearSSL never applies a trust anchor's constraints. */
				err = fail(why, why_len, "%s: the CA %s has name "
				    "constraints, which mtlsd cannot enforce", path,
				    id.subject);
				free(dn.data);
				break;
			}
			snprintf(creds->anchor_names[creds->anchor_count],
			    sizeof creds->anchor_names[0], "%s", id.subject);
			creds->anchor_not_before[creds->anchor_count] = id.not_before;
			creds->anchor_not_after[creds->anchor_count] = id.not_after;
		} else {
			/* Dates BearSSL decoded but we could not read: never expire. */
			creds->anchor_not_before[creds->anchor_count] = INT64_MIN;
			creds->anchor_not_after[creds->anchor_count] = INT64_MAX;
		}
		sha256_of(dn.data, dn.len, creds->anchor_dn_hash[creds->anchor_count]);
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

/* ---- generations ---- */

static struct tls_credentials *current_creds;
static struct tls_credentials *retired_creds[16];
static size_t retired_count;

static void
free_credentials(struct tls_credentials *c)
{
	size_t i;

	for (i = 0; i < c->chain_len; i++)
		free(c->chain[i].data);
	free(c->chain);
	for (i = 0; i < c->anchor_count; i++) {
		free(c->anchors[i].dn.data);
		if (c->anchors[i].pkey.key_type == BR_KEYTYPE_RSA) {
			free(c->anchors[i].pkey.key.rsa.n);
			free(c->anchors[i].pkey.key.rsa.e);
		} else {
			free(c->anchors[i].pkey.key.ec.q);
		}
	}
	free(c->anchors);
	free(c->anchor_names);
	free(c->anchor_not_before);
	free(c->anchor_not_after);
	free(c->anchor_dn_hash);
	free(c->valid_anchors);
	for (i = 0; i < c->crl_count; i++)
		free(c->crls[i].revoked);
	free(c->crls);
	free(c->allow_fingerprints);
	explicit_bzero(&c->key, sizeof c->key);
	free(c);
}

struct tls_credentials *
tls_load(const struct tls_config *config, char *why, size_t why_len)
{
	struct tls_credentials *c = calloc(1, sizeof *c);
	size_t i;

	if (!c) {
		perror("mtlsd: calloc");
		exit(1);
	}
	c->config = config;
	if (config->cert_file && (load_chain(c, config->cert_file, why, why_len) < 0
	    || load_key(c, config->key_file, why, why_len) < 0
	    || check_key_matches_leaf(c, config->cert_file, config->key_file,
	    why, why_len) < 0))
		goto failed;
	if (load_anchors(c, config->ca_file, why, why_len) < 0)
		goto failed;
	for (i = 0; i < config->crl_file_count; i++)
		if (load_crl_file(c, config->crl_files[i], why, why_len) < 0)
			goto failed;
	c->allow_fingerprints = calloc(config->allow_fingerprint_count + 1, 32);
	if (!c->allow_fingerprints) {
		perror("mtlsd: calloc");
		exit(1);
	}
	for (i = 0; i < config->allow_fingerprint_count; i++) {
		if (parse_fingerprint(config->allow_fingerprint[i],
		    c->allow_fingerprints[i]) < 0) {
			fail(why, why_len, "--allow-fingerprint %s: expected 64 hex "
			    "digits (SHA-256, colons allowed)", config->allow_fingerprint[i]);
			goto failed;
		}
	}
	c->allow_fingerprint_count = config->allow_fingerprint_count;
	return c;
failed:
	free_credentials(c);
	return NULL;
}

void
tls_free(struct tls_credentials *creds)
{
	free_credentials(creds);
}

static void
release_retired(void)
{
	size_t i = 0;

	while (i < retired_count) {
		if (retired_creds[i]->refs == 0) {
			free_credentials(retired_creds[i]);
			retired_creds[i] = retired_creds[--retired_count];
		} else {
			i++;
		}
	}
}

static void cache_clear(void);

void
tls_use(struct tls_credentials *creds)
{
	if (current_creds) {
		if (retired_count == sizeof retired_creds / sizeof retired_creds[0]) {
			/* Never expected: sixteen reloads within one handshake timeout. */
			fprintf(stderr, "mtlsd: too many reloads in flight; keeping "
			    "an old generation allocated\n");
		} else {
			retired_creds[retired_count++] = current_creds;
		}
	}
	current_creds = creds;
	cache_clear();
	release_retired();
}

const struct tls_credentials *
tls_current(void)
{
	return current_creds;
}

static void
warn_if_expiring(const char *what, int64_t when, int64_t now, int days,
    void (*warn)(const char *))
{
	char msg[400], date[32];
	time_t t = (time_t)when;
	struct tm tm;

	if (when == 0 || when - now > (int64_t)days * 86400)
		return;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(msg, sizeof msg, "%s %s %s", what, when < now ? "expired on"
	    : "expires on", date);
	warn(msg);
}

void
tls_warn_expiring(const struct tls_credentials *creds, int days,
    void (*warn)(const char *message))
{
	int64_t now = (int64_t)time(NULL);
	struct client_identity id;
	struct usage_verdict usage;
	char what[300];
	size_t i;

	if (creds->chain_len > 0 && parse_certificate(creds->chain[0].data,
	    creds->chain[0].data_len, &id, &usage)) {
		snprintf(what, sizeof what, "server certificate %s (%s)",
		    creds->config->cert_file, id.subject);
		warn_if_expiring(what, id.not_after, now, days, warn);
	}
	for (i = 0; i < creds->crl_count; i++) {
		snprintf(what, sizeof what, "CRL of %s: nextUpdate", creds->crls[i].issuer);
		warn_if_expiring(what, creds->crls[i].next_update, now, days, warn);
	}
	for (i = 0; i < creds->anchor_count; i++) {
		snprintf(what, sizeof what, "pinned CA %s", creds->anchor_names[i]);
		warn_if_expiring(what, creds->anchor_not_after[i], now, days, warn);
	}
}

/* ---- which pinned CAs are valid now ---- */

static bool
anchor_valid_at(const struct tls_credentials *creds, size_t i, int64_t now)
{
	return creds->anchor_not_before[i] <= now && now <= creds->anchor_not_after[i];
}

/*
 * The pinned CAs valid at `now` (OpenSSL's rule: notBefore <= now <=
 * notAfter), remade only when `now` has left the span over which the
 * last answer holds, so a handshake usually costs a comparison.
 */
static void
select_valid_anchors(struct tls_credentials *creds, int64_t now)
{
	int64_t from = INT64_MIN, until = INT64_MAX, begins, ends;
	size_t i;

	if (creds->valid_until != 0 && creds->valid_from <= now && now < creds->valid_until)
		return;
	creds->valid_anchor_count = 0;
	for (i = 0; i < creds->anchor_count; i++) {
		begins = creds->anchor_not_before[i];
		ends = creds->anchor_not_after[i] == INT64_MAX ? INT64_MAX
		    : creds->anchor_not_after[i] + 1;
		if (anchor_valid_at(creds, i, now))
			creds->valid_anchors[creds->valid_anchor_count++] = creds->anchors[i];
		if (begins <= now && begins > from)
			from = begins;
		if (begins > now && begins < until)
			until = begins;
		if (ends <= now && ends > from)
			from = ends;
		if (ends > now && ends < until)
			until = ends;
	}
	creds->valid_from = from;
	creds->valid_until = until;
}

/*
 * The latest notAfter of the CAs valid now that are named `dn_hash`: one
 * of them signed the chain, and all share the name, so when the last of
 * them expires, the chain surely has.
 */
static int64_t
anchor_valid_until(const struct tls_credentials *creds, const unsigned char dn_hash[32],
    int64_t now)
{
	int64_t until = INT64_MIN;
	size_t i;

	for (i = 0; i < creds->anchor_count; i++)
		if (anchor_valid_at(creds, i, now)
		    && memcmp(creds->anchor_dn_hash[i], dn_hash, 32) == 0
		    && creds->anchor_not_after[i] > until)
			until = creds->anchor_not_after[i];
	return until == INT64_MIN ? INT64_MAX : until;
}

/* A pinned CA named `dn_hash` left out for its dates: its index, or -1. */
static long
anchor_out_of_dates(const struct tls_credentials *creds, const unsigned char dn_hash[32],
    int64_t now)
{
	size_t i;

	for (i = 0; i < creds->anchor_count; i++)
		if (!anchor_valid_at(creds, i, now)
		    && memcmp(creds->anchor_dn_hash[i], dn_hash, 32) == 0)
			return (long)i;
	return -1;
}

/* ---- the client verifier: br_x509_minimal plus a per-connection verdict ---- */

static int64_t
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static struct client_verifier *
verifier_of(const br_x509_class **ctx)
{
	return (struct client_verifier *)(void *)ctx;
}

/*
 * Validity dates are checked against `now`. Left alone, BearSSL calls time()
 * itself with the library's own time_t, 32 bits on armhf, which fails after
 * January 2038; ours is 64 bits everywhere (_TIME_BITS=64).
 */
static void
verifier_set_time(struct client_verifier *v, time_t now)
{
	/* BearSSL counts days from 1 January of year 0: 719528 before 1970. */
	br_x509_minimal_set_time(&v->minimal, (uint32_t)(now / 86400 + 719528),
	    (uint32_t)(now % 86400));
}

static void
verifier_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct client_verifier *v = verifier_of(ctx);

	verifier_set_time(v, time(NULL));
	memset(&v->identity, 0, sizeof v->identity);
	v->identity.auth = AUTH_REJECTED;
	v->identity.error = BR_ERR_X509_NOT_TRUSTED;
	v->cert_count = 0;
	v->ee_len = 0;
	v->ca_error = 0;
	v->ca_not_after = INT64_MAX;
	memset(v->last_issuer_hash, 0, sizeof v->last_issuer_hash);
	br_sha256_init(&v->ee_hash);
	v->minimal.vtable->start_chain(&v->minimal.vtable, server_name);
}

static void
verifier_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct client_verifier *v = verifier_of(ctx);

	v->cur_len = 0;
	/* Past the cap, stop feeding the validator: no CPU for long chains. */
	if (++v->cert_count <= TLS_MAX_CLIENT_CHAIN)
		v->minimal.vtable->start_cert(&v->minimal.vtable, length);
}

static void
verifier_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct client_verifier *v = verifier_of(ctx);

	if (v->cert_count > TLS_MAX_CLIENT_CHAIN)
		return;
	if (v->cert_count == 1) {
		/* The client's own certificate is kept whole for inspection. */
		br_sha256_update(&v->ee_hash, buf, len);
		if (v->ee_len + len <= v->ee_cap)
			memcpy(v->ee_der + v->ee_len, buf, len);
		v->ee_len += len;
	} else if (v->identity.trusted_at == 0) {
		/* An intermediate: kept until it is known whether a pinned CA signed it. */
		if (v->ee_len <= v->ee_cap && v->cur_len + len <= v->ee_cap - v->ee_len)
			memcpy(v->ee_der + v->ee_len + v->cur_len, buf, len);
		v->cur_len += len;
	}
	v->minimal.vtable->append(&v->minimal.vtable, buf, len);
}

/*
 * Looks at an intermediate CA of the chain, kept in ee_der after the
 * client's certificate. BearSSL ignores name constraints unless they are
 * critical (then it refuses the chain); OpenSSL enforces them. mtlsd
 * cannot, so a CA with any is refused. For the one a pinned CA signed
 * (`top`), the serial and issuer are kept for the CRLs.
 */
static void
inspect_intermediate(struct client_verifier *v, bool top)
{
	struct client_identity ca;
	struct usage_verdict usage;

	memset(&ca, 0, sizeof ca);
	if (v->ee_len > v->ee_cap || v->cur_len > v->ee_cap - v->ee_len
	    || !parse_certificate(v->ee_der + v->ee_len, v->cur_len, &ca, &usage)) {
		if (v->ca_error == 0)
			v->ca_error = TLS_ERR_CA_UNREADABLE;
		return;
	}
	if (usage.name_constraints && v->ca_error == 0)
		v->ca_error = TLS_ERR_NAME_CONSTRAINTS;
	if (ca.not_after < v->ca_not_after)
		v->ca_not_after = ca.not_after;
	memcpy(v->last_issuer_hash, ca.issuer_hash, 32);
	if (top) {
		v->identity.top_known = true;
		v->identity.top_serial = ca.serial;
		memcpy(v->identity.top_issuer_hash, ca.issuer_hash, 32);
	}
}

static void
verifier_end_cert(const br_x509_class **ctx)
{
	struct client_verifier *v = verifier_of(ctx);

	if (v->cert_count > TLS_MAX_CLIENT_CHAIN)
		return;
	v->minimal.vtable->end_cert(&v->minimal.vtable);
	/*
	 * br_x509_minimal ends its work on the first certificate a pinned CA
	 * signed, and says so by setting its error to BR_ERR_X509_OK: that
	 * certificate's position is the chain length nginx's depth counts.
	 */
	if (v->identity.trusted_at != 0)
		return;
	if (v->minimal.err == BR_ERR_X509_OK)
		v->identity.trusted_at = (int)v->cert_count;
	if (v->cert_count > 1)
		inspect_intermediate(v, v->identity.trusted_at != 0);
}

/* mtlsd's checks on top of a chain BearSSL validated. */
static int
policy_error(const struct client_verifier *v, const struct usage_verdict *usage)
{
	const struct tls_config *cfg = v->creds->config;
	int err;

	if (usage->has_eku && !usage->eku_client_auth)
		return TLS_ERR_EKU;
	if (usage->has_key_usage && !usage->key_usage_signature)
		return TLS_ERR_KEY_USAGE;
	if (v->identity.trusted_at - 1 > cfg->verify_depth)
		return TLS_ERR_DEPTH;
	if (v->ca_error != 0)
		return v->ca_error;
	if ((err = revocation_status(v->creds, &v->identity, (int64_t)time(NULL))) != 0)
		return err;
	/* In "on" mode the allowlists answer 403 per request instead. */
	if (cfg->mode == VERIFY_STRICT && !allowed_by_lists(v->creds, &v->identity))
		return TLS_ERR_NOT_ALLOWED;
	return 0;
}

static unsigned
verifier_end_chain(const br_x509_class **ctx)
{
	struct client_verifier *v = verifier_of(ctx);
	struct client_identity *id = &v->identity;
	struct usage_verdict usage;
	int64_t now = (int64_t)time(NULL), until;
	bool parsed = false;
	int err;

	id->certs_sent = (int)v->cert_count;
	br_sha256_out(&v->ee_hash, id->fingerprint);
	if (v->ee_len <= v->ee_cap)
		parsed = parse_certificate(v->ee_der, v->ee_len, id, &usage);
	if (parsed && id->trusted_at == 1) {
		id->top_known = true;
		id->top_serial = id->serial;
		memcpy(id->top_issuer_hash, id->issuer_hash, 32);
	}
	if (v->cert_count > TLS_MAX_CLIENT_CHAIN)
		err = TLS_ERR_CHAIN_LENGTH;
	else if ((err = (int)v->minimal.vtable->end_chain(&v->minimal.vtable)) != 0)
		;
	else if (v->ee_len > v->ee_cap)
		err = TLS_ERR_TOO_LARGE;
	else if (!parsed)
		err = TLS_ERR_MALFORMED;
	else
		err = policy_error(v, &usage);
	if (err == BR_ERR_X509_NOT_TRUSTED && anchor_out_of_dates(v->creds,
	    v->cert_count > 1 ? v->last_issuer_hash : id->issuer_hash, now) >= 0)
		err = BR_ERR_X509_EXPIRED;  /* as OpenSSL says of such a CA */
	if (err == 0) {
		id->valid_until = id->not_after < v->ca_not_after
		    ? id->not_after : v->ca_not_after;
		until = anchor_valid_until(v->creds, id->top_issuer_hash, now);
		if (until < id->valid_until)
			id->valid_until = until;
	}
	id->error = err;
	id->auth = err == 0 ? AUTH_VERIFIED : AUTH_REJECTED;
	return (unsigned)err;
}

static const br_x509_pkey *
verifier_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct client_verifier *v = verifier_of((const br_x509_class **)ctx);

	if (v->identity.auth != AUTH_VERIFIED)
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

/* Points the verifier at a generation's CAs valid now, for one handshake. */
static void
verifier_bind(struct client_verifier *v, struct tls_credentials *creds)
{
	size_t i;

	v->vtable = &verifier_class;
	v->creds = creds;
	select_valid_anchors(creds, (int64_t)time(NULL));
	br_x509_minimal_init(&v->minimal, &br_sha256_vtable,
	    creds->valid_anchors, creds->valid_anchor_count);
	for (i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
		br_x509_minimal_set_hash(&v->minimal, hashes[i].id, hashes[i].impl);
	br_x509_minimal_set_rsa(&v->minimal, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(&v->minimal, br_ec_get_default(),
	    br_ecdsa_vrfy_asn1_get_default());
}

/* ---- the session cache: resumption carries the identity it was made with ---- */

struct cache_entry {
	br_ssl_session_parameters params;
	int64_t expires;                /* monotonic seconds; 0 = free */
	struct client_identity identity;
};

static struct {
	const br_ssl_session_cache_class *vtable;
	struct cache_entry *entries;
	size_t size;
	long timeout;
} session_cache;

static void
cache_clear(void)
{
	size_t i;

	for (i = 0; i < session_cache.size; i++) {
		explicit_bzero(&session_cache.entries[i].params,
		    sizeof session_cache.entries[i].params);
		session_cache.entries[i].expires = 0;
	}
}

static struct tls_session *
session_of(const br_ssl_server_context *server)
{
	return (struct tls_session *)(void *)(uintptr_t)server;
}

/*
 * Where a session ID lives: IDs are random, so their first bytes spread
 * them evenly. A newer session takes the place of an older one that
 * shares it, so a lookup is one comparison whatever the cache size.
 */
static struct cache_entry *
cache_slot(const unsigned char *id, size_t id_len)
{
	uint32_t h = 0;
	size_t i;

	for (i = 0; i < id_len && i < 4; i++)
		h = (h << 8) | id[i];
	return &session_cache.entries[h % session_cache.size];
}

/* Only a verified client's session is kept, and with its identity. */
static void
cache_save(const br_ssl_session_cache_class **ctx, br_ssl_server_context *server,
    const br_ssl_session_parameters *params)
{
	const struct client_verifier *v = &session_of(server)->verifier;
	struct cache_entry *e;

	(void)ctx;
	if (v->identity.auth != AUTH_VERIFIED || session_cache.size == 0)
		return;
	/*
	 * A handshake that began before a reload was verified against the
	 * previous generation; the cache holds only the current one's.
	 */
	if (v->creds != current_creds)
		return;
	e = cache_slot(params->session_id, params->session_id_len);
	e->params = *params;
	e->identity = v->identity;
	e->expires = monotonic_seconds() + session_cache.timeout;
}

static int
cache_load(const br_ssl_session_cache_class **ctx, br_ssl_server_context *server,
    br_ssl_session_parameters *params)
{
	struct client_verifier *v = &session_of(server)->verifier;
	struct cache_entry *e;

	(void)ctx;
	if (session_cache.size == 0)
		return 0;
	e = cache_slot(params->session_id, params->session_id_len);
	if (e->expires == 0 || e->params.session_id_len != params->session_id_len
	    || memcmp(e->params.session_id, params->session_id,
	    params->session_id_len) != 0)
		return 0;
	if (monotonic_seconds() >= e->expires) {
		e->expires = 0;
		return 0;
	}
	*params = e->params;
	/* Not trusted yet: BearSSL may still decline and do a full handshake. */
	v->resume_offered = true;
	memcpy(v->resume_id, e->params.session_id, sizeof v->resume_id);
	v->resume_identity = e->identity;
	return 1;
}

static const br_ssl_session_cache_class cache_class = {
	sizeof session_cache,
	cache_save,
	cache_load,
};

void
tls_cache_init(const struct tls_config *config)
{
	session_cache.vtable = &cache_class;
	session_cache.size = config->session_cache_size;
	session_cache.timeout = config->session_timeout;
	if (session_cache.size > 0) {
		session_cache.entries = calloc(session_cache.size,
		    sizeof *session_cache.entries);
		if (!session_cache.entries) {
			perror("mtlsd: calloc");
			exit(1);
		}
	}
}

/* ---- sessions ---- */

void
tls_session_init(struct tls_session *s)
{
	br_ssl_engine_context *eng = &s->server.eng;

	br_ssl_server_zero(&s->server);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, cipher_suites,
	    sizeof cipher_suites / sizeof cipher_suites[0]);
	br_ssl_engine_set_default_ec(eng);
	br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable);
	br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(eng);
	br_ssl_engine_set_default_chapol(eng);
	/* Verifying the client's CertificateVerify signature. */
	br_ssl_engine_set_default_rsavrfy(eng);
	br_ssl_engine_set_default_ecdsa(eng);
	br_ssl_engine_set_protocol_names(eng, alpn_names, 1);
	if (session_cache.size > 0)
		br_ssl_server_set_cache(&s->server, &session_cache.vtable);
	br_ssl_engine_set_buffers_bidi(eng, s->iobuf, BR_SSL_BUFSIZE_INPUT,
	    s->iobuf + BR_SSL_BUFSIZE_INPUT, BR_SSL_BUFSIZE_OUTPUT);
}

/* Points the engine at a generation's key, chain and CA names. */
static void
session_bind(struct tls_session *s, struct tls_credentials *creds)
{
	br_ssl_engine_context *eng = &s->server.eng;
	uint32_t flags;

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
	verifier_bind(&s->verifier, creds);
	br_ssl_engine_set_x509(eng, &s->verifier.vtable);
	flags = BR_OPT_ENFORCE_SERVER_PREFERENCES | BR_OPT_NO_RENEGOTIATION;
	if (creds->config->mode == VERIFY_ON)
		flags |= BR_OPT_TOLERATE_NO_CLIENT_AUTH;
	br_ssl_engine_set_all_flags(eng, flags);
}

void
tls_session_start(struct tls_session *s, unsigned char *scratch, size_t scratch_len)
{
	struct client_verifier *v = &s->verifier;
	unsigned char seed[32];
	ssize_t got;

	session_bind(s, current_creds);
	current_creds->refs++;
	memset(&v->identity, 0, sizeof v->identity);
	v->identity.auth = AUTH_NOT_SENT;
	v->ee_der = scratch;
	v->ee_cap = scratch_len;
	v->ee_len = 0;
	v->cert_count = 0;
	v->resume_offered = false;
	s->read_blocked = s->write_blocked = false;
	s->received = s->sent = false;
	s->stage_off = s->stage_len = 0;
	do
		got = getrandom(seed, sizeof seed, 0);
	while (got < 0 && errno == EINTR);
	/* Without it BearSSL seeds itself from the OS on first use. */
	if (got == (ssize_t)sizeof seed)
		br_ssl_engine_inject_entropy(&s->server.eng, seed, sizeof seed);
	br_ssl_server_reset(&s->server);
}

static void
release_generation(struct client_verifier *v)
{
	if (v->creds) {
		v->creds->refs--;
		v->creds = NULL;
		release_retired();
	}
	v->ee_der = NULL;
	v->ee_cap = 0;
}

void
tls_session_handshake_finished(struct tls_session *s)
{
	struct client_verifier *v = &s->verifier;
	br_ssl_session_parameters params;

	/*
	 * A session the cache offered counts only if the handshake really
	 * resumed it: then the final session ID is the one loaded. Otherwise
	 * the full handshake's own verdict stands.
	 */
	if (v->resume_offered) {
		br_ssl_engine_get_session_parameters(&s->server.eng, &params);
		if (params.session_id_len == sizeof v->resume_id
		    && memcmp(params.session_id, v->resume_id, sizeof v->resume_id) == 0
		    && v->cert_count == 0)
			v->identity = v->resume_identity;
		v->resume_offered = false;
	}
	release_generation(v);
}

void
tls_session_end(struct tls_session *s)
{
	release_generation(&s->verifier);
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
	int recvs = 0;

	for (;;) {
		unsigned state = br_ssl_engine_current_state(eng);
		unsigned char *buf;
		size_t len;
		ssize_t n;

		if (state & BR_SSL_CLOSED)
			return TLS_IO_CLOSED;
		if ((state & BR_SSL_SENDREC) && !s->write_blocked) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			n = send(fd, buf, len, MSG_NOSIGNAL);
			if (n > 0) {
				br_ssl_engine_sendrec_ack(eng, (size_t)n);
				s->sent = true;
				/* A short write filled the socket: wait for POLLOUT. */
				if ((size_t)n < len)
					s->write_blocked = true;
				continue;
			}
			if (n < 0 && !would_block())
				return TLS_IO_CLOSED;
			s->write_blocked = true;
		}
		if ((state & BR_SSL_RECVREC) && s->stage_len > 0) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			if (len > s->stage_len)
				len = s->stage_len;
			memcpy(buf, s->stage + s->stage_off, len);
			s->stage_off += (unsigned short)len;
			s->stage_len -= (unsigned short)len;
			br_ssl_engine_recvrec_ack(eng, len);
			continue;
		}
		/* A failed recv() costs a system call: only after POLLIN says so. */
		if ((state & BR_SSL_RECVREC) && !s->read_blocked
		    && recvs++ < PUMP_MAX_RECVS) {
			bool direct;
			size_t want;

			buf = br_ssl_engine_recvrec_buf(eng, &len);
			/* Large records go straight in; small ones through the stage. */
			direct = len >= sizeof s->stage;
			want = direct ? len : sizeof s->stage;
			n = recv(fd, direct ? buf : s->stage, want, 0);
			if (n == 0 || (n < 0 && !would_block()))
				return TLS_IO_CLOSED;
			if (n < 0) {
				s->read_blocked = true;
				return TLS_IO_OPEN;
			}
			s->received = true;
			/* A short read drained the socket: wait for POLLIN. */
			if ((size_t)n < want)
				s->read_blocked = true;
			if (direct) {
				br_ssl_engine_recvrec_ack(eng, (size_t)n);
			} else {
				s->stage_off = 0;
				s->stage_len = (unsigned short)n;
			}
			continue;
		}
		return TLS_IO_OPEN;
	}
}

void
tls_session_ready(struct tls_session *s, short revents)
{
	if (revents & (POLLIN | POLLHUP | POLLERR))
		s->read_blocked = false;
	if (revents & (POLLOUT | POLLHUP | POLLERR))
		s->write_blocked = false;
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
tls_session_stalled(const struct tls_session *s)
{
	unsigned state = br_ssl_engine_current_state(&s->server.eng);

	return (state & (BR_SSL_CLOSED | BR_SSL_SENDREC | BR_SSL_RECVREC
	    | BR_SSL_RECVAPP)) == 0;
}

bool
tls_session_handshake_done(const struct tls_session *s)
{
	unsigned state = br_ssl_engine_current_state(&s->server.eng);

	return (state & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0;
}

enum tls_progress
tls_session_progress(const struct tls_session *s)
{
	if (s->verifier.identity.auth == AUTH_VERIFIED)
		return TLS_PROGRESS_VERIFIED;
	if (s->sent)
		return TLS_PROGRESS_ANSWERED;
	return s->received ? TLS_PROGRESS_HELLO : TLS_PROGRESS_SILENT;
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
		UNSUPPORTED_CERTIFICATE = 43, CERTIFICATE_REVOKED = 44,
		CERTIFICATE_EXPIRED = 45, UNKNOWN_CA = 48, ACCESS_DENIED = 49 };
	unsigned char alert[7] = { 21, 3, 3, 0, 2, 2, BAD_CERTIFICATE };

	const struct client_identity *id = &s->verifier.identity;

	if (id->auth == AUTH_VERIFIED)
		return;
	if (id->auth == AUTH_NOT_SENT)
		alert[6] = HANDSHAKE_FAILURE;
	else if (id->error == BR_ERR_X509_EXPIRED)
		alert[6] = CERTIFICATE_EXPIRED;
	else if (id->error == BR_ERR_X509_NOT_TRUSTED)
		alert[6] = UNKNOWN_CA;
	else if (id->error == TLS_ERR_REVOKED || id->error == TLS_ERR_CA_REVOKED)
		alert[6] = CERTIFICATE_REVOKED;
	else if (id->error == TLS_ERR_NOT_ALLOWED)
		alert[6] = ACCESS_DENIED;
	else if (id->error == TLS_ERR_EKU || id->error == TLS_ERR_KEY_USAGE)
		alert[6] = UNSUPPORTED_CERTIFICATE;
	if (send(fd, alert, sizeof alert, MSG_NOSIGNAL) < 0) {
		/* The client is gone; nothing to tell. */
	}
}

const struct client_identity *
tls_session_identity(const struct tls_session *s)
{
	return &s->verifier.identity;
}

const char *
tls_session_client_cn(const struct tls_session *s)
{
	if (s->verifier.identity.auth != AUTH_VERIFIED)
		return NULL;
	return s->verifier.identity.cn;
}

static const char *
policy_error_text(int err)
{
	switch (err) {
	case TLS_ERR_EKU:
		return "extended key usage does not include clientAuth";
	case TLS_ERR_KEY_USAGE:
		return "key usage does not include digitalSignature";
	case TLS_ERR_DEPTH:
		return "certificate chain too long for --verify-depth";
	case TLS_ERR_CHAIN_LENGTH:
		return "client sent more than 8 certificates";
	case TLS_ERR_TOO_LARGE:
		return "client certificate too large to inspect";
	case TLS_ERR_MALFORMED:
		return "client certificate cannot be parsed";
	case TLS_ERR_REVOKED:
		return "certificate revoked";
	case TLS_ERR_CA_REVOKED:
		return "an intermediate CA of the chain is revoked";
	case TLS_ERR_NAME_CONSTRAINTS:
		return "a CA of the chain has name constraints, which mtlsd cannot enforce";
	case TLS_ERR_CA_UNREADABLE:
		return "an intermediate CA certificate cannot be inspected";
	case TLS_ERR_CRL_NOT_YET_VALID:
		return "CRL is not yet valid (thisUpdate in the future)";
	case TLS_ERR_CRL_MISSING:
		return "no CRL from the certificate's issuer (with --crl, every "
		    "certificate of the chain needs one)";
	case TLS_ERR_CRL_EXPIRED:
		return "CRL has expired (nextUpdate passed)";
	case TLS_ERR_NOT_ALLOWED:
		return "certificate not in --allow-cn / --allow-fingerprint";
	default:
		return NULL;
	}
}

void
tls_serial_hex(const struct serial *serial, char *out, size_t out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < serial->len && o + 2 < out_len; i++) {
		out[o++] = hex[serial->bytes[i] >> 4];
		out[o++] = hex[serial->bytes[i] & 15];
	}
	out[o] = '\0';
}

const char *
tls_session_auth_failure(const struct tls_session *s)
{
	static char text[512];
	const struct client_identity *id = &s->verifier.identity;
	char serial[48];

	switch (id->auth) {
	case AUTH_VERIFIED:
		return "client certificate verified";
	case AUTH_NOT_SENT:
		return "client sent no required SSL certificate";
	case AUTH_REJECTED:
		break;
	}
	tls_serial_hex(&id->serial, serial, sizeof serial);
	snprintf(text, sizeof text, "client SSL certificate verify error: %s "
	    "(subject \"%s\", serial %s)", tls_error_text(id->error),
	    id->subject[0] ? id->subject : "?", serial[0] ? serial : "?");
	return text;
}

int
tls_identity_recheck(const struct client_identity *id)
{
	int64_t now = (int64_t)time(NULL);
	int err;

	/* A keep-alive connection or a resumed session outliving its chain. */
	if (now > id->valid_until)
		return BR_ERR_X509_EXPIRED;
	if ((err = revocation_status(current_creds, id, now)) != 0)
		return err;
	if (!allowed_by_lists(current_creds, id))
		return TLS_ERR_NOT_ALLOWED;
	return 0;
}

/* ---- --check-cert: the same checks, offline, step by step ---- */

static void
print_time(FILE *out, const char *label, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char date[40];

	gmtime_r(&tt, &tm);
	strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(out, "%s%s", label, date);
}

int
tls_check_chain(const struct tls_credentials *creds, const char *chain_file, FILE *out)
{
	static unsigned char scratch[16384];
	struct client_verifier v;
	const br_x509_class **xc = &v.vtable;
	struct pem_objects objs;
	struct client_identity *id = &v.identity;
	struct usage_verdict usage;
	const struct tls_config *cfg = creds->config;
	char why[512], serial[48];
	int64_t now = (int64_t)time(NULL);
	size_t i, certs = 0;
	unsigned err;
	long ca;
	int rev;

	if (pem_read_file(chain_file, &objs, why, sizeof why) < 0) {
		fprintf(out, "error: %s\n", why);
		return 2;
	}
	memset(&v, 0, sizeof v);
	verifier_bind(&v, (struct tls_credentials *)(uintptr_t)creds);
	v.ee_der = scratch;
	v.ee_cap = sizeof scratch;
	(*xc)->start_chain(xc, NULL);
	for (i = 0; i < objs.count; i++) {
		if (!is_certificate(&objs.items[i]))
			continue;
		certs++;
		(*xc)->start_cert(xc, (uint32_t)objs.items[i].der.len);
		(*xc)->append(xc, objs.items[i].der.data, objs.items[i].der.len);
		(*xc)->end_cert(xc);
	}
	if (certs == 0) {
		fprintf(out, "error: %s: no certificate found\n", chain_file);
		pem_free(&objs);
		return 2;
	}
	err = (*xc)->end_chain(xc);
	tls_serial_hex(&id->serial, serial, sizeof serial);
	fprintf(out, "certificate: %s\n", id->subject);
	fprintf(out, "  issuer:      %s\n", id->issuer);
	fprintf(out, "  serial:      %s\n", serial);
	print_time(out, "  not before:  ", id->not_before);
	print_time(out, "\n  not after:   ", id->not_after);
	fprintf(out, "\n  sha256:      ");
	for (i = 0; i < 32; i++)
		fprintf(out, "%02X%s", id->fingerprint[i], i < 31 ? ":" : "\n");
	fprintf(out, "chain: %zu certificate(s) sent (at most %d)\n", certs,
	    TLS_MAX_CLIENT_CHAIN);
	if (parse_certificate(scratch, v.ee_len < sizeof scratch ? v.ee_len : 0,
	    id, &usage)) {
		fprintf(out, "extended key usage: %s\n", !usage.has_eku ? "none (any use)"
		    : usage.eku_client_auth ? "includes clientAuth"
		    : usage.eku_server_auth ? "serverAuth only, no clientAuth"
		    : "no clientAuth");
		fprintf(out, "key usage: %s\n", !usage.has_key_usage ? "none (any use)"
		    : usage.key_usage_signature ? "includes digitalSignature"
		    : "no digitalSignature");
	}
	if (id->trusted_at > 0) {
		fprintf(out, "trust: issued by a pinned CA, %d intermediate(s) "
		    "(--verify-depth %d)%s\n", id->trusted_at - 1, cfg->verify_depth,
		    id->trusted_at - 1 > cfg->verify_depth ? ": too many" : "");
	} else if (err == BR_ERR_X509_NOT_TRUSTED) {
		fprintf(out, "trust: not trusted: issuer %s is not a pinned CA\n", id->issuer);
	} else if (err == BR_ERR_X509_EXPIRED) {
		ca = anchor_out_of_dates(creds, certs > 1 ? v.last_issuer_hash
		    : id->issuer_hash, now);
		if (now < id->not_before)
			print_time(out, "validity: not yet valid: valid from ", id->not_before);
		else if (now > id->not_after)
			print_time(out, "validity: expired on ", id->not_after);
		else if (ca >= 0 && now < creds->anchor_not_before[ca])
			print_time(out, "trust: the pinned CA is not valid before ",
			    creds->anchor_not_before[ca]);
		else if (ca >= 0)
			print_time(out, "trust: the pinned CA expired on ",
			    creds->anchor_not_after[ca]);
		else
			fprintf(out, "validity: a CA certificate of the chain has "
			    "expired or is not yet valid");
		fprintf(out, "\n");
	} else {
		fprintf(out, "trust: %s\n", tls_error_text((int)err));
	}
	/* The steps below are shown whenever the chain itself validated. */
	if (creds->crl_count == 0)
		fprintf(out, "revocation: no CRL given\n");
	else if (id->trusted_at == 0)
		fprintf(out, "revocation: not checked (the chain did not validate)\n");
	else
		switch ((rev = revocation_status(creds, id, now))) {
		case 0:
			fprintf(out, "revocation: not revoked\n");
			break;
		case TLS_ERR_REVOKED:
			fprintf(out, "revocation: revoked\n");
			break;
		case TLS_ERR_CA_REVOKED:
			fprintf(out, "revocation: an intermediate CA is revoked\n");
			break;
		case TLS_ERR_CRL_MISSING:
			fprintf(out, "revocation: no CRL from the issuer of a certificate "
			    "of the chain\n");
			break;
		default:
			fprintf(out, "revocation: %s\n", tls_error_text(rev));
			break;
		}
	if (cfg->allow_cn_count == 0 && creds->allow_fingerprint_count == 0)
		fprintf(out, "allowlist: none given\n");
	else if (id->trusted_at == 0)
		fprintf(out, "allowlist: not checked (the chain did not validate)\n");
	else
		fprintf(out, "allowlist: %s\n", allowed_by_lists(creds, id)
		    ? "listed" : id->cn_ok ? "CN and fingerprint not listed"
		    : "fingerprint not listed; the CN cannot match (several CNs, "
		    "control characters, too long or not a UTF-8 string)");
	if (err == 0 && cfg->mode == VERIFY_ON && !allowed_by_lists(creds, id))
		err = TLS_ERR_NOT_ALLOWED;
	if (err == 0)
		fprintf(out, "result: accepted\n");
	else
		fprintf(out, "result: refused: %s\n", tls_error_text((int)err));
	pem_free(&objs);
	return err == 0 ? 0 : 1;
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
	const char *policy = policy_error_text(err);
	size_t i;

	if (policy)
		return policy;
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
