/*
 * proxy.h - the PROXY protocol header a TCP load balancer puts before the
 * client's bytes (HAProxy's proxy-protocol.txt, versions 1 and 2), so that
 * the server learns the address the client connected from.
 *
 * proxy_parse() is pure: no I/O, no allocation, no global state. It reads
 * only the `len` bytes it is given, so it can be fed the bytes received so
 * far, again and again, and it is the function a fuzzer should target.
 */
#ifndef MTLSD_PROXY_H
#define MTLSD_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "PROXY UNKNOWN <IPv6> <IPv6> 65535 65535\r\n", the spec's worst case. */
#define PROXY_V1_MAX 107
/*
 * Version 2: 16 bytes, then the address block (at most 216 bytes, for
 * AF_UNIX) and any TLVs. Load balancers add TLVs (a connection ID, the
 * SNI...); the spec keeps the whole header within 536 bytes, the smallest
 * TCP segment every host must accept, and so does this parser.
 */
#define PROXY_V2_MAX 536
#define PROXY_HEADER_MAX PROXY_V2_MAX

/* Results below zero: the connection must be refused. */
enum proxy_status {
	PROXY_INCOMPLETE = 0,          /* a valid beginning: read more */
	PROXY_ERR_NOT_PROXY = -1,      /* no PROXY signature at all */
	PROXY_ERR_V1_SYNTAX = -2,      /* a version 1 line that does not parse */
	PROXY_ERR_V1_TOO_LONG = -3,    /* no CRLF within PROXY_V1_MAX bytes */
	PROXY_ERR_V2_COMMAND = -4,     /* version other than 2, or unknown command */
	PROXY_ERR_V2_FAMILY = -5,      /* unknown address family or transport */
	PROXY_ERR_V2_SHORT = -6,       /* address block shorter than its family needs */
	PROXY_ERR_V2_TOO_LONG = -7,    /* header longer than PROXY_V2_MAX */
};

struct proxy_header {
	int version;                   /* 1 or 2 */
	/*
	 * True when the header carries no client address to use: a version 2
	 * LOCAL command (a health check from the balancer itself), a version 1
	 * UNKNOWN line, or a family the server does not use (UNSPEC, UDP,
	 * AF_UNIX). The connection's own addresses then stand.
	 */
	bool local;
	int family;                    /* AF_INET or AF_INET6 when !local */
	unsigned char src[16], dst[16];  /* network order; 4 bytes for AF_INET */
	uint16_t src_port, dst_port;
};

/*
 * Looks for a PROXY header at the start of buf[0..len). Returns its length
 * (> 0) when a complete, valid header is there, and fills *h; the bytes
 * after it are the client's. Returns PROXY_INCOMPLETE when the bytes are a
 * valid beginning of a header and none of them can be the client's yet (so
 * a reader may consume all of them), or a negative enum proxy_status.
 * *h is meaningful only after a positive result.
 */
long proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *h);

/* A short text for a negative result of proxy_parse(). */
const char *proxy_error_text(long status);

#endif
