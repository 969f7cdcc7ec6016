/*
 * tls.c - BearSSL glue for mtlsd: loading credentials (parsed by x509.c),
 * the server engine, the X.509 wrapper that decides who the client is, and
 * the session cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "x509.h"

/*
 * A CRL file may be much larger: a busy CA's CRL passes 1 MiB, and one
 * refused at a reload leaves revocation as it was. 64 MiB is about 1.8
 * million revoked serials in DER; once loaded, each takes 21 bytes
 * (struct serial), so the largest CRL costs some 40 MiB of memory. The cap
 * is there so that a wrong file (a disk image, /dev/zero) is refused
 * quickly, naming the file, rather than exhausting memory.
 */
#define MAX_CRL_FILE (64 * 1024 * 1024)

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

/* The smallest RSA key --security-level allows (0 in a config means 2). */
static unsigned
min_rsa_bits(const struct tls_config *cfg)
{
	return cfg->security_level == 1 ? 1024 : 2048;
}

/*
 * The key size and signature hash rules of --security-level, as OpenSSL
 * applies them to each certificate of a chain but the trust anchor. Writes
 * the rule broken to `rule`.
 */
static int
strength_error(const struct tls_config *cfg, const struct usage_verdict *u,
    char *rule, size_t rule_len)
{
	if (u->rsa_bits != 0 && u->rsa_bits < min_rsa_bits(cfg)) {
		snprintf(rule, rule_len, "RSA key of %u bits, below %u (--security-level %d)",
		    u->rsa_bits, min_rsa_bits(cfg), cfg->security_level == 1 ? 1 : 2);
		return TLS_ERR_WEAK_KEY;
	}
	if (u->sig_hash == SIG_HASH_MD5) {
		snprintf(rule, rule_len, "signed with %s, refused at every security level",
		    u->sig_name);
		return TLS_ERR_WEAK_SIGNATURE;
	}
	if (u->sig_hash == SIG_HASH_SHA1 && cfg->security_level != 1) {
		snprintf(rule, rule_len, "signed with %s, refused at --security-level 2 "
		    "(SHA-1 needs --security-level 1)", u->sig_name);
		return TLS_ERR_WEAK_SIGNATURE;
	}
	return 0;
}

/*
 * Parses and verifies one DER CRL: it is tied to the pinned CA whose key
 * verifies its signature, trying every pinned CA of its issuer's name (a
 * CA re-keyed under the same name is pinned twice).
 */
static int
load_crl_der(struct tls_credentials *creds, const char *path, const unsigned char *data,
    size_t len, char *why, size_t why_len)
{
	struct crl_parts c;
	struct crl crl, *grown;
	size_t i, named = 0;
	int err;

	if (crl_parse(path, data, len, &crl, &c, why, why_len) < 0)
		return -1;
	for (i = 0; i < creds->anchor_count && crl.anchor < 0; i++) {
		if (creds->anchors[i].dn.len != c.issuer.len
		    || memcmp(creds->anchors[i].dn.data, c.issuer.p, c.issuer.len) != 0)
			continue;
		named++;
		if (signature_valid(c.alg, c.tbs, c.sig, &creds->anchors[i].pkey))
			crl.anchor = (int)i;
	}
	if (named == 0) {
		/* An intermediate's, perhaps: verified once a chain shows its key. */
		if (!(crl.der = copy_of(data, len)))
			return fail(why, why_len, "%s: out of memory", path);
		crl.der_len = len;
	} else if (crl.anchor < 0 && named == 1)
		return fail(why, why_len, "%s: signature does not verify with the "
		    "pinned CA %s", path, crl.issuer);
	else if (crl.anchor < 0)
		return fail(why, why_len, "%s: signature does not verify with any of "
		    "the %zu pinned CAs named %s", path, named, crl.issuer);
	if (crl.anchor >= 0)
		memcpy(crl.anchor_id, creds->anchor_key_id[crl.anchor], 32);
	if ((err = parse_revoked(path, c.entries, &crl, why, why_len)) < 0) {
		free(crl.revoked);
		free(crl.der);
		return err;
	}
	if (!(grown = realloc(creds->crls, (creds->crl_count + 1) * sizeof *creds->crls))) {
		free(crl.revoked);
		free(crl.der);
		return fail(why, why_len, "%s: out of memory", path);
	}
	creds->crls = grown;
	creds->crls[creds->crl_count++] = crl;
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

	if (read_whole_file(path, &raw, MAX_CRL_FILE, why, why_len) < 0)
		return -1;
	if (raw.len == 0 || raw.data[0] == 0x30) {
		err = raw.len == 0 ? fail(why, why_len, "%s: empty file", path)
		    : load_crl_der(creds, path, raw.data, raw.len, why, why_len);
		free(raw.data);
		return err;
	}
	if (pem_decode(path, raw, &objs, why, why_len) < 0)
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

size_t
tls_crl_memory(const struct tls_credentials *creds, size_t *serials)
{
	size_t i, bytes = creds->crl_count * sizeof *creds->crls;

	*serials = 0;
	for (i = 0; i < creds->crl_count; i++) {
		*serials += creds->crls[i].revoked_count;
		bytes += creds->crls[i].revoked_count * sizeof *creds->crls[i].revoked;
		bytes += creds->crls[i].der_len;
	}
	return bytes;
}

static bool
crl_in_force(const struct crl *crl, int64_t now)
{
	return now >= crl->this_update && (crl->next_update == 0 || now <= crl->next_update);
}

/*
 * Whether `crl` is signed with the key named `key_id` (see anchor_key_id):
 * a pinned CA's, checked at load, or an intermediate's, as far as a
 * validated chain has shown that key (verify_crls_with).
 */
static bool
crl_signed_with(const struct crl *crl, const unsigned char key_id[32])
{
	unsigned i;

	if (crl->anchor >= 0)
		return memcmp(crl->anchor_id, key_id, 32) == 0;
	for (i = 0; i < crl->verdict_count; i++)
		if (memcmp(crl->verdicts[i].key_id, key_id, 32) == 0)
			return crl->verdicts[i].signed_by;
	return false;
}

/*
 * TLS_ERR_REVOKED, TLS_ERR_CA_REVOKED, TLS_ERR_CRL_EXPIRED,
 * TLS_ERR_CRL_NOT_YET_VALID or TLS_ERR_CRL_MISSING if the CRLs of `creds` say so, else 0.
 *
 * Once CRLs are given, every certificate of the chain must be covered by
 * its issuer's CRL, or the chain is refused, as nginx does (OpenSSL's
 * CRL_CHECK_ALL): the certificates below the topmost intermediate by the
 * CRLs of the intermediates that signed them, the one a pinned CA signed
 * by that CA's CRL, and the pinned CA's own. Only the CRLs signed by the
 * key that signed a certificate count (not those of another CA of the
 * same name), and only those whose scope covers it.
 */
/*
 * The CRL that decides for a certificate signed by the pinned CA
 * `anchor_id`, a CA certificate or not: of several that cover it, the
 * newest one in force, as OpenSSL. NULL if none covers it.
 */
static const struct crl *
crl_for(const struct tls_credentials *creds, const unsigned char anchor_id[32], bool ca,
    int64_t now)
{
	const struct crl *crl = NULL;
	unsigned need = ca ? CRL_SCOPE_CA : CRL_SCOPE_EE;
	size_t i;

	for (i = 0; i < creds->crl_count; i++) {
		const struct crl *c = &creds->crls[i];

		if (!crl_signed_with(c, anchor_id) || !(c->scope & need))
			continue;
		if (!crl || crl_in_force(c, now) > crl_in_force(crl, now)
		    || (crl_in_force(c, now) == crl_in_force(crl, now)
		    && c->this_update > crl->this_update))
			crl = c;
	}
	return crl;
}

static const struct crl *
covering_crl(const struct tls_credentials *creds, const struct client_identity *id,
    int64_t now)
{
	if (!id->top_known || id->top_anchor < 0)
		return NULL;
	return crl_for(creds, id->top_anchor_id, id->top_ca, now);
}

/* The pinned CA of `creds` that `id`'s chain ends at, or -1 if not pinned. */
static long
anchor_of(const struct tls_credentials *creds, const struct client_identity *id)
{
	size_t i;

	if (id->top_anchor < 0)
		return -1;
	if ((size_t)id->top_anchor < creds->anchor_count
	    && memcmp(creds->anchor_key_id[id->top_anchor], id->top_anchor_id, 32) == 0)
		return id->top_anchor;
	for (i = 0; i < creds->anchor_count; i++)    /* another generation's index */
		if (memcmp(creds->anchor_key_id[i], id->top_anchor_id, 32) == 0)
			return (long)i;
	return -1;
}

/*
 * As OpenSSL checks every certificate of the chain (CRL_CHECK_ALL), the
 * pinned CA's own certificate too: a CRL of its key must cover it (a CA
 * certificate, unless it is a v1 root), and must not list its serial.
 */
static int
anchor_revocation_status(const struct tls_credentials *creds,
    const struct client_identity *id, int64_t now)
{
	const struct crl *crl;
	long a = anchor_of(creds, id);

	if (a < 0 || !(crl = crl_for(creds, id->top_anchor_id, creds->anchor_ca[a], now)))
		return TLS_ERR_CRL_MISSING;
	if (now < crl->this_update)
		return TLS_ERR_CRL_NOT_YET_VALID;
	if (crl->next_update != 0 && now > crl->next_update)
		return TLS_ERR_CRL_EXPIRED;
	if (crl_lists(crl, &creds->anchor_serial[a]))
		return TLS_ERR_CA_REVOKED;
	return 0;
}

/*
 * The certificates below the one a pinned CA signed, client's own first,
 * each against the CRL of the intermediate that signed it (OpenSSL's
 * CRL_CHECK_ALL checks the chain from the leaf up): 0, or why not. With
 * *depth set to the failing one (1: the client's own certificate).
 */
static int
intermediate_revocation_status(const struct tls_credentials *creds,
    const struct client_identity *id, int64_t now, int *depth)
{
	const struct crl *crl;
	int k;

	for (k = 0; k < id->trusted_at - 1; k++) {
		const struct chain_link *l = &id->below[k];

		*depth = k + 1;
		if (k >= id->below_count
		    || !(crl = crl_for(creds, l->issuer_key_id, l->ca, now)))
			return TLS_ERR_CRL_MISSING;
		if (now < crl->this_update)
			return TLS_ERR_CRL_NOT_YET_VALID;
		if (crl->next_update != 0 && now > crl->next_update)
			return TLS_ERR_CRL_EXPIRED;
		if (crl_lists(crl, &l->serial))
			return k == 0 ? TLS_ERR_REVOKED : TLS_ERR_CA_REVOKED;
	}
	*depth = 0;
	return 0;
}

static int
revocation_status(const struct tls_credentials *creds, const struct client_identity *id,
    int64_t now)
{
	const struct crl *crl;
	int err, depth;

	if (creds->crl_count == 0)
		return 0;
	if ((err = intermediate_revocation_status(creds, id, now, &depth)) != 0)
		return err;
	if (!(crl = covering_crl(creds, id, now)))
		return TLS_ERR_CRL_MISSING;
	if (now < crl->this_update)
		return TLS_ERR_CRL_NOT_YET_VALID;
	if (crl->next_update != 0 && now > crl->next_update)
		return TLS_ERR_CRL_EXPIRED;
	if (crl_lists(crl, &id->top_serial))
		return id->trusted_at > 1 ? TLS_ERR_CA_REVOKED : TLS_ERR_REVOKED;
	return anchor_revocation_status(creds, id, now);
}

/* ---- who gets in: the allow rules ---- */

/*
 * Does the identity show `value` as a name of this kind? Sets *matched to
 * the identity's own copy. CNs and OUs and URIs compare byte for byte, DNS
 * names ignoring ASCII case (as DNS does). A CN or names that could not be
 * kept whole (cn_ok, names_ok) never match.
 */
static bool
identity_has(const struct client_identity *id, enum allow_kind kind,
    const char *value, const char **matched)
{
	size_t off;
	const char *name;

	if (kind == ALLOW_CN) {
		if (!id->cn_ok || strcmp(value, id->cn) != 0)
			return false;
		*matched = id->cn;
		return true;
	}
	if (!id->names_ok)
		return false;
	for (off = 0; off < id->names_len; off += strlen(name) + 2) {
		name = id->names + off + 1;
		if ((unsigned char)id->names[off] != kind)
			continue;
		if (kind == ALLOW_DNS ? strcasecmp(name, value) == 0
		    : strcmp(name, value) == 0) {
			*matched = name;
			return true;
		}
	}
	return false;
}

static bool
global_rules_given(const struct tls_credentials *creds)
{
	const struct tls_config *cfg = creds->config;

	return cfg->allow_cn_count + creds->allow_fingerprint_count + cfg->allow_ou_count
	    + cfg->allow_dns_count + cfg->allow_uri_count > 0;
}

static bool
any_of(const struct client_identity *id, enum allow_kind kind,
    const char *const *values, size_t count, struct tls_access *a)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (identity_has(id, kind, values[i], &a->value)) {
			a->kind = kind;
			return true;
		}
	return false;
}

