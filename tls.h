/*
 * tls.h - BearSSL glue: credentials loaded at start-up, one TLS session per
 * connection slot, and the record of who the client proved to be.
 *
 * Only tls.c touches BearSSL's engine and its record buffers; server.c owns
 * the sockets and asks this module which poll events a session waits for.
 */
#ifndef MTLSD_TLS_H
#define MTLSD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <bearssl.h>

enum verify_mode {
	VERIFY_ON,      /* finish the handshake, answer nginx's 400 page */
	VERIFY_STRICT,  /* refuse the handshake */
};

/* Most certificates a client may send in its chain. */
#define TLS_MAX_CLIENT_CHAIN 8
#define TLS_MAX_CRL_FILES 16
#define TLS_MAX_ALLOW 64

/*
 * The subject OUs and dNSName and URI SANs kept from a client certificate:
 * at most TLS_ID_NAMES_MAX names in TLS_ID_NAMES_BYTES bytes (each name
 * takes its length plus 2). A certificate with more, or with one that is
 * not plain text, matches no --allow-ou/-dns/-uri rule (names_ok false).
 */
#define TLS_ID_NAMES_MAX 16
#define TLS_ID_NAMES_BYTES 320

/* What an allow rule matches (and what names[] entries are). */
enum allow_kind {
	ALLOW_NOTHING = 0,   /* refused; or, in names[], never used */
	ALLOW_CN,
	ALLOW_OU,
	ALLOW_DNS,           /* compared case-insensitively */
	ALLOW_URI,
	ALLOW_FINGERPRINT,
	ALLOW_ANY,           /* --allow-file "any": every verified client */
	ALLOW_NONE,          /* --allow-file "none": no client */
	ALLOW_UNRULED,       /* no rule applies: every verified client */
};

/* mtlsd's own reasons to refuse a chain BearSSL accepted (BR_ERR_X509_* otherwise). */
enum {
	TLS_ERR_EKU = 1024,        /* EKU present without clientAuth */
	TLS_ERR_KEY_USAGE,         /* KeyUsage present without digitalSignature */
	TLS_ERR_DEPTH,             /* more intermediates than --verify-depth */
	TLS_ERR_CHAIN_LENGTH,      /* more than TLS_MAX_CLIENT_CHAIN certificates */
	TLS_ERR_TOO_LARGE,         /* end-entity certificate too large to inspect */
	TLS_ERR_MALFORMED,         /* end-entity certificate not parsable */
	TLS_ERR_REVOKED,           /* serial listed in the issuer's CRL */
	TLS_ERR_CRL_EXPIRED,       /* the issuer's CRL is past its nextUpdate */
	TLS_ERR_NOT_ALLOWED,       /* outside --allow-cn / --allow-fingerprint */
	TLS_ERR_CA_REVOKED,        /* an intermediate CA listed in its issuer's CRL */
	TLS_ERR_CRL_MISSING,       /* CRLs are given, but none from this issuer */
	TLS_ERR_CRL_NOT_YET_VALID, /* the issuer's CRL starts in the future */
	TLS_ERR_NAME_CONSTRAINTS,  /* a CA of the chain has name constraints */
	TLS_ERR_CA_UNREADABLE,     /* an intermediate CA too large or odd to inspect */
	TLS_ERR_CA_KEY_MISMATCH,   /* the issuer's name is pinned, but not its key */
	TLS_ERR_WEAK_KEY,          /* an RSA key below --security-level's minimum */
	TLS_ERR_WEAK_SIGNATURE,    /* signed with MD5, or SHA-1 at level 2 */
	TLS_ERR_CA_EKU,            /* an intermediate's EKU present without clientAuth */
	TLS_ERR_NS_CERT_TYPE,      /* Netscape cert type present without SSL client */
	TLS_ERR_PATH_LEN,          /* more intermediates than a pathLenConstraint allows */
	TLS_ERR_PATH_NOT_ALLOWED,  /* outside the --allow-file rules of the path */
	TLS_ERR_CN_NOT_PLAIN,      /* --root-per-client, but the CN is no plain name */
};

/* --security-level: OpenSSL's levels 1 and 2 for client chains (see tls_load). */
#define TLS_SECURITY_LEVEL_MIN 1
#define TLS_SECURITY_LEVEL_MAX 2

