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
};

/* What is named on the command line; read again on every reload. */
struct tls_config {
	const char *cert_file, *key_file, *ca_file;
	const char *crl_files[TLS_MAX_CRL_FILES];
	size_t crl_file_count;
	const char *allow_cn[TLS_MAX_ALLOW];
	size_t allow_cn_count;
	const char *allow_fingerprint[TLS_MAX_ALLOW];   /* SHA-256, hex */
	size_t allow_fingerprint_count;
	enum verify_mode mode;
	int verify_depth;              /* intermediates allowed, as nginx */
	size_t session_cache_size;     /* entries; 0 disables resumption */
	long session_timeout;          /* seconds */
};

struct serial {
	unsigned char len;
	unsigned char bytes[20];       /* big-endian, no leading zero */
};

/* One CRL, verified against the pinned CA that issued it. */
struct crl {
	unsigned char issuer_hash[32]; /* SHA-256 of the issuer Name's DER */
	char issuer[160];
	int64_t this_update, next_update;   /* Unix time; next_update 0 if absent */
	struct serial *revoked;
	size_t revoked_count;
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
	/*
	 * BearSSL never looks at a trust anchor's dates; OpenSSL refuses a
	 * chain whose CA has expired or is not yet valid. So handshakes see
	 * only the anchors valid now: this copy of `anchors`, remade when the
	 * clock leaves [valid_from, valid_until).
	 */
	br_x509_trust_anchor *valid_anchors;
	size_t valid_anchor_count;
	int64_t valid_from, valid_until;
	struct crl *crls;
	size_t crl_count;
	unsigned char (*allow_fingerprints)[32];
	size_t allow_fingerprint_count;
	const struct tls_config *config;
	unsigned refs;                  /* handshakes using this generation */
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
	struct serial serial;
	unsigned char issuer_hash[32];
	unsigned char fingerprint[32];  /* SHA-256 of the certificate's DER */
	int64_t not_before, not_after;
	int64_t valid_until;            /* the chain's first notAfter, pinned CA included */
	int certs_sent;
	int trusted_at;                 /* certificates up to the one a pinned CA signed */
	/*
	 * The certificate a pinned CA signed: the client's own when trusted_at
	 * is 1, else the topmost intermediate. A CRL (always from a pinned CA)
	 * can only cover this one. top_known is false if it could not be read.
	 */
	bool top_known;
	struct serial top_serial;
	unsigned char top_issuer_hash[32];
};

/*
 * Wraps br_x509_minimal so that the validation outcome is recorded for the
 * connection that produced it. The minimal engine's own fields (names, key)
 * are filled before validation ends and are not evidence of anything; only
 * `identity.auth` is.
 */
struct client_verifier {
	const br_x509_class *vtable;
	br_x509_minimal_context minimal;
	struct tls_credentials *creds;  /* the generation this handshake uses */
	unsigned char *ee_der;          /* scratch for the client certificate */
	size_t ee_cap, ee_len;
	size_t cur_len;                 /* an intermediate, kept after it in ee_der */
	int ca_error;                   /* TLS_ERR_* an intermediate CA showed, or 0 */
	int64_t ca_not_after;           /* the intermediates' first notAfter */
	unsigned char last_issuer_hash[32];  /* the last intermediate's issuer */
	br_sha256_context ee_hash;
	unsigned cert_count;
	struct client_identity identity;
	/* A session the cache offered; it counts only if the handshake resumed it. */
	bool resume_offered;
	unsigned char resume_id[32];
	struct client_identity resume_identity;
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
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
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

/* Allocates the session cache (config->session_cache_size entries). */
void tls_cache_init(const struct tls_config *config);

/* Writes warnings for certificates and CRLs expiring within `days`. */
void tls_warn_expiring(const struct tls_credentials *creds, int days,
    void (*warn)(const char *message));

/* Configures a slot's engine once, at start-up. */
void tls_session_init(struct tls_session *s);

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

/*
 * After a refused handshake (strict mode), tells the client why with a
 * plaintext fatal alert, as OpenSSL servers do; BearSSL itself just stops.
 * Valid only while the handshake is still unencrypted.
 */
void tls_session_send_refusal(const struct tls_session *s, int fd);

const struct client_identity *tls_session_identity(const struct tls_session *s);

/* The verified client's CN, or NULL when the client is not verified. */
const char *tls_session_client_cn(const struct tls_session *s);

/* Why the client is not verified, in nginx's words where nginx has some. */
const char *tls_session_auth_failure(const struct tls_session *s);

/*
 * Checks a verified identity against the current generation's CRLs and
 * allowlists, as done for every request. Returns 0, TLS_ERR_REVOKED,
 * TLS_ERR_CRL_EXPIRED or TLS_ERR_NOT_ALLOWED.
 */
int tls_identity_recheck(const struct client_identity *id);

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