/* The global --allow-* options: any of them allows; none given, all may. */
static bool
allowed_globally(const struct tls_credentials *creds, const struct client_identity *id,
    struct tls_access *a)
{
	const struct tls_config *cfg = creds->config;
	size_t i;

	a->kind = ALLOW_NOTHING;
	a->value = NULL;
	if (!global_rules_given(creds)) {
		a->kind = ALLOW_UNRULED;
		return true;
	}
	if (any_of(id, ALLOW_CN, cfg->allow_cn, cfg->allow_cn_count, a)
	    || any_of(id, ALLOW_OU, cfg->allow_ou, cfg->allow_ou_count, a)
	    || any_of(id, ALLOW_DNS, cfg->allow_dns, cfg->allow_dns_count, a)
	    || any_of(id, ALLOW_URI, cfg->allow_uri, cfg->allow_uri_count, a))
		return true;
	for (i = 0; i < creds->allow_fingerprint_count; i++)
		if (memcmp(creds->allow_fingerprints[i], id->fingerprint, 32) == 0) {
			a->kind = ALLOW_FINGERPRINT;
			return true;
		}
	return false;
}

static bool
path_rule_allows(const struct path_rule *r, const struct client_identity *id,
    struct tls_access *a)
{
	switch (r->kind) {
	case ALLOW_ANY:
		a->kind = ALLOW_ANY;
		return true;
	case ALLOW_FINGERPRINT:
		if (memcmp(r->fingerprint, id->fingerprint, 32) != 0)
			return false;
		a->kind = ALLOW_FINGERPRINT;
		return true;
	case ALLOW_CN:
	case ALLOW_OU:
	case ALLOW_DNS:
	case ALLOW_URI:
		if (!identity_has(id, r->kind, r->value, &a->value))
			return false;
		a->kind = r->kind;
		return true;
	default:
		return false;       /* none */
	}
}

/*
 * Does the --allow-file prefix cover the path? "/reports/" covers
 * "/reports/..." and "/reports" itself, which would only redirect there.
 */
static bool
prefix_covers(const struct path_rule *r, const char *path, size_t len)
{
	if (len >= r->prefix_len)
		return memcmp(path, r->prefix, r->prefix_len) == 0;
	return len + 1 == r->prefix_len && r->prefix[len] == '/'
	    && memcmp(path, r->prefix, len) == 0;
}

/* The rule of the longest prefix covering the path that comes first; NULL if none. */
static const struct path_rule *
deciding_prefix(const struct tls_credentials *creds, const char *path, size_t len)
{
	const struct path_rule *best = NULL;
	size_t i;

	for (i = 0; i < creds->path_rule_count; i++)
		if (prefix_covers(&creds->path_rules[i], path, len)
		    && (!best || creds->path_rules[i].prefix_len > best->prefix_len))
			best = &creds->path_rules[i];
	return best;
}

/*
 * The rules for one path: those of the longest --allow-file prefix covering
 * it (any of its lines allows), or the global ones when no prefix does.
 */
static bool
allowed_for_path(const struct tls_credentials *creds, const struct client_identity *id,
    const char *path, size_t len, struct tls_access *a, const struct path_rule **decided)
{
	const struct path_rule *best = path ? deciding_prefix(creds, path, len) : NULL;
	size_t i;

	*decided = best;
	a->kind = ALLOW_NOTHING;
	a->value = NULL;
	if (!best)
		return allowed_globally(creds, id, a);
	for (i = 0; i < creds->path_rule_count; i++) {
		const struct path_rule *r = &creds->path_rules[i];

		if (r->prefix_len == best->prefix_len
		    && memcmp(r->prefix, best->prefix, r->prefix_len) == 0
		    && path_rule_allows(r, id, a))
			return true;
	}
	return false;
}

/* May the client reach some path? What strict mode asks at the handshake. */
static bool
allowed_somewhere(const struct tls_credentials *creds, const struct client_identity *id)
{
	struct tls_access a;
	size_t i;

	if (allowed_globally(creds, id, &a))
		return true;
	for (i = 0; i < creds->path_rule_count; i++)
		if (path_rule_allows(&creds->path_rules[i], id, &a))
			return true;
	return false;
}

bool
tls_cn_is_plain(const struct client_identity *id)
{
	size_t i, len = strlen(id->cn);

	if (!id->cn_ok || len == 0 || len > 64 || id->cn[0] == '.')
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)id->cn[i] < 0x20 || id->cn[i] == 0x7f || id->cn[i] == '/')
			return false;
	return true;
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

	bool key_inside = false;

	if (pem_read_file(path, &objs, why, why_len) < 0)
		return -1;
	creds->chain = calloc(objs.count ? objs.count : 1, sizeof *creds->chain);
	if (!creds->chain) {
		pem_free(&objs);
		return fail(why, why_len, "%s: out of memory", path);
	}
	for (i = 0; i < objs.count; i++) {
		br_x509_certificate *cert;

		if (!is_certificate(&objs.items[i])) {
			if (strstr(objs.items[i].name, "PRIVATE KEY"))
				key_inside = true;
			if (objs.items[i].der.data)
				explicit_bzero(objs.items[i].der.data,
				    objs.items[i].der.len);
			free(objs.items[i].der.data);
			continue;
		}
		cert = &creds->chain[creds->chain_len++];
		cert->data = objs.items[i].der.data;
		cert->data_len = objs.items[i].der.len;
	}
	free(objs.items);
	if (creds->chain_len == 0 && key_inside)
		return fail(why, why_len, "%s: no certificate found, but a private "
		    "key: are the certificate (-c) and the key (-k) swapped?", path);
	if (creds->chain_len == 0)
		return fail(why, why_len, "%s: no certificate found (expected PEM "
		    "\"-----BEGIN CERTIFICATE-----\")", path);
	return 0;
}

static int
load_key(struct tls_credentials *creds, const char *path, char *why, size_t why_len)
{
	struct pem_objects objs;
	const struct pem_object *found = NULL;
	bool certificate_inside = false;
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
		if (is_certificate(&objs.items[i]))
			certificate_inside = true;
	}
	if (!err && !found && certificate_inside)
		err = fail(why, why_len, "%s: no private key found, but a "
		    "certificate: are the certificate (-c) and the key (-k) "
		    "swapped?", path);
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

/* Whether a certificate's signature verifies with its own key. */
static bool
self_signature_valid(const struct bytes *der, const br_x509_pkey *pk)
{
	struct der in = { der->data, der->len }, cert, tbs, tbs_whole, alg, sig;

	return der_expect(&in, 0x30, &cert, NULL)
	    && der_expect(&cert, 0x30, &tbs, &tbs_whole)
	    && der_expect(&cert, 0x30, &alg, NULL)
	    && der_expect(&cert, 0x03, &sig, NULL)
	    && signature_valid(alg, tbs_whole, sig, pk);
}

/*
 * Why a certificate cannot be a pinned CA, or NULL if it can. OpenSSL checks
 * the trust anchor as a CA for client use (X509_check_ca, the sslclient
 * purpose) and refuses every chain that ends there; mtlsd refuses the file.
 * Without basicConstraints, a v1 certificate is a CA only if self-signed
 * (OpenSSL's "v1 root"); a later one needs keyUsage with keyCertSign, as in
 * OpenSSL, and must also be self-signed (stricter: OpenSSL takes it then).
 */
