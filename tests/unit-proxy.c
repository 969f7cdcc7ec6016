/*
 * Unit tests for proxy.c, the PROXY protocol parser: version 1 (TCP4, TCP6,
 * UNKNOWN), version 2 (PROXY, LOCAL, other families, TLVs), malformed,
 * truncated and over-long headers, and properties checked on random and
 * mutated input (what a fuzzer would look for). Prints "N passed, N failed".
 */
#include "../proxy.c"

#include <stdio.h>
#include <stdlib.h>

#include "check.h"

static long
parse_text(const char *s, struct proxy_header *h)
{
	return proxy_parse((const unsigned char *)s, strlen(s), h);
}

/* Every proper prefix of a header is a valid beginning. */
static bool
prefixes_incomplete(const unsigned char *buf, size_t header_len)
{
	struct proxy_header h;
	size_t k;

	for (k = 0; k < header_len; k++)
		if (proxy_parse(buf, k, &h) != PROXY_INCOMPLETE)
			return false;
	return true;
}

static bool
addr_is(const struct proxy_header *h, const unsigned char *addr, const char *text)
{
	unsigned char want[16];

	return inet_pton(h->family, text, want) == 1
	    && memcmp(addr, want, h->family == AF_INET ? 4 : 16) == 0;
}

static void
test_v1_good(void)
{
	struct proxy_header h;
	const char *tcp4 = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
	const char *tcp6 = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
	char with_data[128];

	/* The client's bytes after the header are not part of it. */
	snprintf(with_data, sizeof with_data, "%s\x16\x03\x01", tcp4);
	CHECK(parse_text(with_data, &h) == (long)strlen(tcp4));
	CHECK(h.version == 1 && !h.local && h.family == AF_INET);
	CHECK(addr_is(&h, h.src, "192.168.0.1") && addr_is(&h, h.dst, "192.168.0.11"));
	CHECK(h.src_port == 56324 && h.dst_port == 443);
	CHECK(prefixes_incomplete((const unsigned char *)tcp4, strlen(tcp4)));

	CHECK(parse_text(tcp6, &h) == (long)strlen(tcp6));
	CHECK(h.family == AF_INET6 && !h.local);
	CHECK(addr_is(&h, h.src, "2001:db8::1") && addr_is(&h, h.dst, "::1"));
	CHECK(h.src_port == 65535 && h.dst_port == 0);
	CHECK(prefixes_incomplete((const unsigned char *)tcp6, strlen(tcp6)));

	CHECK(parse_text("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", &h) > 0);
	CHECK(parse_text("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF 65535 65535\r\n", &h) == 104);

	/* UNKNOWN: the rest of the line is ignored, the socket's addresses stand. */
	CHECK(parse_text("PROXY UNKNOWN\r\n", &h) == 15 && h.local);
	CHECK(parse_text("PROXY UNKNOWN 1.2.3.4 whatever\r\nX", &h) == 32 && h.local);
	/* The spec's worst case, 107 bytes, is accepted. */
	CHECK(parse_text("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", &h) == 107);
}

