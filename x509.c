/*
 * x509.c - reading what mtlsd is given: files, PEM, DER, X.509 certificate
 * fields and extensions, CRLs. Pure parsing at start-up and for the
 * verifier's inspection: no engine, no credentials, no state but the
 * out-of-memory flag of a load.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "x509.h"

#define MAX_PEM_FILE (1024 * 1024)

/* ---- growable byte buffers, used only while loading at start-up ---- */

/*
 * Set when an allocation made while loading failed (a callback cannot
 * return an error): tls_load() then fails with "out of memory", and a
 * reload keeps the generation in use. Never exit: that would take the
 * serving process down on a SIGHUP.
 */
bool out_of_memory;

void
bytes_append(void *ctx, const void *src, size_t len)
{
	struct bytes *b = ctx;

	if (out_of_memory)
		return;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		unsigned char *p;

		while (cap < b->len + len)
			cap *= 2;
		if (!(p = realloc(b->data, cap))) {
			out_of_memory = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, src, len);
	b->len += len;
}

/* NULL (and out_of_memory set) when the allocation fails. */
void *
copy_of(const void *src, size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p) {
		out_of_memory = true;
		return NULL;
	}
	memcpy(p, src, len);
	return p;
}

int
fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -1;
}

int
read_whole_file(const char *path, struct bytes *out, size_t max, char *why,
    size_t why_len)
{
	unsigned char chunk[65536];
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
		if (out->len + (size_t)n > max) {
			fail(why, why_len, "%s: larger than %zu bytes (%zu MiB)", path,
			    max, max / (1024 * 1024));
			break;
		}
		bytes_append(out, chunk, (size_t)n);
		if (out_of_memory) {
			fail(why, why_len, "%s: out of memory", path);
			break;
		}
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



void
pem_free(struct pem_objects *objs)
{
	size_t i;

	for (i = 0; i < objs->count; i++)
		free(objs->items[i].der.data);
	free(objs->items);
	memset(objs, 0, sizeof *objs);
}

/*
 * Decodes every PEM object of `text`, read from `path`, and frees `text`.
 * Returns -1 with `why` filled (and nothing allocated) when it is not
 * valid PEM.
 */
int
pem_decode(const char *path, struct bytes text, struct pem_objects *objs, char *why,
    size_t why_len)
{
	br_pem_decoder_context pc;
	const unsigned char *p;
	size_t left;
	bool inside = false, tail_pushed = false;

	memset(objs, 0, sizeof *objs);
	if (text.len > 0 && text.data[0] == 0x30
	    && !memmem(text.data, text.len, "-----BEGIN ", 11)) {
		/* An ASN.1 SEQUENCE and no PEM line: DER, as Windows tools export. */
		br_x509_decoder_context dc;

		br_x509_decoder_init(&dc, NULL, NULL);
		br_x509_decoder_push(&dc, text.data, text.len);
		free(text.data);
		if (br_x509_decoder_get_pkey(&dc))
			return fail(why, why_len, "%s: a DER (binary) certificate; "
			    "mtlsd reads PEM: convert it with openssl x509 -inform "
			    "der -in %s -out %s.pem", path, path, path);
		return fail(why, why_len, "%s: DER (binary) data; mtlsd reads PEM: "
		    "convert a certificate with openssl x509 -inform der -in %s "
		    "-out %s.pem, a key with openssl pkey -inform der -in %s "
		    "-out %s.pem", path, path, path, path, path);
	}
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
			obj = realloc(objs->items, (objs->count + 1) * sizeof *objs->items);
			if (!obj) {
				free(text.data);
				pem_free(objs);
				return fail(why, why_len, "%s: out of memory", path);
			}
			objs->items = obj;
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
	if (out_of_memory) {
		pem_free(objs);
		return fail(why, why_len, "%s: out of memory", path);
	}
	if (inside) {
		pem_free(objs);
		return fail(why, why_len, "%s: truncated PEM object", path);
	}
	return 0;
}

/*
 * Decodes every PEM object of `path`. Returns -1 with `why` filled (and
 * nothing allocated) when the file cannot be read or is not valid PEM.
 */
int
pem_read_file(const char *path, struct pem_objects *objs, char *why, size_t why_len)
{
	struct bytes text = { 0 };

	memset(objs, 0, sizeof *objs);
	if (read_whole_file(path, &text, MAX_PEM_FILE, why, why_len) < 0)
		return -1;
	return pem_decode(path, text, objs, why, why_len);
}

bool
is_certificate(const struct pem_object *obj)
{
	return strcmp(obj->name, "CERTIFICATE") == 0
	    || strcmp(obj->name, "X509 CERTIFICATE") == 0;
}

int
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

bool
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

/* One Extension of `seq`: its OID, whether it is critical, its value. */
static bool
der_extension(struct der *seq, struct der *oid, bool *critical, struct der *value)
{
	struct der ext, flag;

	if (!der_expect(seq, 0x30, &ext, NULL) || !der_expect(&ext, 0x06, oid, NULL))
		return false;
	*critical = false;
	if (ext.len > 0 && ext.p[0] == 0x01) {
		if (!der_expect(&ext, 0x01, &flag, NULL) || flag.len != 1)
			return false;
		*critical = flag.p[0] != 0;
	}
	return der_expect(&ext, 0x04, value, NULL) && ext.len == 0;
}

static const unsigned char oid_eku[] = { 0x55, 0x1d, 0x25 };
static const unsigned char oid_key_usage[] = { 0x55, 0x1d, 0x0f };
static const unsigned char oid_name_constraints[] = { 0x55, 0x1d, 0x1e };
static const unsigned char oid_basic_constraints[] = { 0x55, 0x1d, 0x13 };
static const unsigned char oid_san[] = { 0x55, 0x1d, 0x11 };
static const unsigned char oid_client_auth[] = { 0x2b, 6, 1, 5, 5, 7, 3, 2 };
static const unsigned char oid_server_auth[] = { 0x2b, 6, 1, 5, 5, 7, 3, 1 };
static const unsigned char oid_email[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 9, 1 };
static const unsigned char oid_ns_cert_type[] = { 0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x42, 1, 1 };
static const unsigned char oid_rsa_encryption[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 1 };

/* Days since 1970 for a proleptic Gregorian date (month 1-12). */
int64_t
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

static int
days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* UTCTime or GeneralizedTime, "Z" form, to Unix time; impossible dates fail. */
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
	    || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23
	    || mi > 59 || s > 59)
		return false;           /* no leap second either, as OpenSSL */
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