static const char *
anchor_problem(const struct tls_config *cfg, const struct usage_verdict *u,
    const struct bytes *der, const br_x509_pkey *pk, char *buf, size_t buf_len)
{
	if (u->unknown_critical)
		return "it has a critical extension mtlsd does not know";
	if (u->has_basic_constraints && !u->is_ca)
		return "basicConstraints says CA:FALSE, so it is not a CA (a client or "
		    "server certificate?)";
	if (!u->has_basic_constraints && (!u->self_issued || !self_signature_valid(der, pk))) {
		snprintf(buf, buf_len, "a v%d certificate without basicConstraints is a CA "
		    "only if self-signed, and this one is not (a client or server "
		    "certificate?)", u->version);
		return buf;
	}
	if (!u->has_basic_constraints && u->version > 1 && !u->has_key_usage) {
		snprintf(buf, buf_len, "a v%d certificate with neither basicConstraints "
		    "nor keyUsage is not a CA", u->version);
		return buf;
	}
	if (u->has_key_usage && !u->key_usage_cert_sign)
		return "its keyUsage lacks keyCertSign";
	if (u->has_eku && !u->eku_client_auth)
		return u->eku_server_auth ? "its extendedKeyUsage is for serverAuth, "
		    "not clientAuth" : "its extendedKeyUsage lacks clientAuth";
	if (u->rsa_bits != 0 && u->rsa_bits < min_rsa_bits(cfg)) {
		snprintf(buf, buf_len, "its RSA key of %u bits is below %u "
		    "(--security-level %d)", u->rsa_bits, min_rsa_bits(cfg),
		    cfg->security_level == 1 ? 1 : 2);
		return buf;
	}
	return NULL;
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
	creds->anchor_fingerprint = calloc(objs.count ? objs.count : 1,
	    sizeof *creds->anchor_fingerprint);
	creds->anchor_serial = calloc(objs.count ? objs.count : 1,
	    sizeof *creds->anchor_serial);
	creds->anchor_ca = calloc(objs.count ? objs.count : 1, sizeof *creds->anchor_ca);
	creds->anchor_path_len = calloc(objs.count ? objs.count : 1,
	    sizeof *creds->anchor_path_len);
	if (!creds->anchors || !creds->anchor_names || !creds->anchor_not_before
	    || !creds->anchor_not_after || !creds->anchor_dn_hash
	    || !creds->anchor_fingerprint || !creds->anchor_serial || !creds->anchor_ca
	    || !creds->anchor_path_len) {
		pem_free(&objs);
		return fail(why, why_len, "%s: out of memory", path);
	}
	for (i = 0; i < objs.count; i++) {
		br_x509_decoder_context dc;
		struct bytes dn = { 0 };
		const br_x509_pkey *pk;
		br_x509_trust_anchor *ta;
		struct client_identity id;
		struct usage_verdict usage;
		const char *problem;
		char rule[160];

		if (!is_certificate(&objs.items[i]))
			continue;
		if (!(pk = decode_certificate(&dc, &dn, &objs.items[i].der))) {
			err = fail(why, why_len, "%s: certificate %zu cannot be "
			    "decoded (BearSSL error %d)", path, i + 1,
			    br_x509_decoder_last_error(&dc));
			free(dn.data);
			break;
		}
		/*
		 * BearSSL keeps only a trust anchor's name and key; its dates and
		 * constraints are applied here, so all of it must be understood.
		 */
		memset(&id, 0, sizeof id);
		if (!parse_certificate(objs.items[i].der.data, objs.items[i].der.len,
		    &id, &usage)) {
			err = fail(why, why_len, "%s: certificate %zu (%s): mtlsd cannot "
			    "read %s, and a pinned CA must be fully understood", path,
			    i + 1, id.subject[0] ? id.subject : "subject unreadable",
			    usage.unreadable);
			free(dn.data);
			break;
		}
		if (usage.name_constraints) {
			/* BearSSL never applies a trust anchor's constraints. */
			err = fail(why, why_len, "%s: the CA %s has name "
			    "constraints, which mtlsd cannot enforce", path,
			    id.subject);
			free(dn.data);
			break;
		}
		if ((problem = anchor_problem(creds->config, &usage, &objs.items[i].der,
		    pk, rule, sizeof rule))) {
			err = fail(why, why_len, "%s: certificate %zu (%s) cannot be a "
			    "pinned CA: %s", path, i + 1, id.subject, problem);
			free(dn.data);
			break;
		}
		snprintf(creds->anchor_names[creds->anchor_count],
		    sizeof creds->anchor_names[0], "%s", id.subject);
		creds->anchor_not_before[creds->anchor_count] = id.not_before;
		creds->anchor_not_after[creds->anchor_count] = id.not_after;
		creds->anchor_path_len[creds->anchor_count] = usage.path_len;
		creds->anchor_serial[creds->anchor_count] = id.serial;
		creds->anchor_ca[creds->anchor_count] = usage.is_ca;
		sha256_of(dn.data, dn.len, creds->anchor_dn_hash[creds->anchor_count]);
		sha256_of(objs.items[i].der.data, objs.items[i].der.len,
		    creds->anchor_fingerprint[creds->anchor_count]);
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

/*
 * What names a pinned CA across generations: SHA-256 of its subject's DER
 * and its public key. Two certificates of one CA (renewed, same key) share
 * it; a CA re-keyed under the same name does not.
 */
static void
key_id_finish(br_sha256_context *ctx, const br_x509_pkey *pk, unsigned char out[32])
{
	unsigned char type = (unsigned char)pk->key_type;

	br_sha256_update(ctx, &type, 1);
	if (pk->key_type == BR_KEYTYPE_RSA) {
		br_sha256_update(ctx, pk->key.rsa.n, pk->key.rsa.nlen);
		br_sha256_update(ctx, pk->key.rsa.e, pk->key.rsa.elen);
	} else {
		type = (unsigned char)pk->key.ec.curve;
		br_sha256_update(ctx, &type, 1);
		br_sha256_update(ctx, pk->key.ec.q, pk->key.ec.qlen);
	}
	br_sha256_out(ctx, out);
}

static void
anchor_key_id(const br_x509_trust_anchor *ta, unsigned char out[32])
{
	br_sha256_context ctx;

	br_sha256_init(&ctx);
	br_sha256_update(&ctx, ta->dn.data, ta->dn.len);
	key_id_finish(&ctx, &ta->pkey, out);
}

/* The key ids of the pinned CAs, and room for the two views of them. */
static int
index_anchors(struct tls_credentials *creds)
{
	size_t i, n = creds->anchor_count ? creds->anchor_count : 1;

	creds->anchor_key_id = calloc(n, sizeof *creds->anchor_key_id);
	for (i = 0; i < 2; i++) {
		creds->views[i].anchors = calloc(n, sizeof *creds->views[i].anchors);
		creds->views[i].index = calloc(n, sizeof *creds->views[i].index);
		if (!creds->views[i].anchors || !creds->views[i].index)
			break;
	}
	if (!creds->anchor_key_id || i < 2)
		return -1;      /* freed with creds */
	for (i = 0; i < creds->anchor_count; i++)
		anchor_key_id(&creds->anchors[i], creds->anchor_key_id[i]);
	return 0;
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
	free(c->anchor_fingerprint);
	free(c->anchor_serial);
	free(c->anchor_ca);
	free(c->anchor_key_id);
	for (i = 0; i < 2; i++) {
		free(c->views[i].anchors);
		free(c->views[i].index);
	}
	free(c->anchor_path_len);
	for (i = 0; i < c->crl_count; i++) {
		free(c->crls[i].revoked);
		free(c->crls[i].der);
	}
	free(c->crls);
	free(c->allow_fingerprints);
	free(c->path_rules);
	free(c->path_rule_text);
	explicit_bzero(&c->key, sizeof c->key);
	free(c);
}

/* ---- --allow-file ---- */

#define MAX_ALLOW_FILE (1024 * 1024)

static const struct {
	const char *word;
	enum allow_kind kind;
} rule_words[] = {
	{ "cn", ALLOW_CN }, { "ou", ALLOW_OU }, { "dns", ALLOW_DNS },
	{ "uri", ALLOW_URI }, { "fingerprint", ALLOW_FINGERPRINT },
	{ "any", ALLOW_ANY }, { "none", ALLOW_NONE },
};

static const char *
rule_word(enum allow_kind kind)
{
	size_t i;

	for (i = 0; i < sizeof rule_words / sizeof rule_words[0]; i++)
		if (rule_words[i].kind == kind)
			return rule_words[i].word;
	return "?";
}

/*
 * Why a name given to an allow rule could never match a certificate, or
 * NULL if it can: an empty CN, a DNS name with a blank, and so on.
 */
static const char *
allow_value_problem(enum allow_kind kind, const char *v)
{
	size_t i, len = strlen(v);

	if (len == 0)
		return "empty";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f)
			return "a control character";
		if ((kind == ALLOW_DNS || kind == ALLOW_URI) && (c == ' ' || c > 0x7e))
			return "a space or a non-ASCII byte (certificates store these "
			    "as IA5String)";
	}
	if (kind == ALLOW_CN && len > 64)
		return "longer than 64 bytes (mtlsd compares CNs of up to 64)";
	if (kind != ALLOW_CN && len + 2 > TLS_ID_NAMES_BYTES)
		return "longer than mtlsd keeps from a certificate (318 bytes)";
	return NULL;
}

/*
 * A path prefix as the decoded, normalised request path will show it:
 * '/' first, no "//", no "." or ".." segment, no '%' (paths are compared
 * decoded), no control character.
 */
static const char *
prefix_problem(const char *p)
{
	size_t i, len = strlen(p);

	if (p[0] != '/')
		return "a path prefix must start with /";
	for (i = 0; i < len; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return "a control character in the path prefix";
		if (p[i] == '%')
			return "'%' in the path prefix: prefixes are compared with the "
			    "decoded path, write them decoded";
		if (p[i] == '/' && i > 0 && p[i - 1] == '/')
			return "'//' in the path prefix (request paths are normalised)";
		if (p[i] == '/' && (strncmp(p + i, "/./", 3) == 0
		    || strncmp(p + i, "/../", 4) == 0 || strcmp(p + i, "/.") == 0
		    || strcmp(p + i, "/..") == 0))
			return "a '.' or '..' segment in the path prefix (request paths "
			    "are normalised)";
	}
	return NULL;
}

static char *
next_word(char **p)
{
	char *w;

	while (**p == ' ' || **p == '\t')
		(*p)++;
	w = *p;
	while (**p && **p != ' ' && **p != '\t')
		(*p)++;
	if (**p)
		*(*p)++ = '\0';
	return w;
}

/*
 * Reads --allow-file into creds->path_rules. Lines: "PREFIX RULE [VALUE]",
 * '#' first for a comment, blank lines ignored; VALUE is the rest of the
 * line without its outer blanks. Returns -1 with "FILE:LINE: why".
 */
static int
load_allow_file(struct tls_credentials *c, const char *path, char *why, size_t why_len)
{
	struct bytes text = { 0 };
	char *p, *end, *line, *prefix, *word, *value;
	unsigned lineno = 0;
	size_t i, j, len;
	const char *problem;

	if (read_whole_file(path, &text, MAX_ALLOW_FILE, why, why_len) < 0)
		return -1;
	if (memchr(text.data, '\0', text.len)) {
		free(text.data);
		return fail(why, why_len, "%s: a NUL byte: not a text file", path);
	}
	c->path_rule_text = malloc(text.len + 1);
	if (!c->path_rule_text) {
		free(text.data);
		return fail(why, why_len, "%s: out of memory", path);
	}
	memcpy(c->path_rule_text, text.data, text.len);
	c->path_rule_text[text.len] = '\0';
	free(text.data);
	for (p = c->path_rule_text; *p; p = end) {
		struct path_rule *r;

		lineno++;
		line = p;
		end = strchr(p, '\n');
		end = end ? end + 1 : p + strlen(p);
		if (end > line && end[-1] == '\n')
			end[-1] = '\0';
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		prefix = next_word(&line);
		if (*prefix == '\0' || *prefix == '#')
			continue;
		word = next_word(&line);
		while (*line == ' ' || *line == '\t')
			line++;
		value = line;
		if ((problem = prefix_problem(prefix)))
			return fail(why, why_len, "%s:%u: %s: %s", path, lineno, prefix, problem);
		for (i = 0; i < sizeof rule_words / sizeof rule_words[0]; i++)
			if (strcmp(word, rule_words[i].word) == 0)
				break;
		if (i == sizeof rule_words / sizeof rule_words[0])
			return fail(why, why_len, "%s:%u: %s: expected a rule (cn, ou, dns, "
			    "uri, fingerprint, any or none) after the path prefix, not "
			    "\"%s\"", path, lineno, prefix, word);
		r = realloc(c->path_rules, (c->path_rule_count + 1) * sizeof *r);
		if (!r)
			return fail(why, why_len, "%s: out of memory", path);
		c->path_rules = r;
		r = &c->path_rules[c->path_rule_count];
		memset(r, 0, sizeof *r);
		r->prefix = prefix;
		r->prefix_len = strlen(prefix);
		r->kind = rule_words[i].kind;
		r->line = lineno;
		if (r->kind == ALLOW_ANY || r->kind == ALLOW_NONE) {
			if (*value)
				return fail(why, why_len, "%s:%u: %s %s takes no value, "
				    "found \"%s\"", path, lineno, prefix, word, value);
		} else if (r->kind == ALLOW_FINGERPRINT) {
			if (parse_fingerprint(value, r->fingerprint) < 0)
				return fail(why, why_len, "%s:%u: %s fingerprint: expected 64 "
				    "hex digits (SHA-256, colons allowed)", path, lineno, prefix);
		} else if ((problem = allow_value_problem(r->kind, value))) {
			return fail(why, why_len, "%s:%u: %s %s: the name is %s", path,
			    lineno, prefix, word, problem);
		} else if (strstr(value, " #") || strstr(value, "\t#")) {
			/* A name may hold '#', but this is likely a comment, which would never match. */
			return fail(why, why_len, "%s:%u: %s %s \"%s\": comments take a "
			    "line of their own", path, lineno, prefix, word, value);
		} else {
			r->value = value;
		}
		c->path_rule_count++;
	}
	/* "none" means nobody: with an allowing rule beside it, which is meant? */
	for (i = 0; i < c->path_rule_count; i++)
		for (j = 0; j < c->path_rule_count; j++) {
			const struct path_rule *a = &c->path_rules[i], *b = &c->path_rules[j];

			if (a->kind == ALLOW_NONE && b->kind != ALLOW_NONE
			    && strcmp(a->prefix, b->prefix) == 0)
				return fail(why, why_len, "%s:%u: %s none: the prefix also "
				    "has a rule allowing clients, at line %u", path,
				    a->line > b->line ? a->line : b->line, a->prefix,
				    a->line > b->line ? b->line : a->line);
		}
	return 0;
}