/* What is named on the command line; read again on every reload. */
struct tls_config {
	const char *cert_file, *key_file, *ca_file;
	const char *crl_files[TLS_MAX_CRL_FILES];
	size_t crl_file_count;
	const char *allow_cn[TLS_MAX_ALLOW];
	size_t allow_cn_count;
	const char *allow_fingerprint[TLS_MAX_ALLOW];   /* SHA-256, hex */
	size_t allow_fingerprint_count;
	const char *allow_ou[TLS_MAX_ALLOW];
	size_t allow_ou_count;
	const char *allow_dns[TLS_MAX_ALLOW];
	size_t allow_dns_count;
	const char *allow_uri[TLS_MAX_ALLOW];
	size_t allow_uri_count;
	const char *allow_file;        /* per-path rules; NULL if none */
	bool root_per_client;          /* serve ROOT/<CN>/: the CN must be a plain name */
	enum verify_mode mode;
	int verify_depth;              /* intermediates allowed, as nginx */
	/*
	 * 2 (OpenSSL's default): RSA keys of 2048 bits or more, no SHA-1
	 * signature below the pinned CA. 1: RSA from 1024 bits, SHA-1 allowed.
	 * MD5 and RSA below 1024 bits are refused at every level.
	 */
	int security_level;
	size_t session_cache_size;     /* entries; 0 disables resumption */
	long session_timeout;          /* seconds */
};

struct serial {
	unsigned char len;
	unsigned char bytes[20];       /* big-endian, no leading zero */
};

/* What a CRL covers (RFC 5280 issuingDistributionPoint); 0: nothing. */
enum {
	CRL_SCOPE_EE = 1,               /* end-entity certificates */
	CRL_SCOPE_CA = 2,               /* CA certificates */
};

/*
 * Intermediate CA keys whose signature verdict one CRL keeps: a CRL not from
 * a pinned CA is verified at most once per such key (and generation).
 */
#define TLS_CRL_VERDICTS 8

struct crl_verdict {
	unsigned char key_id[32];      /* the intermediate: see anchor_key_id in tls.c */
	bool signed_by;                /* the CRL's signature verifies with its key */
};

/*
 * One CRL (never a delta or an indirect one: those are refused at load).
 * From a pinned CA, it is verified against that CA's key at load and
 * applies only to certificates that key signed (anchor_id). From any other
 * issuer (anchor -1), it is kept with its signature (der) and verified
 * against an intermediate's key only once a validated chain shows one of
 * that name (verdicts); it applies only to certificates of such a chain
 * that key signed. Either way, only to those its scope covers.
 */
struct crl {
	unsigned char issuer_hash[32]; /* SHA-256 of the issuer Name's DER */
	unsigned char anchor_id[32];   /* the signing CA: see anchor_key_id in tls.c */
	int anchor;                    /* that CA's index in creds->anchors; -1: none */
	unsigned char *der;            /* anchor -1: the whole CRL, to verify later */
	size_t der_len;
	struct crl_verdict verdicts[TLS_CRL_VERDICTS];
	unsigned verdict_count;
	char issuer[160];
	const char *path;              /* the --crl file, for messages */
	unsigned scope;                /* CRL_SCOPE_*; 0 with scope_note saying why */
	const char *scope_note;
	int64_t this_update, next_update;   /* Unix time; next_update 0 if absent */
	struct serial *revoked;        /* sorted (serial_compare), for a binary search */
	size_t revoked_count;
};

/*
 * The pinned CAs valid over [from, until), as an array BearSSL is given.
 * A handshake's br_x509_minimal keeps a pointer into `anchors` until the
 * handshake ends, so a view is never rewritten while refs > 0.
 */
struct anchor_view {
	br_x509_trust_anchor *anchors;
	size_t *index;                  /* anchors[j] is creds->anchors[index[j]] */
	size_t count;
	int64_t from, until;            /* until 0: never filled */
	unsigned refs;                  /* handshakes bound to this view */
};

/*
 * One generation of everything loaded from files. tls_load() makes a new
 * one at start-up and on each reload; handshakes in progress keep the one
 * they started with (refs), requests are checked against the current one.
 */