/*
 * An attribute value as text, controls as \XX; with `rfc4514`, RFC 4514's
 * specials escaped too, else nothing else (a CN for logs).
 */
static void
text_add_value(struct text_out *t, struct der v, bool rfc4514)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < v.len; i++) {
		unsigned char c = v.p[i];
		char esc[3] = { '\\', hex[c >> 4], hex[c & 15] };

		if (c < 0x20 || c == 0x7f) {
			text_add(t, esc, 3);
			continue;
		}
		if (rfc4514 && (strchr(",+\"\\<>;=", c) || (i == 0 && (c == ' ' || c == '#'))
		    || (i + 1 == v.len && c == ' ')))
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
			text_add_value(&t, value, true);
			if (cn && k == 0 && cns++ == 0) {
				struct text_out c = { cn, 0, cn_cap };

				text_add_value(&c, value, false);
				*cn_ok = cn_comparable(tag, value, cn_cap);
			} else if (cn && k == 0) {
				*cn_ok = false;         /* two CNs: which one is "the" CN? */
			}
		}
	}
	return true;
}

/*
 * Keeps one OU or SAN for the allow rules. A name that is empty, not plain
 * text, or does not fit makes names_ok false: a certificate whose names
 * cannot all be kept matches none of them, rather than some.
 */