/* The global --allow-ou, --allow-dns and --allow-uri names, checked as the file's. */
static int
check_allow_options(const struct tls_config *cfg, char *why, size_t why_len)
{
	static const struct {
		const char *option;
		enum allow_kind kind;
	} lists[] = {
		{ "--allow-ou", ALLOW_OU }, { "--allow-dns", ALLOW_DNS },
		{ "--allow-uri", ALLOW_URI },
	};
	const char *const *values[] = { cfg->allow_ou, cfg->allow_dns, cfg->allow_uri };
	const size_t counts[] = { cfg->allow_ou_count, cfg->allow_dns_count,
		cfg->allow_uri_count };
	const char *problem;
	size_t i, k;

	for (k = 0; k < 3; k++)
		for (i = 0; i < counts[k]; i++)
			if ((problem = allow_value_problem(lists[k].kind, values[k][i])))
				return fail(why, why_len, "%s \"%s\": the name is %s",
				    lists[k].option, values[k][i], problem);
	return 0;
}

/*
 * Puts the option before a message that starts with its file, so that
 * "--cert F: ..." and "--client-ca F: ..." differ.
 */
static int
name_option(char *why, size_t why_len, const char *option)
{
	size_t have = strlen(why), add = strlen(option) + 1;

	if (why_len > add) {
		if (have + add >= why_len)
			have = why_len - add - 1;
		memmove(why + add, why, have);
		memcpy(why, option, add - 1);
		why[add - 1] = ' ';
		why[have + add] = '\0';
	}
	return -1;
}

/* A failed allocation seen by a callback: the step fails, and says so. */
static int
checked(int rc, const char *path, char *why, size_t why_len)
{
	if (rc == 0 && out_of_memory)
		return fail(why, why_len, "%s: out of memory", path);
	return rc;
}

