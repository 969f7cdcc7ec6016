/*
 * tlsclient - a TLS 1.2 client for tests/identity.sh, on BearSSL, that
 * presents any certificate chain with any private key. OpenSSL and GnuTLS
 * clients refuse to load a key that does not match the certificate, so
 * they cannot show what a server does with one.
 *
 *   tlsclient PORT KEY.der CERT.der [CERT.der...]  < request
 *
 * Connects to 127.0.0.1:PORT, does not check the server's certificate,
 * sends stdin and copies the response to stdout. Exit 0 when the server
 * answered and closed, 1 on a TLS or socket error ("error N" on stderr,
 * N being BearSSL's error code), 2 on bad usage or files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bearssl.h>

static unsigned char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (!f) {
		perror(path);
		exit(2);
	}
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 4096;
			if (!(p = realloc(p, cap))) {
				perror("realloc");
				exit(2);
			}
		}
		if ((n = fread(p + *len, 1, cap - *len, f)) == 0)
			break;
		*len += n;
	}
	fclose(f);
	return p;
}

/* Accepts any server certificate: only its public key is taken. */
struct any_server {
	const br_x509_class *vtable;
	br_x509_decoder_context dc;
	int first;
};

static void
any_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct any_server *a = (struct any_server *)(void *)ctx;

	(void)server_name;
	a->first = 1;
	br_x509_decoder_init(&a->dc, NULL, NULL);
}

static void
any_start_cert(const br_x509_class **ctx, uint32_t length)
{
	(void)ctx;
	(void)length;
}

static void
any_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct any_server *a = (struct any_server *)(void *)ctx;

	if (a->first)
		br_x509_decoder_push(&a->dc, buf, len);
}

static void
any_end_cert(const br_x509_class **ctx)
{
	((struct any_server *)(void *)ctx)->first = 0;
}

static unsigned
any_end_chain(const br_x509_class **ctx)
{
	struct any_server *a = (struct any_server *)(void *)ctx;

	return br_x509_decoder_get_pkey(&a->dc) ? 0 : BR_ERR_X509_INVALID_VALUE;
}

static const br_x509_pkey *
any_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct any_server *a = (struct any_server *)(void *)(uintptr_t)ctx;

	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return br_x509_decoder_get_pkey(&a->dc);
}

static const br_x509_class any_server_class = {
	sizeof(struct any_server), any_start_chain, any_start_cert, any_append,
	any_end_cert, any_end_chain, any_get_pkey,
};

static int
sock_read(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n;

	do
		n = read(*(int *)ctx, buf, len);
	while (n < 0 && errno == EINTR);
	return n <= 0 ? -1 : (int)n;
}

static int
sock_write(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n;

	do
		n = write(*(int *)ctx, buf, len);
	while (n < 0 && errno == EINTR);
	return n <= 0 ? -1 : (int)n;
}

/*
 * Sets `cc` up for TLS 1.2, any server certificate, presenting `chain` with
 * the key in `key_file` (DER), and returns a socket connected to
 * 127.0.0.1:`port` with a 10 s receive timeout. Exits 2 when the key cannot
 * be read, 1 on a socket error.
 */
static int
client_connect(br_ssl_client_context *cc, const char *port, const char *key_file,
    br_x509_certificate *chain, size_t nchain)
{
	static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	static br_skey_decoder_context key;
	static struct any_server any = { .vtable = &any_server_class };
	static br_x509_minimal_context unused_minimal;
	struct sockaddr_in sa;
	struct timeval tv = { 10, 0 };
	unsigned char *der;
	size_t len;
	int fd;

	br_skey_decoder_init(&key);
	der = read_file(key_file, &len);
	br_skey_decoder_push(&key, der, len);
	if (br_skey_decoder_last_error(&key) != 0) {
		fprintf(stderr, "%s: not a private key\n", key_file);
		exit(2);
	}
	/* The full profile, then the validator replaced by any_server. */
	br_ssl_client_init_full(cc, &unused_minimal, NULL, 0);
	br_ssl_engine_set_versions(&cc->eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_x509(&cc->eng, &any.vtable);
	if (br_skey_decoder_key_type(&key) == BR_KEYTYPE_RSA)
		br_ssl_client_set_single_rsa(cc, chain, nchain,
		    br_skey_decoder_get_rsa(&key), br_rsa_pkcs1_sign_get_default());
	else
		br_ssl_client_set_single_ec(cc, chain, nchain,
		    br_skey_decoder_get_ec(&key), BR_KEYTYPE_SIGN, BR_KEYTYPE_RSA,
		    br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
	br_ssl_engine_set_buffer(&cc->eng, iobuf, sizeof iobuf, 1);
	br_ssl_client_reset(cc, "server2", 0);

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		perror("socket");
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

#ifndef TLSCLIENT_HELPERS_ONLY
int
main(int argc, char **argv)
{
	static br_ssl_client_context cc;
	br_x509_certificate chain[32];
	br_sslio_context io;
	unsigned char *request, buf[4096];
	size_t request_len, i, nchain = 0;
	int fd, n, err;

	if (argc < 4 || argc - 3 > 32) {
		fprintf(stderr, "usage: tlsclient PORT KEY.der CERT.der...\n");
		return 2;
	}
	for (i = 3; i < (size_t)argc; i++) {
		chain[nchain].data = read_file(argv[i], &chain[nchain].data_len);
		nchain++;
	}
	request = read_file("/dev/stdin", &request_len);
	fd = client_connect(&cc, argv[1], argv[2], chain, nchain);
	br_sslio_init(&io, &cc.eng, sock_read, &fd, sock_write, &fd);
	if (br_sslio_write_all(&io, request, request_len) == 0)
		br_sslio_flush(&io);
	while ((n = br_sslio_read(&io, buf, sizeof buf)) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	err = br_ssl_engine_last_error(&cc.eng);
	if (err != 0) {
		fprintf(stderr, "error %d\n", err);
		return 1;
	}
	return 0;
}
#endif
