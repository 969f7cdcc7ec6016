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
#include <bearssl.h>

enum verify_mode {
	VERIFY_ON,      /* finish the handshake, answer nginx's 400 page */
	VERIFY_STRICT,  /* refuse the handshake */
};

/* Most certificates a client may send in its chain. */
#define TLS_MAX_CLIENT_CHAIN 8

/*
 * Everything loaded from the files named on the command line. Filled once
 * by tls_load_credentials(); the sessions keep pointers into it, so it must
 * outlive them and must not move.
 */
struct tls_credentials {
	br_x509_certificate *chain;     /* server chain, leaf first */
	size_t chain_len;
	int key_type;                   /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	br_skey_decoder_context key;    /* owns the private key's bytes */
	unsigned issuer_key_type;       /* key type that signed the leaf */
	br_x509_trust_anchor *anchors;  /* the pinned client CAs */
	size_t anchor_count;
	enum verify_mode mode;
};

/* What the client's certificate showed during the handshake. */
enum client_auth {
	AUTH_NOT_SENT,    /* empty Certificate message: no chain at all */
	AUTH_REJECTED,    /* a chain was sent and failed validation */
	AUTH_VERIFIED,    /* the chain validated against a pinned CA */
};

/*
 * Wraps br_x509_minimal so that the validation outcome is recorded for the
 * connection that produced it. The minimal engine's own fields (names, key)
 * are filled before validation ends and are not evidence of anything; only
 * `auth` is, and it is reset for every connection.
 */
struct client_verifier {
	const br_x509_class *vtable;
	br_x509_minimal_context minimal;
	br_name_element cn_element;
	char cn[65];                    /* subject CN, meaningful if verified */
	unsigned cert_count;
	int x509_error;                 /* BR_ERR_X509_* when rejected */
	enum client_auth auth;
};

struct tls_session {
	br_ssl_server_context server;
	struct client_verifier verifier;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/* Result of moving records between a socket and the engine. */
enum tls_io {
	TLS_IO_OPEN,       /* still usable; poll for tls_poll_events() */
	TLS_IO_CLOSED,     /* the engine or the socket is finished */
};

/*
 * Loads the server chain, its private key and the pinned CAs. On failure
 * returns -1 with one line in `why` naming the file and the problem. Memory
 * is allocated here, once, and never freed.
 */
int tls_load_credentials(struct tls_credentials *creds, const char *cert_file,
    const char *key_file, const char *ca_file, char *why, size_t why_len);

/* Configures a slot's engine once; `creds` must outlive the session. */
void tls_session_init(struct tls_session *s, const struct tls_credentials *creds);

/* Prepares the slot for a new connection: fresh handshake, fresh identity. */
void tls_session_start(struct tls_session *s);

/* Sends and receives records on the non-blocking socket `fd` until it would block. */
enum tls_io tls_session_pump(struct tls_session *s, int fd);

/* POLLIN and/or POLLOUT, as the engine's state asks. */
short tls_session_poll_events(const struct tls_session *s);

bool tls_session_handshake_done(const struct tls_session *s);

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

enum client_auth tls_session_auth(const struct tls_session *s);

/* The verified client's CN, or NULL when the client is not verified. */
const char *tls_session_client_cn(const struct tls_session *s);

/* Why the client is not verified, in nginx's words where nginx has some. */
const char *tls_session_auth_failure(const struct tls_session *s);

/* A short text for a BearSSL error code. */
const char *tls_error_text(int err);

#endif