struct tls_credentials *
tls_load(const struct tls_config *config, char *why, size_t why_len)
{
	struct tls_credentials *c = calloc(1, sizeof *c);
	size_t i;

	if (!c) {
		fail(why, why_len, "out of memory");
		return NULL;
	}
	out_of_memory = false;
	c->config = config;
	if (config->cert_file && checked(load_chain(c, config->cert_file, why,
	    why_len), config->cert_file, why, why_len) < 0) {
		name_option(why, why_len, "--cert");
		goto failed;
	}
	if (config->cert_file && (checked(load_key(c, config->key_file, why,
	    why_len), config->key_file, why, why_len) < 0
	    || check_key_matches_leaf(c, config->cert_file, config->key_file,
	    why, why_len) < 0)) {
		name_option(why, why_len, "--key");
		goto failed;
	}
	if (checked(load_anchors(c, config->ca_file, why, why_len),
	    config->ca_file, why, why_len) < 0) {
		name_option(why, why_len, "--client-ca");
		goto failed;
	}
	if (index_anchors(c) < 0) {
		fail(why, why_len, "--client-ca %s: out of memory", config->ca_file);
		goto failed;
	}
	for (i = 0; i < config->crl_file_count; i++) {
		if (checked(load_crl_file(c, config->crl_files[i], why, why_len),
		    config->crl_files[i], why, why_len) < 0) {
			name_option(why, why_len, "--crl");
			goto failed;
		}
	}
	c->allow_fingerprints = calloc(config->allow_fingerprint_count + 1, 32);
	if (!c->allow_fingerprints) {
		fail(why, why_len, "out of memory");
		goto failed;
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
	if (check_allow_options(config, why, why_len) < 0)
		goto failed;
	if (config->allow_file && checked(load_allow_file(c, config->allow_file,
	    why, why_len), config->allow_file, why, why_len) < 0) {
		name_option(why, why_len, "--allow-file");
		goto failed;
	}
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
static void verify_crls_with_known_keys(struct tls_credentials *creds);

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
	verify_crls_with_known_keys(creds);
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
	char what[300], msg[600];
	size_t i;

	if (creds->chain_len > 0 && parse_certificate(creds->chain[0].data,
	    creds->chain[0].data_len, &id, &usage)) {
		snprintf(what, sizeof what, "server certificate %s (%s)",
		    creds->config->cert_file, id.subject);
		warn_if_expiring(what, id.not_after, now, days, warn);
	}
	for (i = 0; i < creds->crl_count; i++) {
		const struct crl *crl = &creds->crls[i];

		snprintf(what, sizeof what, "CRL of %s: nextUpdate", crl->issuer);
		warn_if_expiring(what, crl->next_update, now, days, warn);
		if (crl->anchor < 0) {
			snprintf(msg, sizeof msg, "%s: this CRL of %s is not from a "
			    "pinned CA: used only for chains through an intermediate "
			    "named %s, if its signature verifies with that "
			    "intermediate's key", crl->path, crl->issuer, crl->issuer);
			warn(msg);
		}
		if (crl->scope == 0) {
			snprintf(msg, sizeof msg, "%s: this CRL of %s covers no "
			    "certificate mtlsd checks: %s", crl->path, crl->issuer,
			    crl->scope_note);
			warn(msg);
		} else if (crl->scope == CRL_SCOPE_CA) {
			snprintf(msg, sizeof msg, "%s: this CRL of %s covers CA "
			    "certificates only (onlyContainsCACerts)", crl->path,
			    crl->issuer);
			warn(msg);
		}
	}
	for (i = 0; i < creds->anchor_count && creds->crl_count > 0; i++) {
		size_t k;

		for (k = 0; k < creds->crl_count; k++)
			if (memcmp(creds->crls[k].anchor_id, creds->anchor_key_id[i], 32) == 0)
				break;
		if (k == creds->crl_count) {
			snprintf(msg, sizeof msg, "pinned CA %s (SHA-256 %02X%02X%02X%02X...) "
			    "has no CRL signed with its key: with --crl, the "
			    "certificates it issued are refused", creds->anchor_names[i],
			    creds->anchor_fingerprint[i][0], creds->anchor_fingerprint[i][1],
			    creds->anchor_fingerprint[i][2], creds->anchor_fingerprint[i][3]);
			warn(msg);
		}
	}
	for (i = 0; i < creds->anchor_count; i++) {
		snprintf(what, sizeof what, "pinned CA %s", creds->anchor_names[i]);
		warn_if_expiring(what, creds->anchor_not_after[i], now, days, warn);
	}
}

bool
tls_server_certificate(const struct tls_credentials *creds, char *subject,
    size_t subject_len, int64_t *not_after)
{
	struct client_identity id;
	struct usage_verdict usage;

	if (creds->chain_len == 0 || !parse_certificate(creds->chain[0].data,
	    creds->chain[0].data_len, &id, &usage))
		return false;
	snprintf(subject, subject_len, "%s", id.subject);
	*not_after = id.not_after;
	return true;
}

/* ---- which pinned CAs are valid now ---- */

static bool
anchor_valid_at(const struct tls_credentials *creds, size_t i, int64_t now)
{
	return creds->anchor_not_before[i] <= now && now <= creds->anchor_not_after[i];
}

/*
 * The view of the pinned CAs valid at `now` (OpenSSL's rule: notBefore <=
 * now <= notAfter) for a new handshake: its index in creds->views. It is
 * remade only when `now` has left the span over which it holds, so a
 * handshake usually costs a comparison.
 *
 * Handshakes interleave in the one thread, and each one's br_x509_minimal
 * keeps a pointer into its view's array (and that array's length) until
 * the handshake ends. Rewriting that array in place would change the CAs
 * under a handshake in progress: shift a valid CA out of its reach, or
 * leave behind one that has just expired. So a view is remade only while
 * no handshake uses it (refs == 0): the current one if it is free, else
 * the other, which then becomes current. If both are in use (the clock
 * crossed two CA validity boundaries within one handshake), the current,
 * stale view is kept; verifier_end_chain checks the dates of the CA that
 * signed again, so a stale view can refuse a client but never admit one.
 */
static unsigned
valid_view(struct tls_credentials *creds, int64_t now)
{
	struct anchor_view *view = &creds->views[creds->view_cur];
	int64_t from = INT64_MIN, until = INT64_MAX, begins, ends;
	size_t i;

	if (view->until != 0 && view->from <= now && now < view->until)
		return creds->view_cur;
	if (view->refs > 0) {
		if (creds->views[!creds->view_cur].refs > 0)
			return creds->view_cur;
		creds->view_cur = !creds->view_cur;
		view = &creds->views[creds->view_cur];
	}
	view->count = 0;
	for (i = 0; i < creds->anchor_count; i++) {
		begins = creds->anchor_not_before[i];
		ends = creds->anchor_not_after[i] == INT64_MAX ? INT64_MAX
		    : creds->anchor_not_after[i] + 1;
		if (anchor_valid_at(creds, i, now)) {
			view->anchors[view->count] = creds->anchors[i];
			view->index[view->count++] = i;
		}
		if (begins <= now && begins > from)
			from = begins;
		if (begins > now && begins < until)
			until = begins;
		if (ends <= now && ends > from)
			from = ends;
		if (ends > now && ends < until)
			until = ends;
	}
	view->from = from;
	view->until = until;
	return creds->view_cur;
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

/* Whether a CA of the handshake's view is named `dn_hash`. */
static bool
view_has_name(const struct client_verifier *v, const unsigned char dn_hash[32])
{
	const struct anchor_view *view = &v->creds->views[v->view];
	size_t j;

	for (j = 0; j < view->count; j++)
		if (memcmp(v->creds->anchor_dn_hash[view->index[j]], dn_hash, 32) == 0)
			return true;
	return false;
}

/*
 * Which pinned CA's key signed `der`, the certificate a pinned CA signed
 * (its issuer's name is `issuer_hash`): an index in creds->anchors, or -1.
 * BearSSL says only that a CA of the handshake's view did. Usually one CA
 * of the view has that name, and it is that one; only when several do (a
 * CA re-keyed or renewed under the same name) is the signature verified
 * again, with each of them, in BearSSL's order.
 */
static int
signing_anchor(const struct client_verifier *v, const unsigned char issuer_hash[32],
    const unsigned char *der, size_t len)
{
	const struct anchor_view *view = &v->creds->views[v->view];
	size_t j, named = 0;
	int first = -1;

	for (j = 0; j < view->count; j++)
		if (memcmp(v->creds->anchor_dn_hash[view->index[j]], issuer_hash, 32) == 0
		    && named++ == 0)
			first = (int)view->index[j];
	if (named <= 1)
		return first;
	for (j = 0; j < view->count; j++)
		if (memcmp(v->creds->anchor_dn_hash[view->index[j]], issuer_hash, 32) == 0
		    && cert_signed_by(der, len, &view->anchors[j].pkey))
			return (int)view->index[j];
	return -1;
}

static void
set_top_anchor(struct client_verifier *v, const unsigned char *der, size_t len)
{
	struct client_identity *id = &v->identity;

	id->top_anchor = signing_anchor(v, id->top_issuer_hash, der, len);
	if (id->top_anchor >= 0)
		memcpy(id->top_anchor_id, v->creds->anchor_key_id[id->top_anchor], 32);
}

/* A CA with the key (and name) that signed `id`'s chain is pinned, and valid, now. */
static bool
anchor_still_pinned(const struct tls_credentials *creds,
    const struct client_identity *id, int64_t now)
{
	size_t i;

	for (i = 0; i < creds->anchor_count; i++)
		if (anchor_valid_at(creds, i, now)
		    && memcmp(creds->anchor_key_id[i], id->top_anchor_id, 32) == 0)
			return true;
	return false;
}

/* ---- CRLs of intermediate CAs ---- */

/*
 * Intermediate CA keys seen in validated chains, so that a reload can
 * verify its CRLs of intermediates before a request on a connection that
 * outlived its chain is rechecked against them. Fixed size: the oldest
 * is forgotten first (its clients then find no CRL until they reconnect:
 * closed, not open).
 */
#define KNOWN_CA_KEYS 32

static struct known_ca_key {
	unsigned char key_id[32], subject_hash[32];
	br_x509_pkey pkey;              /* points into data */
	unsigned char data[BR_X509_BUFSIZE_KEY];
} known_ca_keys[KNOWN_CA_KEYS];
static size_t known_ca_key_count, known_ca_key_next;

static void
remember_ca_key(const unsigned char key_id[32], const unsigned char subject_hash[32],
    const br_x509_pkey *pk)
{
	struct known_ca_key *k;
	size_t i;

	for (i = 0; i < known_ca_key_count; i++)
		if (memcmp(known_ca_keys[i].key_id, key_id, 32) == 0)
			return;
	if (known_ca_key_count < KNOWN_CA_KEYS) {
		k = &known_ca_keys[known_ca_key_count++];
	} else {
		k = &known_ca_keys[known_ca_key_next];
		known_ca_key_next = (known_ca_key_next + 1) % KNOWN_CA_KEYS;
	}
	memcpy(k->key_id, key_id, 32);
	memcpy(k->subject_hash, subject_hash, 32);
	k->pkey = *pk;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		/* br_x509_decoder's key fits BR_X509_BUFSIZE_KEY. */
		memcpy(k->data, pk->key.rsa.n, pk->key.rsa.nlen);
		memcpy(k->data + pk->key.rsa.nlen, pk->key.rsa.e, pk->key.rsa.elen);
		k->pkey.key.rsa.n = k->data;
		k->pkey.key.rsa.e = k->data + pk->key.rsa.nlen;
	} else {
		memcpy(k->data, pk->key.ec.q, pk->key.ec.qlen);
		k->pkey.key.ec.q = k->data;
	}
}

/* Whether the kept CRL `crl` (anchor -1) verifies with `pk`. */
static bool
crl_signature_valid(const struct crl *crl, const br_x509_pkey *pk)
{
	struct der in = { crl->der, crl->der_len }, list, tbs, tbs_whole, alg, sig;

	return der_expect(&in, 0x30, &list, NULL)
	    && der_expect(&list, 0x30, &tbs, &tbs_whole)
	    && der_expect(&list, 0x30, &alg, NULL) && der_expect(&list, 0x03, &sig, NULL)
	    && signature_valid(alg, tbs_whole, sig, pk);
}

/*
 * Verifies, once per key and generation, each CRL of `creds` that names
 * the intermediate `subject_hash` as its issuer with that intermediate's
 * key `pk` (`key_id`), and keeps the verdict in the CRL. A CRL's
 * signature verifies with one key at most, so when its verdicts are full
 * a negative one makes room.
 */
static void
verify_crls_with(struct tls_credentials *creds, const unsigned char subject_hash[32],
    const unsigned char key_id[32], const br_x509_pkey *pk)
{
	size_t i;
	unsigned j;

	for (i = 0; i < creds->crl_count; i++) {
		struct crl *c = &creds->crls[i];
		struct crl_verdict *slot = NULL;

		if (c->anchor >= 0 || memcmp(c->issuer_hash, subject_hash, 32) != 0)
			continue;
		for (j = 0; j < c->verdict_count; j++)
			if (memcmp(c->verdicts[j].key_id, key_id, 32) == 0)
				break;
		if (j < c->verdict_count)
			continue;
		if (c->verdict_count < TLS_CRL_VERDICTS)
			slot = &c->verdicts[c->verdict_count++];
		for (j = 0; !slot && j < c->verdict_count; j++)
			if (!c->verdicts[j].signed_by)
				slot = &c->verdicts[j];
		if (!slot)
			continue;
		memcpy(slot->key_id, key_id, 32);
		slot->signed_by = crl_signature_valid(c, pk);
	}
}

struct dn_hashes {
	br_sha256_context subject, key;
};

static void
dn_hashes_append(void *ctx, const void *buf, size_t len)
{
	struct dn_hashes *h = ctx;

	br_sha256_update(&h->subject, buf, len);
	br_sha256_update(&h->key, buf, len);
}

/*
 * For a chain that validated: what each certificate below the one a
 * pinned CA signed needs for the CRL of the intermediate that signed it
 * (id->below), from the intermediates kept in ee_der; the CRLs of those
 * intermediates verified with their keys. 0, or TLS_ERR_CA_UNREADABLE
 * when an intermediate was not kept or its key cannot be read (closed).
 */
static int
link_intermediates(struct client_verifier *v, const struct usage_verdict *leaf)
{
	static br_x509_decoder_context dc;
	struct client_identity *id = &v->identity;
	int n, top = id->trusted_at - 1;

	id->below_count = 0;
	if (top < 1 || top >= TLS_MAX_CLIENT_CHAIN)
		return 0;
	id->below[0].serial = id->serial;
	id->below[0].ca = leaf->is_ca;
	for (n = 1; n <= top; n++) {
		struct dn_hashes h;
		unsigned char subject_hash[32], key_id[32];
		const br_x509_pkey *pk;

		br_sha256_init(&h.subject);
		br_sha256_init(&h.key);
		br_x509_decoder_init(&dc, dn_hashes_append, &h);
		if (!v->ca_lost && v->ca_off[n] <= v->ee_cap
		    && v->ca_len[n] <= v->ee_cap - v->ca_off[n])
			br_x509_decoder_push(&dc, v->ee_der + v->ca_off[n], v->ca_len[n]);
		if (v->ca_lost || br_x509_decoder_last_error(&dc) != 0
		    || !(pk = br_x509_decoder_get_pkey(&dc))) {
			snprintf(v->reason, sizeof v->reason, "intermediate %d: its key "
			    "cannot be read for its CRL (the chain too large to keep "
			    "whole, or the key unreadable)", n);
			v->reason_error = TLS_ERR_CA_UNREADABLE;
			return TLS_ERR_CA_UNREADABLE;
		}
		br_sha256_out(&h.subject, subject_hash);
		key_id_finish(&h.key, pk, key_id);
		memcpy(id->below[n - 1].issuer_key_id, key_id, 32);
		verify_crls_with(v->creds, subject_hash, key_id, pk);
		if (current_creds && current_creds != v->creds)
			verify_crls_with(current_creds, subject_hash, key_id, pk);
		remember_ca_key(key_id, subject_hash, pk);
	}
	id->below_count = (unsigned char)top;
	return 0;
}

/* A new generation's CRLs of intermediates, verified with the keys seen so far. */
static void
verify_crls_with_known_keys(struct tls_credentials *creds)
{
	size_t i;

	for (i = 0; i < known_ca_key_count; i++)
		verify_crls_with(creds, known_ca_keys[i].subject_hash,
		    known_ca_keys[i].key_id, &known_ca_keys[i].pkey);
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
	br_x509_minimal_set_time(v->minimal, (uint32_t)(now / 86400 + 719528),
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
	v->identity.top_anchor = -1;
	v->cert_count = 0;
	v->ee_len = 0;
	v->ca_kept = 0;
	v->ca_lost = false;
	v->ca_error = 0;
	v->ca_not_after = INT64_MAX;
	v->reason[0] = '\0';
	v->reason_error = 0;
	memset(v->last_issuer_hash, 0, sizeof v->last_issuer_hash);
	br_sha256_init(&v->ee_hash);
	v->minimal->vtable->start_chain(&v->minimal->vtable, server_name);
}

static void
verifier_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct client_verifier *v = verifier_of(ctx);

	v->cur_len = 0;
	/*
	 * An intermediate is written after those kept; if it does not fit
	 * there, over them (they are lost for the CRLs of intermediates).
	 */
	v->cur_off = v->ee_len + v->ca_kept;
	if (v->cert_count >= 1 && (v->ee_len > v->ee_cap || v->cur_off > v->ee_cap
	    || length > v->ee_cap - v->cur_off)) {
		v->cur_off = v->ee_len;
		v->ca_lost = true;
	}
	/* Past the cap, stop feeding the validator: no CPU for long chains. */
	if (++v->cert_count <= TLS_MAX_CLIENT_CHAIN)
		v->minimal->vtable->start_cert(&v->minimal->vtable, length);
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
		/* An intermediate, up to the one a pinned CA signed. */
		if (v->cur_off <= v->ee_cap && v->cur_len + len <= v->ee_cap - v->cur_off)
			memcpy(v->ee_der + v->cur_off + v->cur_len, buf, len);
		v->cur_len += len;
	}
	v->minimal->vtable->append(&v->minimal->vtable, buf, len);
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
	const struct tls_config *cfg = v->creds->config;
	struct client_identity ca;
	struct usage_verdict usage;
	int n = (int)v->cert_count - 1, below = n - 1, err = 0;
	char rule[160];

	memset(&ca, 0, sizeof ca);
	if (v->cur_off > v->ee_cap || v->cur_len > v->ee_cap - v->cur_off
	    || !parse_certificate(v->ee_der + v->cur_off, v->cur_len, &ca, &usage)) {
		if (v->ca_error == 0)
			v->ca_error = TLS_ERR_CA_UNREADABLE;
		memset(v->last_issuer_hash, 0, sizeof v->last_issuer_hash);
		return;
	}
	if (usage.name_constraints && v->ca_error == 0)
		v->ca_error = TLS_ERR_NAME_CONSTRAINTS;
	/* OpenSSL's sslclient purpose and security level, for every CA but the anchor. */
	err = strength_error(cfg, &usage, rule, sizeof rule);
	if (err == 0 && usage.has_eku && !usage.eku_client_auth) {
		err = TLS_ERR_CA_EKU;
		snprintf(rule, sizeof rule, "extended key usage without clientAuth");
	} else if (err == 0 && usage.path_len >= 0 && usage.path_len < below) {
		/* BearSSL refuses this too, as "not a CA": say why. */
		err = TLS_ERR_PATH_LEN;
		snprintf(rule, sizeof rule, "pathLenConstraint %d, but %d intermediate(s) "
		    "below it", usage.path_len, below);
	}
	if (err != 0 && v->ca_error == 0) {
		v->ca_error = err;
		v->reason_error = err;
		snprintf(v->reason, sizeof v->reason, "intermediate %d (%s): %s", n,
		    ca.subject, rule);
	}
	if (ca.not_after < v->ca_not_after)
		v->ca_not_after = ca.not_after;
	memcpy(v->last_issuer_hash, ca.issuer_hash, 32);
	if (n < TLS_MAX_CLIENT_CHAIN && v->cur_off == v->ee_len + v->ca_kept) {
		v->ca_off[n] = v->cur_off;
		v->ca_len[n] = v->cur_len;
		v->ca_kept += v->cur_len;
	} else {
		v->ca_lost = true;
	}
	if (!top && n < TLS_MAX_CLIENT_CHAIN - 1) {
		v->identity.below[n].serial = ca.serial;
		v->identity.below[n].ca = true;
	}
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
	v->minimal->vtable->end_cert(&v->minimal->vtable);
	/*
	 * br_x509_minimal ends its work on the first certificate a pinned CA
	 * signed, and says so by setting its error to BR_ERR_X509_OK: that
	 * certificate's position is the chain length nginx's depth counts.
	 */
	if (v->identity.trusted_at != 0)
		return;
	if (v->minimal->err == BR_ERR_X509_OK)
		v->identity.trusted_at = (int)v->cert_count;
	if (v->cert_count > 1)
		inspect_intermediate(v, v->identity.trusted_at != 0);
	if (v->identity.trusted_at > 1 && v->identity.top_known) {
		v->identity.top_ca = true;      /* BearSSL took it as a CA */
		set_top_anchor(v, v->ee_der + v->cur_off, v->cur_len);
	}
}

