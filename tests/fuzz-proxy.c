/*
 * tests/fuzz-proxy.c - fuzz target for the PROXY protocol parser,
 * proxy_parse(), which reads bytes a load balancer (or, with
 * --proxy-protocol, anyone who can connect) sends before the TLS handshake.
 *
 * Checks what the server relies on when it calls the parser again and
 * again as bytes arrive: a positive result is a header length within the
 * input and PROXY_HEADER_MAX; every shorter prefix of a complete header is
 * PROXY_INCOMPLETE (so reading on is right); an input refused once stays
 * refused whatever follows; an address is AF_INET or AF_INET6 unless the
 * header is LOCAL; every negative result has a text.
 *
 * Built with libFuzzer by `make fuzz`, and with tests/fuzz-main.c as a
 * corpus replayer by `make test`.
 */
#include "../proxy.c"

#include <assert.h>
#include <stdlib.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header h;
	unsigned char *buf;
	size_t k, step;
	long n, m;

	/* An exact-size copy, so any read past the end is caught. */
	if (!(buf = malloc(size ? size : 1)))
		return 0;
	memcpy(buf, data, size);
	memset(&h, 0xa5, sizeof h);
	n = proxy_parse(buf, size, &h);
	if (n > 0) {
		assert((size_t)n <= size && n <= PROXY_HEADER_MAX);
		assert(h.version == 1 || h.version == 2);
		assert(h.local || h.family == AF_INET || h.family == AF_INET6);
	} else if (n < 0) {
		assert(proxy_error_text(n) && proxy_error_text(n)[0]);
	}
	/* The same bytes arriving in pieces, as the server reads them. */
	step = size ? (size_t)data[0] % 13 + 1 : 1;
	for (k = 0; k < size; k += step) {
		m = proxy_parse(buf, k, &h);
		if (n > 0 && (long)k < n)
			assert(m == PROXY_INCOMPLETE);
		if (m < 0)
			assert(n < 0);
		if (m > 0)
			assert(m == n);
	}
	free(buf);
	return 0;
}