static void
names_add(struct client_identity *id, enum allow_kind kind, unsigned tag, struct der v)
{
	size_t i;

	if (!id->names_ok)
		return;
	if (kind == ALLOW_OU) {
		if (v.len == 0 || !cn_comparable(tag, v, TLS_ID_NAMES_BYTES))
			goto unusable;
	} else {
		/* dNSName and URI are IA5String: printable ASCII, no space, here. */
		if (v.len == 0)
			goto unusable;
		for (i = 0; i < v.len; i++)
			if (v.p[i] <= 0x20 || v.p[i] >= 0x7f)
				goto unusable;
	}
	if (id->names_count == TLS_ID_NAMES_MAX
	    || v.len + 2 > sizeof id->names - id->names_len)
		goto unusable;
	id->names[id->names_len] = (char)kind;
	memcpy(id->names + id->names_len + 1, v.p, v.len);
	id->names[id->names_len + 1 + v.len] = '\0';
	id->names_len = (unsigned short)(id->names_len + v.len + 2);
	id->names_count++;
	return;
unusable:
	id->names_ok = false;
}

/* The subject's OUs, in the order of the Name (already parsed once). */
static bool
collect_ous(struct der name, struct client_identity *id)
{
	static const unsigned char oid_ou[] = { 0x55, 0x04, 0x0b };
	struct der rdn, atv, oid, value;
	unsigned tag;

	while (name.len > 0) {
		if (!der_expect(&name, 0x31, &rdn, NULL))
			return false;
		while (rdn.len > 0) {
			if (!der_expect(&rdn, 0x30, &atv, NULL)
			    || !der_expect(&atv, 0x06, &oid, NULL)
			    || !der_next(&atv, &tag, &value, NULL))
				return false;
			if (der_oid_is(oid, oid_ou, sizeof oid_ou))
				names_add(id, ALLOW_OU, tag, value);
		}
	}
	return true;
}

/*
 * subjectAltName: SEQUENCE OF GeneralName. Keeps dNSName [2] and URI [6];
 * other kinds are skipped. Returns false if it is not well-formed DER.
 */
static bool
collect_sans(struct der value, struct client_identity *id)
{
	struct der seq, item;
	unsigned tag;

	if (!der_expect(&value, 0x30, &seq, NULL) || value.len != 0 || seq.len == 0)
		return false;
	while (seq.len > 0) {
		if (!der_next(&seq, &tag, &item, NULL) || (tag & 0xc0) != 0x80)
			return false;
		if (tag == 0x82)
			names_add(id, ALLOW_DNS, 0x16, item);
		else if (tag == 0x86)
			names_add(id, ALLOW_URI, 0x16, item);
		else if (tag == 0x82 + 0x20 || tag == 0x86 + 0x20)
			id->names_ok = false;   /* constructed: not a plain string */
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

void
sha256_of(const void *data, size_t len, unsigned char out[32])
{
	br_sha256_context ctx;

	br_sha256_init(&ctx);
	br_sha256_update(&ctx, data, len);
	br_sha256_out(&ctx, out);
}


static const struct {
	unsigned char oid[9];
	unsigned char len;
	enum sig_hash hash;
	const char *name;
} weak_signatures[] = {
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 2 }, 9, SIG_HASH_MD5, "md2WithRSAEncryption" },
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 3 }, 9, SIG_HASH_MD5, "md4WithRSAEncryption" },
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 4 }, 9, SIG_HASH_MD5, "md5WithRSAEncryption" },
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 5 }, 9, SIG_HASH_SHA1, "sha1WithRSAEncryption" },
	{ { 0x2b, 0x0e, 0x03, 0x02, 0x1d }, 5, SIG_HASH_SHA1, "sha1WithRSA (OIW)" },
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 1 }, 7, SIG_HASH_SHA1, "ecdsa-with-SHA1" },
	{ { 0x2a, 0x86, 0x48, 0xce, 0x38, 4, 3 }, 7, SIG_HASH_SHA1, "dsa-with-SHA1" },
};


/*
 * Extensions whose meaning mtlsd or BearSSL applies or may safely ignore
 * (BearSSL's own list, plus the usage extensions read here): any other
 * one marked critical makes a pinned CA unusable.
 */
static const unsigned char known_extensions[][3] = {
	{ 0x55, 0x1d, 0x13 }, { 0x55, 0x1d, 0x0f }, { 0x55, 0x1d, 0x11 },   /* BC, KU, SAN */
	{ 0x55, 0x1d, 0x23 }, { 0x55, 0x1d, 0x0e }, { 0x55, 0x1d, 0x12 },   /* AKI, SKI, IAN */
	{ 0x55, 0x1d, 0x09 }, { 0x55, 0x1d, 0x1f }, { 0x55, 0x1d, 0x2e },   /* SDA, CRLDP, freshest */
	{ 0x55, 0x1d, 0x25 },                                               /* EKU */
};

