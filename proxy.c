/*
 * proxy.c - parsing the PROXY protocol header, versions 1 and 2.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy.h"

static const unsigned char v2_signature[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

#define V2_LOCAL 0x0
#define V2_PROXY 0x1
#define V2_TCP4 0x11
#define V2_TCP6 0x21

/* A decimal port: 0 to 65535, no leading zero (the spec forbids them). */
static bool
parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5 || (s[0] == '0' && len > 1))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* inet_pton() on a counted string, in the family the line announced. */
static bool
parse_address(int family, const char *s, size_t len, unsigned char *out)
{
	char text[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof text)
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	return inet_pton(family, text, out) == 1;
}

/* "TCP4 SRC DST SPORT DPORT" or "TCP6 ...", after "PROXY ", without CRLF. */
static bool
parse_v1_fields(const char *s, size_t len, struct proxy_header *h)
{
	const char *field[5];
	size_t field_len[5], i, n = 0, start = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != ' ')
			continue;
		/* Exactly one space between fields, none at either end. */
		if (i == start || n == 5)
			return false;
		field[n] = s + start;
		field_len[n++] = i - start;
		start = i + 1;
	}
	if (n != 5 || field_len[0] != 4)
		return false;
	if (memcmp(field[0], "TCP4", 4) == 0)
		h->family = AF_INET;
	else if (memcmp(field[0], "TCP6", 4) == 0)
		h->family = AF_INET6;
	else
		return false;
	return parse_address(h->family, field[1], field_len[1], h->src)
	    && parse_address(h->family, field[2], field_len[2], h->dst)
	    && parse_port(field[3], field_len[3], &h->src_port)
	    && parse_port(field[4], field_len[4], &h->dst_port);
}

static long
parse_v1(const unsigned char *buf, size_t len, struct proxy_header *h)
{
	size_t i, line_len;
	const char *line = (const char *)buf;

	if (memcmp(buf, "PROXY", len < 5 ? len : 5) != 0)
		return PROXY_ERR_NOT_PROXY;
	/* Fail on the first bad byte rather than wait for a line end. */
	for (i = 0; i < len && i < PROXY_V1_MAX; i++) {
		if (buf[i] == '\n')
			break;
		if (buf[i] == '\r' ? i + 1 < len && buf[i + 1] != '\n'
		    : buf[i] < 0x20 || buf[i] > 0x7e)
			return PROXY_ERR_V1_SYNTAX;
		if (i == 5 && buf[i] != ' ')
			return PROXY_ERR_V1_SYNTAX;
	}
	if (i == PROXY_V1_MAX)
		return PROXY_ERR_V1_TOO_LONG;
	if (i == len)
		return PROXY_INCOMPLETE;
	/* buf[i] is the LF; a bare LF does not end the line. */
	if (i < 7 || buf[i - 1] != '\r')
		return PROXY_ERR_V1_SYNTAX;
	line_len = i - 1;
	memset(h, 0, sizeof *h);
	h->version = 1;
	if (line_len >= 13 && memcmp(line + 6, "UNKNOWN", 7) == 0
	    && (line_len == 13 || line[13] == ' ')) {
		/* The rest of an UNKNOWN line is to be ignored. */
		h->local = true;
		return (long)i + 1;
	}
	if (!parse_v1_fields(line + 6, line_len - 6, h))
		return PROXY_ERR_V1_SYNTAX;
	return (long)i + 1;
}

static long
parse_v2(const unsigned char *buf, size_t len, struct proxy_header *h)
{
	unsigned version, command, family_byte;
	size_t block, total;

	if (memcmp(buf, v2_signature, len < 12 ? len : 12) != 0)
		return PROXY_ERR_NOT_PROXY;
	if (len < 13)
		return PROXY_INCOMPLETE;
	version = buf[12] >> 4;
	command = buf[12] & 0x0F;
	if (version != 2 || (command != V2_LOCAL && command != V2_PROXY))
		return PROXY_ERR_V2_COMMAND;
	if (len < 14)
		return PROXY_INCOMPLETE;
	family_byte = buf[13];
	/* Families 0-3 (UNSPEC, INET, INET6, UNIX), transports 0-2. */
	if (command == V2_PROXY && ((family_byte >> 4) > 3 || (family_byte & 0x0F) > 2))
		return PROXY_ERR_V2_FAMILY;
	if (len < 16)
		return PROXY_INCOMPLETE;
	block = (size_t)buf[14] << 8 | buf[15];
	total = 16 + block;
	if (total > PROXY_V2_MAX)
		return PROXY_ERR_V2_TOO_LONG;
	if (command == V2_PROXY && ((family_byte == V2_TCP4 && block < 12)
	    || (family_byte == V2_TCP6 && block < 36)))
		return PROXY_ERR_V2_SHORT;
	if (len < total)
		return PROXY_INCOMPLETE;

	memset(h, 0, sizeof *h);
	h->version = 2;
	if (command == V2_PROXY && family_byte == V2_TCP4) {
		h->family = AF_INET;
		memcpy(h->src, buf + 16, 4);
		memcpy(h->dst, buf + 20, 4);
		h->src_port = (uint16_t)(buf[24] << 8 | buf[25]);
		h->dst_port = (uint16_t)(buf[26] << 8 | buf[27]);
	} else if (command == V2_PROXY && family_byte == V2_TCP6) {
		h->family = AF_INET6;
		memcpy(h->src, buf + 16, 16);
		memcpy(h->dst, buf + 32, 16);
		h->src_port = (uint16_t)(buf[48] << 8 | buf[49]);
		h->dst_port = (uint16_t)(buf[50] << 8 | buf[51]);
	} else {
		/* LOCAL, or addresses a TCP server has no use for. */
		h->local = true;
	}
	/* TLVs after the addresses are skipped: nothing here needs them. */
	return (long)total;
}

long
proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *h)
{
	if (len == 0)
		return PROXY_INCOMPLETE;
	if (buf[0] == 'P')
		return parse_v1(buf, len, h);
	if (buf[0] == '\r')
		return parse_v2(buf, len, h);
	return PROXY_ERR_NOT_PROXY;
}

const char *
proxy_error_text(long status)
{
	switch (status) {
	case PROXY_ERR_NOT_PROXY:
		return "no PROXY protocol header";
	case PROXY_ERR_V1_SYNTAX:
		return "malformed PROXY protocol v1 header";
	case PROXY_ERR_V1_TOO_LONG:
		return "PROXY protocol v1 header without CRLF in 107 bytes";
	case PROXY_ERR_V2_COMMAND:
		return "PROXY protocol v2 header with an unknown version or command";
	case PROXY_ERR_V2_FAMILY:
		return "PROXY protocol v2 header with an unknown address family";
	case PROXY_ERR_V2_SHORT:
		return "PROXY protocol v2 address block too short for its family";
	case PROXY_ERR_V2_TOO_LONG:
		return "PROXY protocol v2 header longer than 536 bytes";
	default:
		return "PROXY protocol header error";
	}
}