struct tls_credentials {
	br_x509_certificate *chain;     /* server chain, leaf first */
	size_t chain_len;
	int key_type;                   /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	br_skey_decoder_context key;    /* owns the private key's bytes */
	unsigned issuer_key_type;       /* key type that signed the leaf */
	br_x509_trust_anchor *anchors;  /* the pinned client CAs */
	size_t anchor_count;
	char (*anchor_names)[160];      /* their subjects, for messages */
	int64_t *anchor_not_before, *anchor_not_after;
	unsigned char (*anchor_dn_hash)[32];  /* SHA-256 of each subject's DER */
	unsigned char (*anchor_fingerprint)[32];  /* SHA-256 of each CA certificate */
	unsigned char (*anchor_key_id)[32];   /* subject and key: see anchor_key_id */
	struct serial *anchor_serial;   /* each CA certificate's own serial */
	bool *anchor_ca;                /* its basicConstraints cA: which CRLs cover it */
	int *anchor_path_len;           /* pathLenConstraint; -1 if none */
	/*
	 * BearSSL never looks at a trust anchor's dates; OpenSSL refuses a
	 * chain whose CA has expired or is not yet valid. So handshakes see
	 * only the anchors valid now: views[view_cur], remade (in whichever
	 * view no handshake uses) when the clock leaves [from, until).
	 */
	struct anchor_view views[2];
	unsigned view_cur;
	struct crl *crls;
	size_t crl_count;
	unsigned char (*allow_fingerprints)[32];
	size_t allow_fingerprint_count;
	/* --allow-file's rules, in file order; path_rule_text owns their strings. */
	struct path_rule *path_rules;
	size_t path_rule_count;
	char *path_rule_text;
	const struct tls_config *config;
	unsigned refs;                  /* handshakes using this generation */
};

/* One --allow-file line: clients it allows under a path prefix. */
struct path_rule {
	const char *prefix;            /* starts with '/' */
	size_t prefix_len;
	enum allow_kind kind;
	const char *value;             /* NULL for any and none */
	unsigned char fingerprint[32]; /* for ALLOW_FINGERPRINT */
	unsigned line;
};

/* What the client's certificate showed during the handshake. */
enum client_auth {
	AUTH_NOT_SENT,    /* empty Certificate message: no chain at all */
	AUTH_REJECTED,    /* a chain was sent and failed validation */
	AUTH_VERIFIED,    /* the chain validated against a pinned CA */
};

/*
 * Who the client is. Filled during the handshake (or restored from the
 * session cache), reset for every connection. The certificate fields are
 * filled whenever a chain was sent, so that refusals can be logged; they
 * mean something only when auth is AUTH_VERIFIED.
 */
struct client_identity {
	enum client_auth auth;
	int error;                      /* BR_ERR_X509_* or TLS_ERR_* when rejected */
	char subject[160];              /* RFC 4514, as nginx's $ssl_client_s_dn */
	char issuer[160];
	char cn[65];                    /* controls as \XX; may be cut short */
	bool cn_ok;                     /* cn is the only CN, whole, as sent: --allow-cn may match */
	/*
	 * The subject's OUs, then the dNSName and URI SANs, each stored as a
	 * kind byte (ALLOW_OU, ALLOW_DNS, ALLOW_URI), its text and a NUL.
	 * names_ok is false when one did not fit or was not plain text: then
	 * the names never match a rule (fail closed).
	 */
	bool names_ok;
	unsigned char names_count;
	unsigned short names_len;
	char names[TLS_ID_NAMES_BYTES];
	struct serial serial;
	unsigned char issuer_hash[32];
	unsigned char fingerprint[32];  /* SHA-256 of the certificate's DER */
	int64_t not_before, not_after;
	int64_t valid_until;            /* the chain's first notAfter, pinned CA included */
	int certs_sent;
	int trusted_at;                 /* certificates up to the one a pinned CA signed */
	/*
	 * The certificate a pinned CA signed: the client's own when trusted_at
	 * is 1, else the topmost intermediate: a pinned CA's CRL covers it
	 * (those below, see below[]). top_known is false if it could not be read.
	 */
	bool top_known;
	bool top_ca;                    /* it is a CA certificate (basicConstraints cA) */
	struct serial top_serial;
	unsigned char top_issuer_hash[32];
	/*
	 * The pinned CA whose key signed that certificate: its index in the
	 * handshake's generation's anchors (-1 when unknown), and its
	 * anchor_key_id, which names it in any generation (CRLs are tied to it).
	 */
	int top_anchor;
	unsigned char top_anchor_id[32];
	/*
	 * The certificates below the one a pinned CA signed, client's own
	 * first (trusted_at - 1 of them when below_count says so): what the
	 * CRL of the intermediate that signed each needs, so that a request
	 * can be rechecked against another generation's CRLs without the
	 * chain. Filled only once the chain validated.
	 */
	unsigned char below_count;
	struct chain_link {
		struct serial serial;
		bool ca;                        /* which CRL scope covers it */
		unsigned char issuer_key_id[32];  /* the intermediate that signed it */
	} below[TLS_MAX_CLIENT_CHAIN - 1];
};