static bool
extension_known(struct der oid)
{
	static const unsigned char aia[] = { 0x2b, 6, 1, 5, 5, 7, 1, 1 };
	static const unsigned char sia[] = { 0x2b, 6, 1, 5, 5, 7, 1, 11 };
	size_t i;

	for (i = 0; i < sizeof known_extensions / sizeof known_extensions[0]; i++)
		if (der_oid_is(oid, known_extensions[i], 3))
			return true;
	return der_oid_is(oid, aia, sizeof aia) || der_oid_is(oid, sia, sizeof sia)
	    || der_oid_is(oid, oid_ns_cert_type, sizeof oid_ns_cert_type);
}

/*
 * The first byte of a flags BIT STRING (keyUsage, nsCertType): bit 0 is
 * its 0x80. An empty string is no flags; more than 7 unused bits, unreadable.
 */
static bool
first_flag_bits(struct der value, unsigned char *bits)
{
	struct der inner;

	if (!der_expect(&value, 0x03, &inner, NULL) || inner.len < 1 || inner.p[0] > 7)
		return false;
	*bits = inner.len >= 2 ? inner.p[1] : 0;
	return true;
}

/* basicConstraints: SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLen INTEGER OPTIONAL } */
static bool
parse_basic_constraints(struct der value, struct usage_verdict *u)
{
	struct der seq, v;
	unsigned tag;
	size_t i;

	if (!der_expect(&value, 0x30, &seq, NULL) || value.len != 0)
		return false;
	u->has_basic_constraints = true;
	if (seq.len > 0 && seq.p[0] == 0x01) {
		if (!der_next(&seq, &tag, &v, NULL) || v.len != 1)
			return false;
		u->is_ca = v.p[0] != 0;
	}
	if (seq.len > 0) {
		if (!der_expect(&seq, 0x02, &v, NULL) || v.len == 0 || (v.p[0] & 0x80)
		    || seq.len != 0)
			return false;   /* negative, or something after it */
		u->path_len = 0;
		for (i = 0; i < v.len; i++)
			u->path_len = u->path_len > 0xffff ? 0x10000
			    : (u->path_len << 8) | v.p[i];
	}
	return true;
}

static bool
parse_extensions(struct der exts, struct usage_verdict *u)
{
	struct der seq, oid, value, inner, item;
	unsigned char bits;
	bool critical;

	if (!der_expect(&exts, 0x30, &seq, NULL))
		return false;
	while (seq.len > 0) {
		if (!der_extension(&seq, &oid, &critical, &value))
			return false;
		if (critical && !extension_known(oid))
			u->unknown_critical = true;
		if (der_oid_is(oid, oid_eku, sizeof oid_eku)) {
			u->has_eku = true;
			u->unreadable = "its extendedKeyUsage extension";
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
			u->unreadable = "its keyUsage extension";
			if (!first_flag_bits(value, &bits))
				return false;
			u->key_usage_signature = bits & 0x80;
			u->key_usage_cert_sign = bits & 0x04;
		} else if (der_oid_is(oid, oid_basic_constraints, sizeof oid_basic_constraints)) {
			u->unreadable = "its basicConstraints extension";
			if (!parse_basic_constraints(value, u))
				return false;
		} else if (der_oid_is(oid, oid_san, sizeof oid_san)) {
			u->san = value;
			u->san_count++;
		} else if (der_oid_is(oid, oid_ns_cert_type, sizeof oid_ns_cert_type)) {
			u->has_ns_cert_type = true;
			u->unreadable = "its Netscape cert type extension";
			if (!first_flag_bits(value, &bits))
				return false;
			u->ns_ssl_client = bits & 0x80;
		}
		u->unreadable = NULL;
	}
	return true;
}