/* mtlsd's checks on top of a chain BearSSL validated. */
static int
policy_error(struct client_verifier *v, const struct usage_verdict *usage)
{
	const struct tls_config *cfg = v->creds->config;
	char rule[160];
	int err, limit;

	if (usage->has_eku && !usage->eku_client_auth)
		return TLS_ERR_EKU;
	if (usage->has_key_usage && !usage->key_usage_signature)
		return TLS_ERR_KEY_USAGE;
	if (usage->has_ns_cert_type && !usage->ns_ssl_client) {
		snprintf(v->reason, sizeof v->reason, "client certificate (%s): Netscape "
		    "cert type without SSL client", v->identity.subject);
		return v->reason_error = TLS_ERR_NS_CERT_TYPE;
	}
	if ((err = strength_error(cfg, usage, rule, sizeof rule)) != 0) {
		snprintf(v->reason, sizeof v->reason, "client certificate (%s): %s",
		    v->identity.subject, rule);
		return v->reason_error = err;
	}
	if (v->identity.trusted_at - 1 > cfg->verify_depth)
		return TLS_ERR_DEPTH;
	/* BearSSL keeps no pathLenConstraint of a trust anchor. */
	if (v->identity.top_anchor >= 0
	    && (limit = v->creds->anchor_path_len[v->identity.top_anchor]) >= 0
	    && v->identity.trusted_at - 1 > limit) {
		snprintf(v->reason, sizeof v->reason, "pinned CA (%s): pathLenConstraint "
		    "%d, but %d intermediate(s) below it",
		    v->creds->anchor_names[v->identity.top_anchor], limit,
		    v->identity.trusted_at - 1);
		return v->reason_error = TLS_ERR_PATH_LEN;
	}
	if (v->ca_error != 0)
		return v->ca_error;
	if (cfg->crl_file_count > 0 && (err = link_intermediates(v, usage)) != 0)
		return err;
	if ((err = revocation_status(v->creds, &v->identity, (int64_t)time(NULL))) != 0)
		return err;
	/* In "on" mode the allowlists answer 403 per request instead. */
	if (cfg->mode == VERIFY_STRICT && !allowed_somewhere(v->creds, &v->identity))
		return TLS_ERR_NOT_ALLOWED;
	return 0;
}

/*
 * BearSSL refuses some of what the policy refuses too, in its own words
 * ("not a CA" for a pathLenConstraint, "unsupported" for MD5): when the
 * policy found that same reason, say it as the policy does.
 */
static int
bearssl_error_explained(struct client_verifier *v, int err, const struct usage_verdict *leaf)
{
	char rule[160];
	int own = leaf ? strength_error(v->creds->config, leaf, rule, sizeof rule) : 0;

	if (own != 0 && ((own == TLS_ERR_WEAK_KEY && err == BR_ERR_X509_WEAK_PUBLIC_KEY)
	    || (own == TLS_ERR_WEAK_SIGNATURE && err == BR_ERR_X509_UNSUPPORTED))) {
		snprintf(v->reason, sizeof v->reason, "client certificate (%s): %s",
		    v->identity.subject, rule);
		return v->reason_error = own;
	}
	if ((v->ca_error == TLS_ERR_WEAK_KEY && err == BR_ERR_X509_WEAK_PUBLIC_KEY)
	    || (v->ca_error == TLS_ERR_WEAK_SIGNATURE && err == BR_ERR_X509_UNSUPPORTED)
	    || (v->ca_error == TLS_ERR_PATH_LEN && err == BR_ERR_X509_NOT_CA))
		return v->ca_error;
	return err;
}

static unsigned
verifier_end_chain(const br_x509_class **ctx)
{
	struct client_verifier *v = verifier_of(ctx);
	struct client_identity *id = &v->identity;
	struct usage_verdict usage;
	int64_t now = (int64_t)time(NULL), until;
	const unsigned char *issuer;
	bool parsed = false;
	int err;

	id->certs_sent = (int)v->cert_count;
	br_sha256_out(&v->ee_hash, id->fingerprint);
	if (v->ee_len <= v->ee_cap)
		parsed = parse_certificate(v->ee_der, v->ee_len, id, &usage);
	if (parsed && id->trusted_at == 1) {
		id->top_known = true;
		id->top_ca = usage.is_ca;
		id->top_serial = id->serial;
		memcpy(id->top_issuer_hash, id->issuer_hash, 32);
		set_top_anchor(v, v->ee_der, v->ee_len);
	}
	if (v->cert_count > TLS_MAX_CLIENT_CHAIN)
		err = TLS_ERR_CHAIN_LENGTH;
	else if ((err = (int)v->minimal->vtable->end_chain(&v->minimal->vtable)) != 0)
		err = bearssl_error_explained(v, err, parsed ? &usage : NULL);
	else if (v->ee_len > v->ee_cap)
		err = TLS_ERR_TOO_LARGE;
	else if (!parsed)
		err = TLS_ERR_MALFORMED;
	else if (id->top_anchor < 0 && v->ca_error == 0)
		err = BR_ERR_X509_NOT_TRUSTED;  /* which pinned CA is unknown: fail closed */
	else if (id->top_anchor >= 0 && !anchor_valid_at(v->creds, (size_t)id->top_anchor, now))
		err = BR_ERR_X509_EXPIRED;      /* since the handshake began */
	else
		err = policy_error(v, &usage);
	issuer = v->cert_count > 1 ? v->last_issuer_hash : id->issuer_hash;
	if (err == BR_ERR_X509_NOT_TRUSTED && anchor_out_of_dates(v->creds, issuer, now) >= 0)
		err = BR_ERR_X509_EXPIRED;  /* as OpenSSL says of such a CA */
	else if (err == BR_ERR_X509_NOT_TRUSTED && view_has_name(v, issuer))
		err = TLS_ERR_CA_KEY_MISMATCH;
	if (err == 0) {
		id->valid_until = id->not_after < v->ca_not_after
		    ? id->not_after : v->ca_not_after;
		until = v->creds->anchor_not_after[id->top_anchor];
		if (until < id->valid_until)
			id->valid_until = until;
	}
	id->error = err;
	id->auth = err == 0 ? AUTH_VERIFIED : AUTH_REJECTED;
	if (err == 0 || err != v->reason_error)
		v->reason[0] = '\0';
	return (unsigned)err;
}