/*
 * Wraps br_x509_minimal so that the validation outcome is recorded for the
 * connection that produced it. The minimal engine's own fields (names, key)
 * are filled before validation ends and are not evidence of anything; only
 * `identity.auth` is.
 */
struct client_verifier {
	const br_x509_class *vtable;
	br_x509_minimal_context *minimal;   /* in the slot's struct tls_buffers */
	struct tls_credentials *creds;  /* the generation this handshake uses */
	unsigned view;                  /* and which of its anchor views */
	unsigned char *ee_der;          /* scratch for the client certificate */
	size_t ee_cap, ee_len;
	size_t cur_len;                 /* an intermediate, kept after it in ee_der */
	size_t cur_off;                 /* where in ee_der that one is written */
	/*
	 * The intermediates up to the one a pinned CA signed stay in ee_der,
	 * after the client's certificate (ca_off/ca_len, in chain order), for
	 * the CRLs of intermediates; ca_lost when one did not fit.
	 */
	size_t ca_kept;
	size_t ca_off[TLS_MAX_CLIENT_CHAIN], ca_len[TLS_MAX_CLIENT_CHAIN];
	bool ca_lost;
	int ca_error;                   /* TLS_ERR_* an intermediate CA showed, or 0 */
	int64_t ca_not_after;           /* the intermediates' first notAfter */
	/*
	 * For mtlsd's own refusals: which certificate, which rule, in one line;
	 * empty unless it explains identity.error (it is reason_error).
	 */
	char reason[352];
	int reason_error;
	unsigned char last_issuer_hash[32];  /* the last intermediate's issuer */
	br_sha256_context ee_hash;
	unsigned cert_count;
	struct client_identity identity;
	/* A session the cache offered; it counts only if the handshake resumed it. */
	bool resume_offered;
	unsigned char resume_id[32];
	struct client_identity *resume_identity;   /* in the slot's struct tls_buffers */
};

struct tls_session {
	br_ssl_server_context server;   /* first: the cache finds the session from it */
	bool read_blocked;              /* the socket was drained since the last POLLIN */
	bool write_blocked;             /* send() said EAGAIN since the last POLLOUT */
	bool received, sent;            /* any bytes from the client, to it */
	/*
	 * BearSSL asks for a record's 5-byte header and its body separately;
	 * reading into this stage first takes a whole small record, or several,
	 * in one recv().
	 */
	unsigned short stage_off, stage_len;
	unsigned char stage[512];
	struct client_verifier verifier;
};

/*
 * What a session needs only while records or a handshake are in flight,
 * kept apart from struct tls_session so that the caller can place it in
 * pages of its own and give those back while the connection is idle (see
 * tls_session_quiet()): BearSSL's record buffers, input then output, and
 * the certificate chain check and the identity of a session offered for
 * resumption, which only a handshake uses.
 */
struct tls_buffers {
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	br_x509_minimal_context minimal;
	struct client_identity resume_identity;
};

/* Result of moving records between a socket and the engine. */
enum tls_io {
	TLS_IO_OPEN,       /* still usable; poll for tls_poll_events() */
	TLS_IO_CLOSED,     /* the engine or the socket is finished */
};

/*
 * Loads a generation: the server chain and key (which must match), the
 * pinned CAs, the CRLs (each verified against its CA) and the allowlists.
 * Returns NULL with one line in `why` naming the file and the problem.
 * Allocates; called at start-up and on reload only.
 */
struct tls_credentials *tls_load(const struct tls_config *config, char *why,
    size_t why_len);

/*
 * The memory the CRLs of `creds` hold, and how many revoked serials they
 * list (allocated at load, never while serving).
 */