/* The size in bits of the modulus in an RSA SubjectPublicKey BIT STRING. */
static bool
rsa_modulus_bits(struct der spki, unsigned *bits)
{
	struct der key, seq, n;
	unsigned char top;

	if (!der_expect(&spki, 0x03, &key, NULL) || key.len < 1 || key.p[0] != 0)
		return false;
	key.p++;
	key.len--;
	if (!der_expect(&key, 0x30, &seq, NULL) || !der_expect(&seq, 0x02, &n, NULL)
	    || n.len == 0 || (n.p[0] & 0x80))
		return false;
	while (n.len > 1 && n.p[0] == 0) {
		n.p++;
		n.len--;
	}
	if (n.len > 2048)
		return false;
	*bits = (unsigned)(n.len - 1) * 8;
	for (top = n.p[0]; top != 0; top >>= 1)
		(*bits)++;
	return true;
}

/*
 * Reads what mtlsd needs from a certificate: names, serial, validity, the
 * key's size, the signature's hash and the extensions policy looks at.
 * Returns false if it cannot all be read; usage->unreadable says where.
 */
bool
parse_certificate(const unsigned char *der, size_t len, struct client_identity *id,
    struct usage_verdict *usage)
{
	struct der in = { der, len }, cert, tbs, v, ver, issuer, validity, subject;
	struct der spki, alg, oid;
	unsigned tag;
	int64_t t;
	size_t i;

	memset(usage, 0, sizeof *usage);
	usage->path_len = -1;
	usage->version = 1;
	usage->unreadable = "its outer structure";
	if (!der_expect(&in, 0x30, &cert, NULL) || !der_expect(&cert, 0x30, &tbs, NULL))
		return false;
	usage->unreadable = "its version";
	if (tbs.len > 0 && tbs.p[0] == 0xa0) {
		if (!der_next(&tbs, &tag, &v, NULL) || !der_expect(&v, 0x02, &ver, NULL)
		    || v.len != 0 || ver.len != 1 || ver.p[0] > 2)
			return false;
		usage->version = ver.p[0] + 1;
	}
	usage->unreadable = "its serial number";
	if (!der_expect(&tbs, 0x02, &v, NULL))
		return false;
	set_serial(&id->serial, v);
	usage->unreadable = "its issuer name";
	if (!der_expect(&tbs, 0x30, &v, NULL)
	    || !der_expect(&tbs, 0x30, &v, &issuer)
	    || !format_name(v, id->issuer, sizeof id->issuer, NULL, 0, NULL))
		return false;
	sha256_of(issuer.p, issuer.len, id->issuer_hash);
	usage->unreadable = "its validity dates";
	if (!der_expect(&tbs, 0x30, &validity, NULL)
	    || !der_next(&validity, &tag, &v, NULL) || !der_time(tag, v, &t))
		return false;
	id->not_before = t;
	if (!der_next(&validity, &tag, &v, NULL) || !der_time(tag, v, &t))
		return false;
	id->not_after = t;
	usage->unreadable = "its subject name";
	if (!der_expect(&tbs, 0x30, &subject, &v)
	    || !format_name(subject, id->subject, sizeof id->subject, id->cn, sizeof id->cn,
	    &id->cn_ok))
		return false;
	usage->self_issued = v.len == issuer.len && memcmp(v.p, issuer.p, v.len) == 0;
	id->names_ok = true;
	id->names_count = 0;
	id->names_len = 0;
	if (!collect_ous(subject, id))
		return false;
	usage->unreadable = "its public key";
	if (!der_expect(&tbs, 0x30, &spki, NULL) || !der_expect(&spki, 0x30, &alg, NULL)
	    || !der_expect(&alg, 0x06, &oid, NULL))
		return false;
	if (der_oid_is(oid, oid_rsa_encryption, sizeof oid_rsa_encryption)
	    && !rsa_modulus_bits(spki, &usage->rsa_bits))
		return false;
	while (tbs.len > 0) {
		usage->unreadable = "its extensions";
		if (!der_next(&tbs, &tag, &v, NULL))
			return false;
		if (tag == 0xa3 && !parse_extensions(v, usage)) {
			if (!usage->unreadable)
				usage->unreadable = "its extensions";
			return false;
		}
	}
	usage->unreadable = "its subjectAltName extension";
	if (usage->san_count > 1)
		id->names_ok = false;   /* RFC 5280 allows one: which would count? */
	if (usage->san_count > 0 && !collect_sans(usage->san, id))
		return false;
	usage->unreadable = "its signature algorithm";
	if (!der_expect(&cert, 0x30, &alg, NULL) || !der_expect(&alg, 0x06, &oid, NULL))
		return false;
	for (i = 0; i < sizeof weak_signatures / sizeof weak_signatures[0]; i++)
		if (der_oid_is(oid, weak_signatures[i].oid, weak_signatures[i].len)) {
			usage->sig_hash = weak_signatures[i].hash;
			usage->sig_name = weak_signatures[i].name;
		}
	usage->unreadable = NULL;
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
	/* The rest of what br_x509_minimal verifies, for cert_signed_by(). */
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 14 }, 9, false, br_sha224_ID, &br_sha224_vtable, BR_HASH_OID_SHA224 },
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 1 }, 8, true, br_sha224_ID, &br_sha224_vtable, NULL },
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 1 }, 7, true, br_sha1_ID, &br_sha1_vtable, NULL },
};

