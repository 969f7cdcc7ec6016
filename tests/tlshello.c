/*
 * tlshello - a TLS 1.2 client for tests/robustness.sh, on BearSSL, that
 * completes a handshake with a client certificate and then sends one
 * encrypted handshake record holding N ClientHello messages (an attempt to
 * renegotiate, which mtlsd refuses), then the request on stdin in an
 * application data record.
 *
 *   tlshello PORT N KEY.der CERT.der  < request
 *
 * What comes back is not decrypted (an alert would stop BearSSL's engine):
 * prints "BYTES bytes, closed after MS ms", counted from the records to
 * the server's close. Exit 0 when the server closed within 10 s, 1 on a
 * timeout or an error, 2 on bad usage or files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bearssl.h>

/* The key and certificate loading and the socket I/O of tests/tlsclient.c. */
#define TLSCLIENT_HELPERS_ONLY
#include "tlsclient.c"

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A minimal ClientHello: TLS 1.2, one suite, no extensions. */
static size_t
client_hello(unsigned char *p)
{
	static const unsigned char head[] = { 1, 0, 0, 41, 3, 3 };
	size_t n = 0;

	memcpy(p, head, sizeof head);
	n = sizeof head;
	memset(p + n, 0x5a, 32);        /* random */
	n += 32;
	p[n++] = 0;                     /* session ID */
	p[n++] = 0;
	p[n++] = 2;
	p[n++] = 0xc0;                  /* ECDHE_RSA_WITH_AES_128_GCM_SHA256 */
	p[n++] = 0x2f;
	p[n++] = 1;                     /* compression: null */
	p[n++] = 0;
	return n;
}

int
main(int argc, char **argv)
{
	static br_ssl_client_context cc;
	static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	static br_skey_decoder_context key;
	static struct any_server any = { .vtable = &any_server_class };
	static br_x509_minimal_context unused_minimal;
	static unsigned char rec[2048], req[2048];
	br_x509_certificate chain[1];
	const br_sslrec_out_class **out;
	br_sslio_context io;
	struct sockaddr_in sa;
	unsigned char *request, *wire, buf[4096];
	size_t request_len, len, start, end, hellos, i, got = 0;
	struct timeval tv = { 10, 0 };
	long t0;
	int fd, n;

	if (argc != 5 || (hellos = (size_t)atoi(argv[2])) < 1 || hellos > 16) {
		fprintf(stderr, "usage: tlshello PORT N KEY.der CERT.der\n");
		return 2;
	}
	br_skey_decoder_init(&key);
	request = read_file(argv[3], &len);
	br_skey_decoder_push(&key, request, len);
	if (br_skey_decoder_last_error(&key) != 0) {
		fprintf(stderr, "%s: not a private key\n", argv[3]);
		return 2;
	}
	chain[0].data = read_file(argv[4], &chain[0].data_len);
	request = read_file("/dev/stdin", &request_len);
	if (request_len > 1024) {
		fprintf(stderr, "tlshello: request over 1024 bytes\n");
		return 2;
	}

	br_ssl_client_init_full(&cc, &unused_minimal, NULL, 0);
	br_ssl_engine_set_versions(&cc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_x509(&cc.eng, &any.vtable);
	if (br_skey_decoder_key_type(&key) == BR_KEYTYPE_RSA)
		br_ssl_client_set_single_rsa(&cc, chain, 1,
		    br_skey_decoder_get_rsa(&key), br_rsa_pkcs1_sign_get_default());
	else
		br_ssl_client_set_single_ec(&cc, chain, 1,
		    br_skey_decoder_get_ec(&key), BR_KEYTYPE_SIGN, BR_KEYTYPE_RSA,
		    br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
	br_ssl_engine_set_buffer(&cc.eng, iobuf, sizeof iobuf, 1);
	br_ssl_client_reset(&cc, "server2", 0);

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("connect");
		return 1;
	}
	br_sslio_init(&io, &cc.eng, sock_read, &fd, sock_write, &fd);
	/* Runs the handshake to its end. */
	if (br_sslio_flush(&io) < 0) {
		fprintf(stderr, "handshake: error %d\n",
		    br_ssl_engine_last_error(&cc.eng));
		return 1;
	}

	/*
	 * The record is encrypted with the engine's own keys and sequence
	 * number, and written past the engine, which has nothing pending.
	 */
	out = &cc.eng.out.vtable;
	start = 0;
	end = sizeof rec;
	(*out)->max_plaintext(out, &start, &end);
	len = 0;
	for (i = 0; i < hellos; i++)
		len += client_hello(rec + start + len);
	wire = (*out)->encrypt(out, 22 /* handshake */, BR_TLS12, rec + start, &len);
	t0 = now_ms();
	if (sock_write(&fd, wire, len) != (int)len) {
		perror("write");
		return 1;
	}
	if (request_len > 0) {
		start = 0;
		end = sizeof req;
		(*out)->max_plaintext(out, &start, &end);
		memcpy(req + start, request, request_len);
		len = request_len;
		wire = (*out)->encrypt(out, 23 /* application data */, BR_TLS12,
		    req + start, &len);
		if (sock_write(&fd, wire, len) != (int)len) {
			perror("write");
			return 1;
		}
	}
	while ((n = sock_read(&fd, buf, sizeof buf)) > 0)
		got += (size_t)n;
	printf("%zu bytes, closed after %ld ms\n", got, now_ms() - t0);
	close(fd);
	return now_ms() - t0 < 10000 ? 0 : 1;
}
