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

/* File reading, the client set-up and the socket I/O of tests/tlsclient.c. */
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
	static unsigned char rec[2048], req[2048];
	br_x509_certificate chain[1];
	const br_sslrec_out_class **out;
	br_sslio_context io;
	unsigned char *request, *wire, buf[4096];
	size_t request_len, len, start, end, hellos, i, got = 0;
	long t0;
	int fd, n;

	if (argc != 5 || (hellos = (size_t)atoi(argv[2])) < 1 || hellos > 16) {
		fprintf(stderr, "usage: tlshello PORT N KEY.der CERT.der\n");
		return 2;
	}
	chain[0].data = read_file(argv[4], &chain[0].data_len);
	request = read_file("/dev/stdin", &request_len);
	if (request_len > 1024) {
		fprintf(stderr, "tlshello: request over 1024 bytes\n");
		return 2;
	}
	fd = client_connect(&cc, argv[1], argv[3], chain, 1);
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