/* Verifies `signature` over `data` with a pinned CA's key. */
bool
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

static const unsigned char oid_akid[] = { 0x55, 0x1d, 0x23 };
static const unsigned char oid_crl_number[] = { 0x55, 0x1d, 0x14 };
static const unsigned char oid_delta_crl[] = { 0x55, 0x1d, 0x1b };
static const unsigned char oid_idp[] = { 0x55, 0x1d, 0x1c };
static const unsigned char oid_cert_issuer[] = { 0x55, 0x1d, 0x1d };

static void
oid_text(struct der oid, char *out, size_t cap)
{
	struct text_out t = { out, 0, cap };

	out[0] = '\0';
	text_add_oid(&t, oid);
}

/*
 * An issuingDistributionPoint (RFC 5280, 5.2.5): sets *scope to what the
 * CRL covers, with *note saying why when that is nothing mtlsd can use.
 * Returns NULL, or why the CRL must be refused.
 *
 * A partition (distributionPoint) covers only certificates whose
 * cRLDistributionPoints name it; mtlsd does not read those, so it uses
 * none, and a client it would cover finds no CRL and is refused.
 */
static const char *
parse_idp(struct der value, unsigned *scope, const char **note)
{
	struct der seq, v;
	unsigned tag, n;
	int last = -1;
	bool flag[6] = { false };

	if (!der_expect(&value, 0x30, &seq, NULL) || value.len != 0)
		return "malformed issuingDistributionPoint";
	while (seq.len > 0) {
		if (!der_next(&seq, &tag, &v, NULL))
			return "malformed issuingDistributionPoint";
		n = tag & 0x1f;
		/* Context tags [0]..[5], each at most once, in order. */
		if ((tag & 0xc0) != 0x80 || n > 5 || (int)n <= last)
			return "malformed issuingDistributionPoint";
		last = (int)n;
		if (n == 0 || n == 3) {
			/* distributionPoint (constructed), onlySomeReasons (BIT STRING) */
			if (tag != (n == 0 ? 0xa0u : 0x83u))
				return "malformed issuingDistributionPoint";
			flag[n] = true;
		} else {
			if (tag != (0x80 | n) || v.len != 1)
				return "malformed issuingDistributionPoint";
			flag[n] = v.p[0] != 0;
		}
	}
	if (flag[4])
		return "an indirect CRL (issuingDistributionPoint indirectCRL), "
		    "which mtlsd does not support";
	if (flag[1] + flag[2] + flag[5] > 1)
		return "issuingDistributionPoint sets more than one of "
		    "onlyContainsUserCerts, onlyContainsCACerts and "
		    "onlyContainsAttributeCerts";
	*note = NULL;
	*scope = flag[1] ? CRL_SCOPE_EE : flag[2] ? CRL_SCOPE_CA
	    : CRL_SCOPE_EE | CRL_SCOPE_CA;
	if (flag[5])
		*note = "it lists attribute certificates only (onlyContainsAttributeCerts)";
	else if (flag[0])
		*note = "it is one partition of the CA's revocations "
		    "(issuingDistributionPoint names a distribution point)";
	else if (flag[3])
		*note = "it lists some revocation reasons only (onlySomeReasons)";
	if (*note)
		*scope = 0;
	return NULL;
}