size_t tls_crl_memory(const struct tls_credentials *creds, size_t *serials);

/* Frees a generation that was never given to tls_use(). */
void tls_free(struct tls_credentials *creds);

/*
 * Makes `creds` the generation new handshakes use, and empties the session
 * cache (its identities were checked against the previous one). The old
 * generation is freed once no handshake uses it.
 */
void tls_use(struct tls_credentials *creds);

/* The generation in use. */
const struct tls_credentials *tls_current(void);

/*
 * Maps the session cache (config->session_cache_size entries) in shared
 * memory, before any worker is forked: all processes then share it.
 */
void tls_cache_init(const struct tls_config *config);

/* The session cache's shared mapping: its bytes, its entries (0: none) and their size. */
size_t tls_cache_bytes(size_t *entries, size_t *entry_bytes);

/*
 * Writes warnings for certificates and CRLs expiring within `days`, for
 * CRLs that cover no certificate mtlsd can check, and for pinned CAs
 * without a CRL when CRLs are given (their clients are refused).
 */
void tls_warn_expiring(const struct tls_credentials *creds, int days,
    void (*warn)(const char *message));

/*
 * The server certificate's subject (RFC 4514) and notAfter, for --status;
 * false if it cannot be read.
 */
bool tls_server_certificate(const struct tls_credentials *creds, char *subject,
    size_t subject_len, int64_t *not_after);

/* Configures a slot's engine once, at start-up, with its buffers. */
void tls_session_init(struct tls_session *s, struct tls_buffers *b);

/*
 * True when the session's struct tls_buffers holds nothing that is still
 * needed: the handshake is over, no record is partly received, no
 * decrypted data is unread, no plaintext is waiting to be sealed and no
 * record is waiting to be sent. Its pages may then be discarded (read back
 * as zeros) until the next record.
 */
bool tls_session_quiet(const struct tls_session *s);

/*
 * Prepares the slot for a new connection: the current generation, a fresh
 * handshake, a fresh identity. `scratch` (at least 4 KiB, unused until the
 * handshake ends) holds the client certificate while it is inspected.
 */
void tls_session_start(struct tls_session *s, unsigned char *scratch, size_t scratch_len);

/*
 * Called once when the handshake has completed: settles a resumed session's
 * identity and releases the generation. Also call tls_session_end() when a
 * connection ends, whatever its state.
 */
void tls_session_handshake_finished(struct tls_session *s);
void tls_session_end(struct tls_session *s);

/*
 * Sends and receives records on the non-blocking socket `fd` until it would
 * block, reading at most a few records per call so one peer cannot hold the
 * caller; what is left is reported by poll() again.
 */
enum tls_io tls_session_pump(struct tls_session *s, int fd);

/* Tells the session what poll() reported, so the pump tries only what can work. */
void tls_session_ready(struct tls_session *s, short revents);

/* POLLIN and/or POLLOUT, as the engine's state asks. */
short tls_session_poll_events(const struct tls_session *s);

/*
 * True when the engine can neither take a record nor give one, nor has
 * data to read: nothing the client sends can move it again. BearSSL ends
 * up so after two ClientHello messages in one record after the handshake
 * (it answers the first with a no_renegotiation alert, never reads the
 * second, and the record's rest blocks the next one).
 */
bool tls_session_stalled(const struct tls_session *s);

bool tls_session_handshake_done(const struct tls_session *s);

/*
 * How far a handshake has got, for choosing which connection to give up
 * when every slot is taken: a client that has sent nothing costs nothing to
 * replace, one that has shown a certificate chained to a pinned CA must not
 * be replaced.
 */
enum tls_progress {
	TLS_PROGRESS_SILENT,       /* nothing received yet */
	TLS_PROGRESS_HELLO,        /* bytes received; no answer from us yet */
	TLS_PROGRESS_ANSWERED,     /* our ServerHello went out */
	TLS_PROGRESS_VERIFIED,     /* its certificate chain validated */
};
enum tls_progress tls_session_progress(const struct tls_session *s);

/* BearSSL's error code once the engine has failed or closed, 0 if none. */
int tls_session_error(const struct tls_session *s);

/* Copies up to `len` bytes of decrypted application data into `buf`. */
size_t tls_session_read(struct tls_session *s, void *buf, size_t len);

