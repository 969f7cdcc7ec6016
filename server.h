/*
 * server.h - the settings mtlsd runs with. Filled from the command line
 * (server.c); anything else that reads settings (a configuration file
 * reader) fills the same structure, so there is one place to validate.
 */
#ifndef MTLSD_SERVER_H
#define MTLSD_SERVER_H

#include "http.h"
#include "tls.h"

#define MAX_LISTENERS 16

/*
 * A plain-HTTP address where mtlsd only answers a redirect, as an nginx
 * server { listen 80; return 301 https://$host$request_uri; } does.
 */
struct redirect {
	const char *listen;             /* "0.0.0.0:80" */
	int code;                       /* 301, 302, 303, 307 or 308 */
	const char *target;             /* may hold $host, $server_name, $request_uri */
	const char *server_name;        /* $server_name; $host without a Host */
};

/* Strings are not copied: they must live as long as the process. */
struct options {
	const char *listen[MAX_LISTENERS];
	int listen_count;
	const char *root;
	struct tls_config tls;          /* certificates, CAs, CRLs, allowlists */
	const char *check_cert;         /* --check-cert: check offline and exit */
	const char *index;
	const char *access_log;
	bool access_log_identity;       /* --access-log-identity: the rule that allowed */
	long max_conns;
	long open_file_cache;           /* entries; 0: off */
	long open_file_cache_inactive;  /* seconds an idle entry stays open */
	long max_requests;
	long head_max;
	long handshake_timeout, header_timeout, keepalive_timeout, send_timeout;
	long shutdown_grace;
	const char *error_log;          /* --nginx-conf's error_log: a file for stderr */
	long workers;                   /* --workers: processes sharing the port */
	bool proxy_protocol;            /* --proxy-protocol: a PROXY header first */
	const char *user;           /* NULL: keep the starting user */
	const char *chroot_dir;     /* NULL: no chroot */
	bool sandbox;               /* Landlock, where the kernel has it */
	const char *pid_file;       /* --pid-file: the (supervisor's) pid, and
	                               FILE.reload: the last reload's outcome */
	const char *status;         /* --status ADDR:PORT; NULL: off */
	struct redirect redirect[MAX_LISTENERS];    /* from --nginx-conf only */
	int redirect_count;
	struct http_location *locations;    /* likewise: the server level, then
	                                       its locations; NULL: none */
	int location_count;
};

/* ---- nginx configuration reader (nginx_conf.c) ---- */

#define NGINX_CONF_MAX_BYTES (1024 * 1024)

/*
 * Reads an nginx configuration, a bare server { } block or a whole
 * nginx.conf with events { } and http { }, from text[0..len) into opt.
 * Settings the file does not make keep the value they had in opt; on
 * failure opt is untouched. Opens no file, prints nothing.
 *
 * file_name is used in messages and to resolve relative certificate paths
 * against its directory, as nginx does. Directives accepted but not honoured
 * are reported to warn (when not NULL), one "FILE:LINE: ..." line each.
 *
 * Returns 0 and sets *strings to the one allocation that the strings now in
 * opt point into: free it only when opt is no longer used. Returns -1 with
 * "FILE:LINE: ..." in why, and *strings NULL.
 */
int nginx_conf_parse(const char *text, size_t len, const char *file_name,
    struct options *opt, char **strings, void (*warn)(const char *message),
    char *why, size_t why_len);

/*
 * nginx_conf_parse() on the file at path, following its include
 * directives as nginx does (relative names from path's directory, globs in
 * glob(3) order, at most 1 MiB of text in all). Errors about path itself
 * start with "--nginx-conf PATH: ".
 */
int nginx_conf_load(const char *path, struct options *opt, char **strings,
    void (*warn)(const char *message), char *why, size_t why_len);

/*
 * After nginx_conf_load() and the command line: each certificate, key,
 * CA and CRL file still named by the configuration is opened (and closed)
 * so that a missing one is reported as "FILE:LINE: DIRECTIVE PATH: why".
 * Returns 0, or -1 with that message in why.
 */
int nginx_conf_check_files(const struct options *opt, char *why, size_t why_len);

/* The settings mtlsd starts from, before options or a configuration file. */
#define OPTIONS_DEFAULTS { \
	.root = "./www", \
	.tls = { \
		.cert_file = "certs/server.crt", \
		.key_file = "certs/server.key", \
		.ca_file = "certs/ca.crt", \
		.mode = VERIFY_ON, \
		.verify_depth = 1, \
		.security_level = 2, \
		.session_cache_size = 1024, \
		.session_timeout = 300, \
	}, \
	.index = "index.html", \
	.access_log = "-", \
	.max_conns = 1024, \
	.open_file_cache = 64, \
	.open_file_cache_inactive = 60, \
	.max_requests = 1000, \
	.head_max = 8192, \
	.handshake_timeout = 10, \
	.header_timeout = 60, \
	.keepalive_timeout = 75, \
	.send_timeout = 60, \
	.shutdown_grace = 10, \
	.workers = 1, \
}

#endif