/*
 * The crlExtensions of `crl` (RFC 5280, 5.2). A delta CRL, an indirect
 * CRL or any critical extension mtlsd does not know is refused: it is not
 * a complete list of the CA's revocations, or mtlsd cannot tell what it
 * covers.
 */
static int
parse_crl_extensions(const char *path, struct der exts, struct crl *crl, char *why,
    size_t why_len)
{
	struct der seq, oid, value;
	bool critical, seen_idp = false;
	const char *err;
	char text[64];

	if (!der_expect(&exts, 0x30, &seq, NULL) || exts.len != 0)
		return fail(why, why_len, "%s: malformed crlExtensions", path);
	while (seq.len > 0) {
		if (!der_extension(&seq, &oid, &critical, &value))
			return fail(why, why_len, "%s: malformed crlExtensions", path);
		if (der_oid_is(oid, oid_delta_crl, sizeof oid_delta_crl))
			return fail(why, why_len, "%s: a delta CRL (deltaCRLIndicator); "
			    "mtlsd needs complete CRLs", path);
		if (der_oid_is(oid, oid_idp, sizeof oid_idp)) {
			if (seen_idp)
				return fail(why, why_len, "%s: two issuingDistributionPoint "
				    "extensions", path);
			seen_idp = true;
			if ((err = parse_idp(value, &crl->scope, &crl->scope_note)))
				return fail(why, why_len, "%s: %s", path, err);
		} else if (critical && !der_oid_is(oid, oid_akid, sizeof oid_akid)
		    && !der_oid_is(oid, oid_crl_number, sizeof oid_crl_number)) {
			oid_text(oid, text, sizeof text);
			return fail(why, why_len, "%s: unknown critical CRL extension %s; "
			    "mtlsd refuses a CRL it cannot fully understand", path, text);
		}
	}
	return 0;
}

/*
 * Serials in the order of their big-endian value (set_serial strips
 * leading zeros, so a shorter one is smaller).
 */
static int
serial_compare(const void *a, const void *b)
{
	const struct serial *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->bytes, y->bytes, x->len);
}

/* Binary search of a CRL's sorted serials: no scan per request. */
bool
crl_lists(const struct crl *crl, const struct serial *serial)
{
	size_t lo = 0, hi = crl->revoked_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = serial_compare(&crl->revoked[mid], serial);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Reads the revokedCertificates of a CRL into crl->revoked, sorted. An
 * entry with a critical extension (certificateIssuer, in an indirect CRL,
 * or anything else) is refused, as mtlsd cannot tell what it means.
 */
int
parse_revoked(const char *path, struct der entries, struct crl *crl, char *why,
    size_t why_len)
{
	size_t cap = 0;
	struct serial *p;

	while (entries.len > 0) {
		struct der entry, serial, v, exts = { NULL, 0 }, oid, value;
		unsigned tag;
		int64_t t;
		bool critical;
		char text[64];

		if (!der_expect(&entries, 0x30, &entry, NULL)
		    || !der_expect(&entry, 0x02, &serial, NULL)
		    || !der_next(&entry, &tag, &v, NULL) || !der_time(tag, v, &t)
		    || (entry.len > 0 && (!der_expect(&entry, 0x30, &exts, NULL)
		    || entry.len != 0)))
			return fail(why, why_len, "%s: bad revoked entry %zu", path,
			    crl->revoked_count + 1);
		while (exts.len > 0) {
			if (!der_extension(&exts, &oid, &critical, &value))
				return fail(why, why_len, "%s: bad extensions in revoked "
				    "entry %zu", path, crl->revoked_count + 1);
			if (!critical)
				continue;
			if (der_oid_is(oid, oid_cert_issuer, sizeof oid_cert_issuer))
				return fail(why, why_len, "%s: an indirect CRL "
				    "(certificateIssuer in revoked entry %zu), which mtlsd "
				    "does not support", path, crl->revoked_count + 1);
			oid_text(oid, text, sizeof text);
			return fail(why, why_len, "%s: revoked entry %zu has a critical "
			    "extension %s; mtlsd refuses a CRL it cannot fully understand",
			    path, crl->revoked_count + 1, text);
		}
		if (crl->revoked_count == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(p = realloc(crl->revoked, cap * sizeof *crl->revoked)))
				return fail(why, why_len, "%s: out of memory for %zu revoked "
				    "serials", path, cap);
			crl->revoked = p;
		}
		set_serial(&crl->revoked[crl->revoked_count++], serial);
	}
	if (crl->revoked_count > 0) {
		qsort(crl->revoked, crl->revoked_count, sizeof *crl->revoked, serial_compare);
		/* Exactly what is used, so the memory printed at start-up is true. */
		if ((p = realloc(crl->revoked, crl->revoked_count * sizeof *crl->revoked)))
			crl->revoked = p;
	}
	return 0;
}