static const br_x509_pkey *
verifier_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct client_verifier *v = verifier_of((const br_x509_class **)ctx);

	if (v->identity.auth != AUTH_VERIFIED)
		return NULL;
	return v->minimal->vtable->get_pkey(&v->minimal->vtable, usages);
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
	v->view = valid_view(creds, (int64_t)time(NULL));
	creds->views[v->view].refs++;  /* until release_generation() */
	br_x509_minimal_init(v->minimal, &br_sha256_vtable,
	    creds->views[v->view].anchors, creds->views[v->view].count);
	for (i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
		br_x509_minimal_set_hash(v->minimal, hashes[i].id, hashes[i].impl);
	br_x509_minimal_set_rsa(v->minimal, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(v->minimal, br_ec_get_default(),
	    br_ecdsa_vrfy_asn1_get_default());
}

/* ---- the session cache: resumption carries the identity it was made with ---- */

/*
 * One cache for every process: tls_cache_init() maps it MAP_SHARED before
 * the supervisor forks, so a client resumes whichever worker the kernel
 * hands it to (nginx's ssl_session_cache shared:). Its size is fixed at
 * start-up, and entries are copied in and out under the lock: nothing is
 * allocated while serving, and nothing in an entry points into one
 * process's memory (struct client_identity holds only values; top_anchor
 * indexes the generation's anchors, the same in all its workers).
 *
 * The lock is a process-shared robust mutex rather than a seqlock: it is
 * held only for one entry's copy, and a worker that dies holding it
 * (killed, crashed) cannot block the others: the next locker gets
 * EOWNERDEAD, drops the one entry the dead process may have left half
 * written (busy), and marks the mutex consistent again. glibc and musl
 * (static) both have robust mutexes.
 *
 * Each reload is a new generation: tls_use() bumps the process's
 * generation and the shared one, and empties the cache. Workers forked
 * afterwards carry the new number; an old worker still finishing its
 * responses carries the old one, so it neither resumes nor stores a
 * session any more, and no new worker resumes one the old generation made
 * (its identity was checked against the old CAs).
 */
struct cache_entry {
	br_ssl_session_parameters params;
	int64_t expires;                /* monotonic seconds; 0 = free */
	uint64_t generation;            /* the tls_use() that made it */
	struct client_identity identity;
};

struct cache_shared {
	pthread_mutex_t lock;
	uint64_t generation;            /* the newest; entries of others are void */
	size_t busy;                    /* entry being written, or SIZE_MAX */
};
_Static_assert(sizeof(struct cache_shared) <= 4096, "the header fits a page");

static struct {
	const br_ssl_session_cache_class *vtable;
	struct cache_shared *shared;    /* NULL: no cache */
	struct cache_entry *entries;    /* in the same mapping, from its 2nd page on */
	size_t entries_bytes;
	size_t size;
	size_t bytes;                   /* of the mapping */
	long timeout;
	uint64_t generation;            /* this process's; inherited by workers */
} session_cache;

static void
cache_wipe(struct cache_entry *e)
{
	explicit_bzero(e, sizeof *e);
}

/*
 * False if the lock cannot be had: then this operation goes without the
 * cache. The wait is bounded: the lock is held only for one entry's copy,
 * so 50 ms means its holder died and the kernel did not say so (no robust
 * futex list, as under qemu-user); this process then stops using the
 * cache (no resumption) rather than ever stalling its poll loop again.
 */
static bool cache_lock_lost;       /* this process gave up on the lock */

static bool
cache_lock(void)
{
	struct cache_shared *c = session_cache.shared;
	struct timespec until;
	size_t busy;
	int rc;

	if (cache_lock_lost)
		return false;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 50 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	rc = pthread_mutex_timedlock(&c->lock, &until);
	if (rc == ETIMEDOUT) {
		cache_lock_lost = true;
		return false;
	}

	if (rc == EOWNERDEAD) {
		busy = __atomic_load_n(&c->busy, __ATOMIC_SEQ_CST);
		if (busy < session_cache.size)
			cache_wipe(&session_cache.entries[busy]);
		__atomic_store_n(&c->busy, SIZE_MAX, __ATOMIC_SEQ_CST);
		if (pthread_mutex_consistent(&c->lock) != 0) {
			/* Never expected; from now on no lock, so no resumption. */
			pthread_mutex_unlock(&c->lock);
			return false;
		}
		rc = 0;
	}
	return rc == 0;
}

static void
cache_unlock(void)
{
	pthread_mutex_unlock(&session_cache.shared->lock);
}

/* tls_use(): a new generation; the cache forgets every session. */
static void
cache_clear(void)
{
	struct cache_shared *c = session_cache.shared;
	size_t i;

	session_cache.generation++;
	if (!c || !cache_lock())
		return;
	c->generation = session_cache.generation;
	/*
	 * Freeing the pages forgets the sessions without making the whole
	 * cache resident; they read as zeros (free entries) from now on.
	 */
	if (madvise(session_cache.entries, session_cache.entries_bytes,
	    MADV_REMOVE) < 0)
		for (i = 0; i < session_cache.size; i++)
			if (session_cache.entries[i].expires != 0)
				cache_wipe(&session_cache.entries[i]);
	cache_unlock();
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
static size_t
cache_slot(const unsigned char *id, size_t id_len)
{
	uint32_t h = 0;
	size_t i;

	for (i = 0; i < id_len && i < 4; i++)
		h = (h << 8) | id[i];
	return h % session_cache.size;
}

/* Only a verified client's session is kept, and with its identity. */
static void
cache_save(const br_ssl_session_cache_class **ctx, br_ssl_server_context *server,
    const br_ssl_session_parameters *params)
{
	const struct client_verifier *v = &session_of(server)->verifier;
	struct cache_shared *c = session_cache.shared;
	struct cache_entry *e;
	size_t slot;

	(void)ctx;
	if (v->identity.auth != AUTH_VERIFIED || !c)
		return;
	/*
	 * A handshake that began before a reload was verified against the
	 * previous generation; the cache holds only the current one's.
	 */
	if (v->creds != current_creds)
		return;
	slot = cache_slot(params->session_id, params->session_id_len);
	if (!cache_lock())
		return;
	/* An old worker, after a reload: its generation is no longer cached. */
	if (c->generation == session_cache.generation) {
		e = &session_cache.entries[slot];
		__atomic_store_n(&c->busy, slot, __ATOMIC_SEQ_CST);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		e->params = *params;
		e->identity = v->identity;
		e->generation = session_cache.generation;
		e->expires = monotonic_seconds() + session_cache.timeout;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		__atomic_store_n(&c->busy, SIZE_MAX, __ATOMIC_SEQ_CST);
	}
	cache_unlock();
}

static int
cache_load(const br_ssl_session_cache_class **ctx, br_ssl_server_context *server,
    br_ssl_session_parameters *params)
{
	struct client_verifier *v = &session_of(server)->verifier;
	struct cache_shared *c = session_cache.shared;
	struct cache_entry *e;
	int found = 0;

	(void)ctx;
	if (!c || !cache_lock())
		return 0;
	e = &session_cache.entries[cache_slot(params->session_id, params->session_id_len)];
	if (e->expires == 0 || c->generation != session_cache.generation
	    || e->generation != session_cache.generation
	    || e->params.session_id_len != params->session_id_len
	    || memcmp(e->params.session_id, params->session_id,
	    params->session_id_len) != 0) {
		/* not this session */
	} else if (monotonic_seconds() >= e->expires) {
		/* Free first: even half wiped (its process killed), it stays unused. */
		__atomic_store_n(&e->expires, 0, __ATOMIC_SEQ_CST);
		cache_wipe(e);
	} else {
		*params = e->params;
		/* Not trusted yet: BearSSL may still decline and do a full handshake. */
		v->resume_offered = true;
		memcpy(v->resume_id, e->params.session_id, sizeof v->resume_id);
		*v->resume_identity = e->identity;
		found = 1;
	}
	cache_unlock();
	return found;
}

static const br_ssl_session_cache_class cache_class = {
	sizeof session_cache,
	cache_save,
	cache_load,
};

void
tls_cache_init(const struct tls_config *config)
{
	pthread_mutexattr_t attr;
	struct cache_shared *c;
	size_t bytes, page = (size_t)sysconf(_SC_PAGESIZE);
	int rc;

	session_cache.vtable = &cache_class;
	session_cache.size = config->session_cache_size;
	session_cache.timeout = config->session_timeout;
	if (session_cache.size == 0)
		return;
	/* The header alone in the first page: reloads free the entries' pages. */
	session_cache.entries_bytes = session_cache.size * sizeof(struct cache_entry);
	bytes = page + session_cache.entries_bytes;
	/* Pages stay unresident until a session first uses them. */
	c = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (c == MAP_FAILED) {
		fprintf(stderr, "mtlsd: --session-cache %zu: cannot map %zu bytes "
		    "of shared memory: %s\n", session_cache.size, bytes,
		    strerror(errno));
		exit(1);
	}
	if ((rc = pthread_mutexattr_init(&attr)) != 0
	    || (rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) != 0
	    || (rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) != 0
	    || (rc = pthread_mutex_init(&c->lock, &attr)) != 0) {
		fprintf(stderr, "mtlsd: --session-cache: cannot make a process-shared "
		    "robust lock: %s\n", strerror(rc));
		exit(1);
	}
	pthread_mutexattr_destroy(&attr);
	c->generation = session_cache.generation;
	c->busy = SIZE_MAX;
	session_cache.entries = (struct cache_entry *)(void *)((char *)c + page);
	session_cache.shared = c;
	session_cache.bytes = bytes;
}

size_t
tls_cache_bytes(size_t *entries, size_t *entry_bytes)
{
	*entries = session_cache.shared ? session_cache.size : 0;
	*entry_bytes = sizeof(struct cache_entry);
	return session_cache.bytes;
}

/* ---- sessions ---- */

void
tls_session_init(struct tls_session *s, struct tls_buffers *b)
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
	if (session_cache.shared)
		br_ssl_server_set_cache(&s->server, &session_cache.vtable);
	br_ssl_engine_set_buffers_bidi(eng, b->iobuf, BR_SSL_BUFSIZE_INPUT,
	    b->iobuf + BR_SSL_BUFSIZE_INPUT, BR_SSL_BUFSIZE_OUTPUT);
	s->verifier.minimal = &b->minimal;
	s->verifier.resume_identity = &b->resume_identity;
}

/*
 * BearSSL 0.6 (src/ssl/ssl_engine.c) keeps all its buffering state in the
 * engine's six registers; the buffers hold data only between them:
 *   input   ibuf[0, ixa) is a partly received header while ixa < 5, then
 *           ibuf[5, ixa) the record so far, then ibuf[ixa, ixb) decrypted
 *           data not yet read; make_ready_in() ends a record by setting
 *           ixa = ixb = 0, ixc = 5 (waiting for a header, none of it here).
 *   output  obuf[oxc, oxa) is plaintext given but not yet sealed while
 *           oxa != oxb; a sealed record being sent has oxa == oxb != oxc;
 *           make_ready_out() sets oxa = oxc < oxb (nothing at all).
 * br_ssl_engine_current_state() cannot tell these apart (RECVREC is also
 * set in the middle of a header), hence the registers. The handshake
 * coroutine's own state is in the engine too (its stacks, pad[]); hbuf_in
 * and hbuf_out are set again from the registers at each entry. Our stage
 * must be empty as well: its bytes are the next records. The chain check
 * (b->minimal) is set up again by verifier_bind() for each handshake, and
 * b->resume_identity is written by cache_load() before it is read (only
 * when resume_offered); BR_OPT_NO_RENEGOTIATION keeps a finished
 * handshake from starting another.
 */
bool
tls_session_quiet(const struct tls_session *s)
{
	const br_ssl_engine_context *eng = &s->server.eng;
	unsigned state = br_ssl_engine_current_state(eng);

	return !(state & BR_SSL_CLOSED) && (state & BR_SSL_SENDAPP)
	    && s->stage_len == 0 && s->verifier.creds == NULL
	    && eng->ixa == 0 && eng->ixb == 0 && eng->ixc == 5
	    && eng->oxa == eng->oxc && eng->oxa < eng->oxb;
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
	v->identity.top_anchor = -1;
	v->reason[0] = '\0';
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
		v->creds->views[v->view].refs--;
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
			v->identity = *v->resume_identity;
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
tls_session_send_refusal(const struct tls_session *s, int fd, enum verdict v)
{
	enum { HANDSHAKE_FAILURE = 40, BAD_CERTIFICATE = 42,
		UNSUPPORTED_CERTIFICATE = 43, CERTIFICATE_REVOKED = 44,
		CERTIFICATE_EXPIRED = 45, UNKNOWN_CA = 48, ACCESS_DENIED = 49 };
	unsigned char alert[7] = { 21, 3, 3, 0, 2, 2, BAD_CERTIFICATE };

	const struct client_identity *id = &s->verifier.identity;

	if (v == V_ALLOW)
		return;
	if (v == V_NO_CERT)
		alert[6] = HANDSHAKE_FAILURE;
	else if (v == V_FORBIDDEN)
		alert[6] = ACCESS_DENIED;
	else if (id->error == BR_ERR_X509_EXPIRED)
		alert[6] = CERTIFICATE_EXPIRED;
	else if (id->error == BR_ERR_X509_NOT_TRUSTED
	    || id->error == TLS_ERR_CA_KEY_MISMATCH)
		alert[6] = UNKNOWN_CA;
	else if (id->error == TLS_ERR_REVOKED || id->error == TLS_ERR_CA_REVOKED)
		alert[6] = CERTIFICATE_REVOKED;
	else if (id->error == TLS_ERR_EKU || id->error == TLS_ERR_KEY_USAGE
	    || id->error == TLS_ERR_CA_EKU || id->error == TLS_ERR_NS_CERT_TYPE)
		alert[6] = UNSUPPORTED_CERTIFICATE;     /* OpenSSL: invalid purpose */
	if (send(fd, alert, sizeof alert, MSG_NOSIGNAL) < 0) {
		/* The client is gone; nothing to tell. */
	}
}

const struct client_identity *
tls_session_identity(const struct tls_session *s)
{
	return &s->verifier.identity;
}

bool
tls_session_resumed(const struct tls_session *s)
{
	/* Only verified sessions are cached; a full handshake counts certificates. */
	return s->verifier.identity.auth == AUTH_VERIFIED && s->verifier.cert_count == 0;
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
	case TLS_ERR_CA_KEY_MISMATCH:
		return "certificate not trusted: its issuer's name matches a pinned "
		    "CA, but that CA's key did not sign it (a CA re-keyed under "
		    "the same name?)";
	case TLS_ERR_CRL_NOT_YET_VALID:
		return "CRL is not yet valid (thisUpdate in the future)";
	case TLS_ERR_CRL_MISSING:
		return "no CRL from the certificate's issuer (with --crl, every "
		    "certificate of the chain needs one)";
	case TLS_ERR_CRL_EXPIRED:
		return "CRL has expired (nextUpdate passed)";
	case TLS_ERR_NOT_ALLOWED:
		return "certificate not in --allow-cn / --allow-ou / --allow-dns / "
		    "--allow-uri / --allow-fingerprint";
	case TLS_ERR_PATH_NOT_ALLOWED:
		return "certificate not allowed by the --allow-file rules of this path";
	case TLS_ERR_CN_NOT_PLAIN:
		return "--root-per-client: the certificate's CN is not a plain name "
		    "(empty, over 64 bytes, '/', a leading '.' or a control character)";
	case TLS_ERR_WEAK_KEY:
		return "an RSA key of the chain is too small for --security-level";
	case TLS_ERR_WEAK_SIGNATURE:
		return "a certificate of the chain is signed with a weak hash (MD5, or "
		    "SHA-1 at --security-level 2)";
	case TLS_ERR_CA_EKU:
		return "an intermediate CA's extended key usage does not include clientAuth";
	case TLS_ERR_NS_CERT_TYPE:
		return "Netscape cert type does not include SSL client";
	case TLS_ERR_PATH_LEN:
		return "more intermediates than a CA's pathLenConstraint allows";
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
	static char text[768];
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
	    "(subject \"%s\", serial %s)", s->verifier.reason[0] ? s->verifier.reason
	    : tls_error_text(id->error),
	    id->subject[0] ? id->subject : "?", serial[0] ? serial : "?");
	return text;
}

/* The checks a request repeats on its chain: a reload may have changed them. */
static int
recheck_chain(const struct client_identity *id)
{
	int64_t now = (int64_t)time(NULL);

	/* A keep-alive connection or a resumed session outliving its chain. */
	if (now > id->valid_until)
		return BR_ERR_X509_EXPIRED;
	/* Its CA removed by a reload: by key, a same-named new CA is not it. */
	if (!anchor_still_pinned(current_creds, id, now))
		return BR_ERR_X509_NOT_TRUSTED;
	return revocation_status(current_creds, id, now);
}

bool
tls_rules_per_path(void)
{
	return current_creds && current_creds->path_rule_count > 0;
}

enum verdict
tls_access_check(const struct client_identity *id, const char *path,
    size_t path_len, struct tls_access *access, int *why)
{
	const struct path_rule *decided = NULL;

	access->kind = ALLOW_NOTHING;
	access->value = NULL;
	*why = id->auth == AUTH_VERIFIED ? recheck_chain(id) : id->error;
	if (id->auth == AUTH_NOT_SENT)
		return V_NO_CERT;
	if (*why == TLS_ERR_NOT_ALLOWED)        /* strict mode's, in the handshake */
		return V_FORBIDDEN;
	if (id->auth != AUTH_VERIFIED || *why != 0)
		return V_BAD_CERT;
	if (!allowed_for_path(current_creds, id, path, path_len, access, &decided))
		*why = decided ? TLS_ERR_PATH_NOT_ALLOWED : TLS_ERR_NOT_ALLOWED;
	else if (current_creds->config->root_per_client && !tls_cn_is_plain(id))
		*why = TLS_ERR_CN_NOT_PLAIN;
	else
		return V_ALLOW;
	access->kind = ALLOW_NOTHING;
	access->value = NULL;
	return *why == TLS_ERR_PATH_NOT_ALLOWED ? V_FORBIDDEN_HERE : V_FORBIDDEN;
}

void
tls_access_text(const struct client_identity *id, const struct tls_access *access,
    char *out, size_t out_len)
{
	size_t i, o;

	switch (access->kind) {
	case ALLOW_CN:
	case ALLOW_OU:
	case ALLOW_DNS:
	case ALLOW_URI:
		snprintf(out, out_len, "%s=%s", rule_word(access->kind),
		    access->value ? access->value : "");
		break;
	case ALLOW_FINGERPRINT:
		o = (size_t)snprintf(out, out_len, "sha256=");
		for (i = 0; i < 32 && o + 2 < out_len; i++, o += 2)
			snprintf(out + o, out_len - o, "%02X", id->fingerprint[i]);
		break;
	case ALLOW_ANY:
		snprintf(out, out_len, "any");
		break;
	default:
		snprintf(out, out_len, "-");
		break;
	}
}

/* ---- --check-cert: the same checks, offline, step by step ---- */

static void
print_fingerprint(FILE *out, const char *label, const unsigned char fp[32])
{
	size_t i;

	fprintf(out, "%s", label);
	for (i = 0; i < 32; i++)
		fprintf(out, "%02X%s", fp[i], i < 31 ? ":" : "\n");
}

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

/* The rule that allows the certificate, or why none does; then each --allow-file prefix. */
static void
print_allow_rules(const struct tls_credentials *creds, const struct client_identity *id,
    FILE *out)
{
	static const char *const kinds[] = { [ALLOW_OU] = "OU", [ALLOW_DNS] = "DNS",
		[ALLOW_URI] = "URI" };
	const struct tls_config *cfg = creds->config;
	struct tls_access a;
	char text[400];
	size_t off, i, j;

	if (id->trusted_at > 0) {
		fprintf(out, "names:       CN %s%s", id->cn, id->cn_ok ? ""
		    : " (cannot match: several CNs, control characters, too long or "
		    "not a UTF-8 string)");
		for (off = 0; off < id->names_len; off += strlen(id->names + off + 1) + 2)
			fprintf(out, ", %s %s", kinds[(unsigned char)id->names[off]],
			    id->names + off + 1);
		fprintf(out, "%s\n", id->names_ok ? "" : " (OUs and SANs cannot match: "
		    "more than 16 or 318 bytes of them, or one not plain text)");
	}
	if (!global_rules_given(creds))
		fprintf(out, "allowlist: none given%s\n", creds->path_rule_count
		    ? " (paths without an --allow-file prefix: every verified client)" : "");
	else if (id->trusted_at == 0)
		fprintf(out, "allowlist: not checked (the chain did not validate)\n");
	else if (allowed_globally(creds, id, &a)) {
		tls_access_text(id, &a, text, sizeof text);
		fprintf(out, "allowlist: allowed by --allow-%s (%s)\n", a.kind
		    == ALLOW_FINGERPRINT ? "fingerprint" : rule_word(a.kind), text);
	} else {
		fprintf(out, "allowlist: refused: no --allow-cn, --allow-ou, --allow-dns, "
		    "--allow-uri or --allow-fingerprint matches (%d rule(s))\n",
		    (int)(cfg->allow_cn_count + cfg->allow_ou_count + cfg->allow_dns_count
		    + cfg->allow_uri_count + creds->allow_fingerprint_count));
	}
	if (creds->path_rule_count == 0 || id->trusted_at == 0)
		return;
	for (i = 0; i < creds->path_rule_count; i++) {
		const struct path_rule *r = &creds->path_rules[i], *decided;

		for (j = 0; j < i; j++)
			if (strcmp(creds->path_rules[j].prefix, r->prefix) == 0)
				break;
		if (j < i)
			continue;       /* that prefix is listed already */
		if (allowed_for_path(creds, id, r->prefix, r->prefix_len, &a, &decided)) {
			tls_access_text(id, &a, text, sizeof text);
			fprintf(out, "allow-file: %s: allowed (%s)\n", r->prefix, text);
		} else {
			fprintf(out, "allow-file: %s: refused\n", r->prefix);
		}
	}
}

/*
 * Each certificate below the one a pinned CA signed, against the CRL of
 * the intermediate that signed it, as revocation_status sees them.
 */
static void
print_intermediate_crls(const struct client_verifier *v, int64_t now, FILE *out)
{
	const struct client_identity *id = &v->identity;
	struct client_identity ca;
	struct usage_verdict usage;
	const struct crl *crl;
	const char *verdict;
	char serial[48];
	int k;

	for (k = 0; k < id->trusted_at - 1; k++) {
		memset(&ca, 0, sizeof ca);
		if (v->ca_lost || !parse_certificate(v->ee_der + v->ca_off[k + 1],
		    v->ca_len[k + 1], &ca, &usage))
			snprintf(ca.subject, sizeof ca.subject, "?");
		if (k >= id->below_count) {
			fprintf(out, "revocation: %s %d: not checked (the chain failed "
			    "before)\n", k == 0 ? "client certificate" : "intermediate", k);
			continue;
		}
		crl = crl_for(v->creds, id->below[k].issuer_key_id, id->below[k].ca, now);
		verdict = !crl ? "no CRL signed with its key covers it"
		    : now < crl->this_update ? "its CRL is not yet valid"
		    : crl->next_update != 0 && now > crl->next_update ? "its CRL has expired"
		    : crl_lists(crl, &id->below[k].serial) ? "revoked" : "not revoked";
		tls_serial_hex(&id->below[k].serial, serial, sizeof serial);
		if (k == 0)
			fprintf(out, "revocation: client certificate (serial %s), by the "
			    "CRL of intermediate 1 (%s): %s%s%s\n", serial, ca.subject,
			    verdict, crl ? ", " : "", crl ? crl->path : "");
		else
			fprintf(out, "revocation: intermediate %d (serial %s), by the CRL "
			    "of intermediate %d (%s): %s%s%s\n", k, serial, k + 1,
			    ca.subject, verdict, crl ? ", " : "", crl ? crl->path : "");
	}
}

int
tls_check_chain(const struct tls_credentials *creds, const char *chain_file, FILE *out)
{
	static unsigned char scratch[16384];
	static br_x509_minimal_context minimal;
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
	for (i = 0; i < creds->anchor_count; i++) {
		int64_t nb = creds->anchor_not_before[i], na = creds->anchor_not_after[i];

		fprintf(out, "pinned CA %zu: %s\n", i + 1, creds->anchor_names[i]);
		print_fingerprint(out, "  sha256:      ", creds->anchor_fingerprint[i]);
		print_time(out, "  valid:       ", nb);
		print_time(out, " to ", na);
		fprintf(out, "%s\n", now < nb ? " (not yet valid)" : now > na
		    ? " (expired)" : "");
	}
	memset(&v, 0, sizeof v);
	v.minimal = &minimal;
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
	print_fingerprint(out, "\n  sha256:      ", id->fingerprint);
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
		if (id->top_anchor >= 0)
			fprintf(out, "  signed by:   pinned CA %d, %s\n", id->top_anchor + 1,
			    creds->anchor_names[id->top_anchor]);
	} else if (err == TLS_ERR_CA_KEY_MISMATCH) {
		fprintf(out, "trust: not trusted: issuer %s matches a pinned CA by "
		    "name, but that CA's key did not sign the certificate (a CA "
		    "re-keyed under the same name? pin its new certificate)\n",
		    certs > 1 ? "of the last intermediate" : id->issuer);
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
	if (creds->crl_count > 0 && id->trusted_at > 1)
		print_intermediate_crls(&v, now, out);
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
			if (id->top_anchor >= 0 && !covering_crl(creds, id, now))
				fprintf(out, "revocation: no CRL signed with the key of "
				    "pinned CA %d covers the %s certificate it signed\n",
				    id->top_anchor + 1, id->top_ca ? "CA" : "end-entity");
			else if (id->trusted_at > 1 || id->top_anchor < 0)
				fprintf(out, "revocation: no CRL from the issuer of a "
				    "certificate of the chain\n");
			else
				fprintf(out, "revocation: no CRL signed with the key of "
				    "pinned CA %d covers that CA's own certificate (nginx "
				    "checks it too)\n", id->top_anchor + 1);
			break;
		default:
			fprintf(out, "revocation: %s\n", tls_error_text(rev));
			break;
		}
	print_allow_rules(creds, id, out);
	if (err == 0 && cfg->mode == VERIFY_ON && !allowed_somewhere(creds, id))
		err = TLS_ERR_NOT_ALLOWED;
	if (cfg->root_per_client && id->trusted_at > 0) {
		if (tls_cn_is_plain(id))
			fprintf(out, "root-per-client: served from ROOT/%s/\n", id->cn);
		else
			fprintf(out, "root-per-client: refused: the CN is not a plain name\n");
	}
	if (err == 0 && cfg->root_per_client && !tls_cn_is_plain(id))
		err = TLS_ERR_CN_NOT_PLAIN;
	if (err == 0)
		fprintf(out, "result: accepted\n");
	else
		fprintf(out, "result: refused: %s\n", v.reason[0] && (int)err == id->error
		    ? v.reason : tls_error_text((int)err));
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