static void
test_v1_bad(void)
{
	struct proxy_header h;
	char line[200];

	/* Not PROXY at all: a direct TLS client, HTTP, lower case. */
	CHECK(proxy_parse((const unsigned char *)"\x16\x03\x01\x02\x00", 5, &h)
	    == PROXY_ERR_NOT_PROXY);
	CHECK(parse_text("GET / HTTP/1.1\r\n", &h) == PROXY_ERR_NOT_PROXY);
	CHECK(parse_text("PRIX", &h) == PROXY_ERR_NOT_PROXY);
	CHECK(parse_text("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", &h) == PROXY_ERR_NOT_PROXY);

	CHECK(parse_text("PROXY\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY \r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXYTCP4", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY UNKNOWNX\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	/* Heading zeroes, out of range, wrong family, not a number. */
	CHECK(parse_text("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 ::1 ::1 1 2\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 host 5.6.7.8 1 2\r\n", &h) == PROXY_ERR_V1_SYNTAX);
	/* Line ends: a bare LF or a lone CR is refused at once. */
	CHECK(parse_text("PROXY UNKNOWN\n", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY UNKNOWN\rX", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY UNKNOWN\r", &h) == PROXY_INCOMPLETE);
	/* Control and non-ASCII bytes are refused before the line ends. */
	CHECK(proxy_parse((const unsigned char *)"PROXY TCP4 1.2\0", 15, &h)
	    == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 1.2\t", &h) == PROXY_ERR_V1_SYNTAX);
	CHECK(parse_text("PROXY TCP4 1.2\xc3\xa9", &h) == PROXY_ERR_V1_SYNTAX);

	/* Over-long: no CRLF within 107 bytes, even if one comes later. */
	memset(line, 'f', sizeof line);
	memcpy(line, "PROXY UNKNOWN ", 14);
	CHECK(proxy_parse((unsigned char *)line, 106, &h) == PROXY_INCOMPLETE);
	CHECK(proxy_parse((unsigned char *)line, 107, &h) == PROXY_ERR_V1_TOO_LONG);
	CHECK(proxy_parse((unsigned char *)line, sizeof line, &h) == PROXY_ERR_V1_TOO_LONG);
	line[106] = '\r';
	line[107] = '\n';
	CHECK(proxy_parse((unsigned char *)line, 108, &h) == PROXY_ERR_V1_TOO_LONG);
	line[105] = '\r';
	line[106] = '\n';
	CHECK(proxy_parse((unsigned char *)line, 108, &h) == 107);
}

/* A version 2 header: signature, version/command, family, then `block`. */
static size_t
v2(unsigned char *out, unsigned ver_cmd, unsigned family, const void *block,
    size_t block_len)
{
	memcpy(out, v2_signature, 12);
	out[12] = (unsigned char)ver_cmd;
	out[13] = (unsigned char)family;
	out[14] = (unsigned char)(block_len >> 8);
	out[15] = (unsigned char)block_len;
	if (block_len)
		memcpy(out + 16, block, block_len);
	return 16 + block_len;
}

static void
test_v2_good(void)
{
	static const unsigned char tcp4[12] = {
		203, 0, 113, 7,  10, 0, 0, 1,  0xC3, 0x50,  0x01, 0xBB,
	};
	unsigned char tcp6[36], block[300], buf[700];
	struct proxy_header h;
	size_t n;

	n = v2(buf, 0x21, 0x11, tcp4, sizeof tcp4);
	memcpy(buf + n, "\x16\x03\x01", 3);
	CHECK(proxy_parse(buf, n + 3, &h) == 28);
	CHECK(h.version == 2 && !h.local && h.family == AF_INET);
	CHECK(addr_is(&h, h.src, "203.0.113.7") && addr_is(&h, h.dst, "10.0.0.1"));
	CHECK(h.src_port == 50000 && h.dst_port == 443);
	CHECK(prefixes_incomplete(buf, n));

	memset(tcp6, 0, sizeof tcp6);
	inet_pton(AF_INET6, "2001:db8::7", tcp6);
	inet_pton(AF_INET6, "::ffff:10.0.0.1", tcp6 + 16);
	tcp6[32] = 0x12, tcp6[33] = 0x34, tcp6[34] = 0x20, tcp6[35] = 0xFB;
	n = v2(buf, 0x21, 0x21, tcp6, sizeof tcp6);
	CHECK(proxy_parse(buf, n, &h) == 52);
	CHECK(h.family == AF_INET6 && !h.local);
	CHECK(addr_is(&h, h.src, "2001:db8::7") && addr_is(&h, h.dst, "::ffff:10.0.0.1"));
	CHECK(h.src_port == 0x1234 && h.dst_port == 8443);
	CHECK(prefixes_incomplete(buf, n));

	/* TLVs after the addresses are part of the header and skipped. */
	memcpy(block, tcp4, 12);
	memcpy(block + 12, "\x04\x00\x04" "abcd" "\x05\x00\x02" "id", 12);
	n = v2(buf, 0x21, 0x11, block, 24);
	CHECK(proxy_parse(buf, n + 10, &h) == 40 && h.src_port == 50000);

	/* LOCAL: a health check; any family and block are skipped. */
	n = v2(buf, 0x20, 0x00, NULL, 0);
	CHECK(proxy_parse(buf, n, &h) == 16 && h.local && h.version == 2);
	n = v2(buf, 0x20, 0x11, tcp4, sizeof tcp4);
	CHECK(proxy_parse(buf, n, &h) == 28 && h.local);
	n = v2(buf, 0x20, 0xFF, tcp4, 2);
	CHECK(proxy_parse(buf, n, &h) == 18 && h.local);

	/* PROXY with families a TCP server does not use: the socket's addresses. */
	n = v2(buf, 0x21, 0x00, NULL, 0);
	CHECK(proxy_parse(buf, n, &h) == 16 && h.local);
	n = v2(buf, 0x21, 0x12, tcp4, sizeof tcp4);
	CHECK(proxy_parse(buf, n, &h) == 28 && h.local);
	memset(block, 0, 216);
	n = v2(buf, 0x21, 0x31, block, 216);
	CHECK(proxy_parse(buf, n, &h) == 232 && h.local);

	/* The largest header accepted. */
	memset(block, 0, sizeof block);
	memcpy(buf, v2_signature, 12);
	buf[12] = 0x21, buf[13] = 0x11, buf[14] = (520 >> 8), buf[15] = 520 & 0xFF;
	memcpy(buf + 16, tcp4, 12);
	memset(buf + 28, 0, 520 - 12);
	CHECK(proxy_parse(buf, 536, &h) == 536 && !h.local);
	CHECK(proxy_parse(buf, 535, &h) == PROXY_INCOMPLETE);
}

static void
test_v2_bad(void)
{
	unsigned char buf[64];
	struct proxy_header h;
	size_t n;

	/* A signature that goes wrong half-way. */
	memcpy(buf, v2_signature, 12);
	buf[4] = 'X';
	CHECK(proxy_parse(buf, 4, &h) == PROXY_INCOMPLETE);
	CHECK(proxy_parse(buf, 5, &h) == PROXY_ERR_NOT_PROXY);
	CHECK(proxy_parse((const unsigned char *)"\r\n\r\nX", 5, &h) == PROXY_ERR_NOT_PROXY);

	/* Version 1 in the binary form, version 3, command 2. */
	n = v2(buf, 0x11, 0x11, NULL, 0);
	CHECK(proxy_parse(buf, 13, &h) == PROXY_ERR_V2_COMMAND);
	n = v2(buf, 0x31, 0x11, NULL, 0);
	CHECK(proxy_parse(buf, n, &h) == PROXY_ERR_V2_COMMAND);
	n = v2(buf, 0x22, 0x11, NULL, 0);
	CHECK(proxy_parse(buf, 13, &h) == PROXY_ERR_V2_COMMAND);

	/* Unknown family or transport, noticed at the 14th byte. */
	n = v2(buf, 0x21, 0x41, NULL, 0);
	CHECK(proxy_parse(buf, 14, &h) == PROXY_ERR_V2_FAMILY);
	n = v2(buf, 0x21, 0x13, NULL, 0);
	CHECK(proxy_parse(buf, n, &h) == PROXY_ERR_V2_FAMILY);

	/* An address block shorter than its family, noticed before it arrives. */
	n = v2(buf, 0x21, 0x11, "12345678", 8);
	CHECK(proxy_parse(buf, 16, &h) == PROXY_ERR_V2_SHORT);
	n = v2(buf, 0x21, 0x21, "123456789012", 12);
	CHECK(proxy_parse(buf, n, &h) == PROXY_ERR_V2_SHORT);

	/* Over-long: refused from the length field, without waiting. */
	v2(buf, 0x21, 0x11, NULL, 0);
	buf[14] = 521 >> 8, buf[15] = 521 & 0xFF;
	CHECK(proxy_parse(buf, 16, &h) == PROXY_ERR_V2_TOO_LONG);
	buf[14] = 0xFF, buf[15] = 0xFF;
	CHECK(proxy_parse(buf, 16, &h) == PROXY_ERR_V2_TOO_LONG);
	(void)n;
}

static uint32_t rng = 2463534242u;

static uint32_t
next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/*
 * What a reader relies on, for any input: a result never exceeds the bytes
 * given; growing the input never turns an error into success or changes a
 * complete header's length; so a valid beginning is all header.
 */
static bool
consistent(const unsigned char *buf, size_t len)
{
	struct proxy_header h;
	long prev = PROXY_INCOMPLETE, r;
	size_t k;

	for (k = 0; k <= len; k++) {
		r = proxy_parse(buf, k, &h);
		if (r > (long)k)
			return false;
		if (prev < 0 && r >= 0)
			return false;
		if (prev > 0 && r != prev)
			return false;
		if (r > 0 && h.version != 1 && h.version != 2)
			return false;
		prev = r;
	}
	return true;
}

#define SEED(s) { s, sizeof s - 1 }

static void
test_properties(void)
{
	static const struct {
		const char *bytes;
		size_t len;
	} seeds[] = {
		SEED("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
		SEED("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n"),
		SEED("PROXY UNKNOWN\r\n"),
		SEED("\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x0c\xcb\0\x71\x07\x0a\0\0\x01\xc3\x50\x01\xbb"),
		SEED("\r\n\r\n\0\r\nQUIT\n\x20\0\0\0"),
	};
	unsigned char buf[PROXY_V2_MAX + 64];
	int i, bad = 0, complete = 0;

	for (i = 0; i < 20000; i++) {
		size_t s = (size_t)i % 5, len = seeds[s].len, k, edits;

		memcpy(buf, seeds[s].bytes, len);
		/* Flip, insert or drop a few bytes, or start from noise. */
		if (i % 50 == 0) {
			len = next_random() % sizeof buf;
			for (k = 0; k < len; k++)
				buf[k] = (unsigned char)next_random();
		}
		for (edits = next_random() % 4; edits > 0; edits--) {
			size_t at = next_random() % (len + 1);

			switch (next_random() % 3) {
			case 0:
				if (at < len)
					buf[at] = (unsigned char)next_random();
				break;
			case 1:
				if (len < sizeof buf) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = "0 :.\r\n\x11\x21P"[next_random() % 10];
					len++;
				}
				break;
			default:
				if (at < len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
				break;
			}
		}
		if (!consistent(buf, len))
			bad++;
		{
			struct proxy_header h;

			if (proxy_parse(buf, len, &h) > 0)
				complete++;
		}
	}
	CHECK(bad == 0);
	/* The mutations left many headers valid: the checks saw both sides. */
	CHECK(complete > 1000 && complete < 19000);
}

int
main(void)
{
	test_v1_good();
	test_v1_bad();
	test_v2_good();
	test_v2_bad();
	test_properties();
	return check_done();
}