/*
 * Parses one DER CRL into `crl` (issuer, dates, scope; anchor -1, the
 * revoked list not yet read: parse_revoked) and `c`, what tying it to a CA
 * needs. Returns -1 with `why` filled, naming `path`, if it is not a CRL
 * mtlsd fully understands.
 */
int
crl_parse(const char *path, const unsigned char *data, size_t len, struct crl *crl,
    struct crl_parts *c, char *why, size_t why_len)
{
	struct der in = { data, len }, list, tbs, v, alg_whole, inner_alg;
	unsigned tag;

	c->entries = (struct der){ NULL, 0 };
	memset(crl, 0, sizeof *crl);
	crl->anchor = -1;
	crl->path = path;
	crl->scope = CRL_SCOPE_EE | CRL_SCOPE_CA;
	if (!der_expect(&in, 0x30, &list, NULL) || !der_expect(&list, 0x30, &tbs, &c->tbs)
	    || !der_expect(&list, 0x30, &c->alg, &alg_whole) || !der_expect(&list, 0x03, &c->sig, NULL))
		return fail(why, why_len, "%s: not a CRL", path);
	if (tbs.len > 0 && tbs.p[0] == 0x02 && (!der_next(&tbs, &tag, &v, NULL)
	    || v.len != 1 || v.p[0] > 1))
		return fail(why, why_len, "%s: unsupported CRL version", path);
	if (!der_expect(&tbs, 0x30, &v, &inner_alg) || !der_expect(&tbs, 0x30, &v, &c->issuer)
	    || !format_name(v, crl->issuer, sizeof crl->issuer, NULL, 0, NULL)
	    || !der_next(&tbs, &tag, &v, NULL) || !der_time(tag, v, &crl->this_update))
		return fail(why, why_len, "%s: not a CRL", path);
	if (inner_alg.len != alg_whole.len || memcmp(inner_alg.p, alg_whole.p, alg_whole.len) != 0)
		return fail(why, why_len, "%s: the two signature algorithm fields "
		    "differ", path);
	if (tbs.len > 0 && (tbs.p[0] == 0x17 || tbs.p[0] == 0x18)
	    && (!der_next(&tbs, &tag, &v, NULL) || !der_time(tag, v, &crl->next_update)))
		return fail(why, why_len, "%s: bad nextUpdate", path);
	if (tbs.len > 0 && tbs.p[0] == 0x30 && !der_expect(&tbs, 0x30, &c->entries, NULL))
		return fail(why, why_len, "%s: bad revoked list", path);
	if (tbs.len > 0) {
		if (!der_expect(&tbs, 0xa0, &v, NULL) || tbs.len != 0)
			return fail(why, why_len, "%s: not a CRL (unexpected field "
			    "after the revoked list)", path);
		if (parse_crl_extensions(path, v, crl, why, why_len) < 0)
			return -1;
	}
	sha256_of(c->issuer.p, c->issuer.len, crl->issuer_hash);
	return 0;
}

/* Whether the certificate `der` is signed by the key `pk`. */
bool
cert_signed_by(const unsigned char *der, size_t len, const br_x509_pkey *pk)
{
	struct der in = { der, len }, cert, tbs, tbs_whole, alg, sig;

	return der_expect(&in, 0x30, &cert, NULL)
	    && der_expect(&cert, 0x30, &tbs, &tbs_whole)
	    && der_expect(&cert, 0x30, &alg, NULL) && der_expect(&cert, 0x03, &sig, NULL)
	    && signature_valid(alg, tbs_whole, sig, pk);
}

