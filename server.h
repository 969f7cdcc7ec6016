/*
 * server.h - the settings mtlsd runs with. Filled from the command line
 * (server.c); anything else that reads settings (a configuration file
 * reader) fills the same structure, so there is one place to validate.
 */
#ifndef MTLSD_SERVER_H
#define MTLSD_SERVER_H

#include "tls.h"

#define MAX_LISTENERS 16

/* Strings are not copied: they must live as long as the process. */
struct options {
	const char *listen[MAX_LISTENERS];
	int listen_count;
	const char *root;
	struct tls_config tls;          /* certificates, CAs, CRLs, allowlists */
	const char *check_cert;         /* --check-cert: check offline and exit */
	const char *index;
	const char *access_log;
	long max_conns;
	long max_requests;
	long head_max;
	long handshake_timeout, header_timeout, keepalive_timeout, send_timeout;
	long shutdown_grace;
};

#endif