/*
 * The space available for plaintext to send, or NULL with *len = 0 when the
 * engine must first flush records. Data written there counts once given to
 * tls_session_write_done().
 */
unsigned char *tls_session_write_space(struct tls_session *s, size_t *len);
void tls_session_write_done(struct tls_session *s, size_t len);

/* Turns buffered plaintext into a record now. */
void tls_session_flush(struct tls_session *s);

/* Starts a clean TLS close (close_notify). */
void tls_session_close(struct tls_session *s);

/* True when records are still waiting to be written to the socket. */
bool tls_session_sending(const struct tls_session *s);

/* Who gets in; what the caller answers is a mapping of this. */
enum verdict {
	V_ALLOW,
	V_NO_CERT,          /* 400 "No required SSL certificate", or an alert */
	V_BAD_CERT,         /* 400 "The SSL certificate error", or an alert */
	V_FORBIDDEN,        /* 403 and close, or strict mode's access_denied */
	V_FORBIDDEN_HERE,   /* 403 for this path only: the connection stays */
};

/*
 * After a handshake strict mode refused (v, from tls_access_check()),
 * tells the client why with a plaintext fatal alert, as OpenSSL servers
 * do; BearSSL itself just stops. Valid only while the handshake is still
 * unencrypted.
 */
void tls_session_send_refusal(const struct tls_session *s, int fd, enum verdict v);

const struct client_identity *tls_session_identity(const struct tls_session *s);

/* After tls_session_handshake_finished(): true if a cached session was resumed. */
bool tls_session_resumed(const struct tls_session *s);

/* The verified client's CN, or NULL when the client is not verified. */
const char *tls_session_client_cn(const struct tls_session *s);

/* Why the client is not verified, in nginx's words where nginx has some. */
const char *tls_session_auth_failure(const struct tls_session *s);

/* Which rule let a request in, for the access log (see tls_access_text). */
struct tls_access {
	enum allow_kind kind;           /* ALLOW_NOTHING when refused or unchecked */
	const char *value;              /* the identity's matching name, in the identity */
};

/*
 * THE decision, for a request and for a handshake strict mode refused: is
 * `id` let in to the normalised `path` (NULL: no path could be made, or
 * no request yet; the global rules decide)? An identity the handshake did
 * not verify is refused as it was. A verified one's chain is checked
 * again against the current generation (expiry, pinned CA, CRLs: a reload
 * may revoke an open connection), then the rules: the --allow-file rules
 * of the longest prefix matching the path, or if none, the global
 * --allow-* options (any of them allows; none given: everyone verified).
 * With --root-per-client, a CN that is not a plain name is refused.
 * Fills *access (ALLOW_NOTHING when refused) and *why: the TLS_ERR_ or
 * BR_ERR_ code of a refusal (TLS_ERR_NOT_ALLOWED, TLS_ERR_PATH_NOT_ALLOWED,
 * TLS_ERR_CN_NOT_PLAIN, a recheck error, the handshake's), 0 if allowed.
 */
enum verdict tls_access_check(const struct client_identity *id, const char *path,
    size_t path_len, struct tls_access *access, int *why);

/* True when some --allow-file rule is per path: only then does the path matter. */
bool tls_rules_per_path(void);

/*
 * Formats what allowed a request ("cn=alice", "uri=spiffe://...",
 * "sha256=AB..", "any", or "-" when no rule applied or it was refused).
 * Writes at most out_len bytes, NUL included.
 */
void tls_access_text(const struct client_identity *id, const struct tls_access *access,
    char *out, size_t out_len);

/*
 * A CN that may name a directory: not empty, at most 64 bytes, no '/',
 * not "." or "..", no NUL or control character, and kept whole (cn_ok).
 */
bool tls_cn_is_plain(const struct client_identity *id);

/* Formats the serial as upper-case hex, as nginx's $ssl_client_serial. */
void tls_serial_hex(const struct serial *serial, char *out, size_t out_len);

/*
 * Runs the server's checks offline on the chain in `chain_file` (PEM, leaf
 * first) and prints each step to `out`. Returns 0 if it would be accepted.
 */
int tls_check_chain(const struct tls_credentials *creds, const char *chain_file,
    FILE *out);

/* A short text for a BearSSL error code. */
const char *tls_error_text(int err);

#endif
