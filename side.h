/*
 * side.h - the plain-HTTP side ports. --status ADDR:PORT shows what mtlsd
 * counts while serving: GET /metrics in the Prometheus text format 0.0.4,
 * GET /status as a page for people. --nginx-conf's redirect-only servers
 * (server { listen 80; return 301 https://$host$request_uri; }) answer
 * nginx's redirect. A few fixed slots each, no TLS, no allocation while
 * serving.
 */
#ifndef MTLSD_SIDE_H
#define MTLSD_SIDE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "http.h"
#include "server.h"
#include "tls.h"

#define STATUS_SLOTS 4              /* scrapers at once; more wait in the backlog */
#define STATUS_TIMEOUT_MS 10000     /* a whole exchange, request to close */
#define REDIRECT_SLOTS 32           /* redirected clients at once; likewise */
#define REDIRECT_HEAD_MAX 4096      /* a longer head gets nginx's 414 or 400 */
#define REDIRECT_ANSWER_MAX (2 * REDIRECT_HEAD_MAX + 2048)

/* The values of mtlsd_handshakes_total's label result. */
enum handshake_result {
	HS_OK, HS_NO_CERTIFICATE, HS_UNKNOWN_CA, HS_EXPIRED, HS_NOT_YET_VALID,
	HS_REVOKED, HS_NOT_ALLOWED, HS_BAD_CERTIFICATE, HS_OTHER, HS_COUNT
};

/* The values of mtlsd_connections's label state. */
enum conn_gauge { G_HANDSHAKE, G_READING, G_SENDING, G_IDLE, G_COUNT };

/*
 * What a client's identity, as the handshake left it, counts as. `now`
 * tells an expired certificate from one not yet valid (BearSSL has one
 * code for both).
 */
enum handshake_result status_handshake_result(const struct client_identity *id,
    int64_t now);

/*
 * Counting, by the process that serves (the only one, or a worker). Each
 * is a few relaxed atomic additions to this process's block; none
 * allocates or blocks.
 */
void status_count_handshake(enum handshake_result r);
void status_count_request(int http_status);
void status_count_bytes(uint64_t n);
void status_count_eviction(void);
void status_count_session(bool resumed);
/* The connections by state now, and the slots: gauges, overwritten. */
void status_set_connections(const uint64_t count[G_COUNT], uint64_t slots);

/*
 * By the process that reloads (the only one, or the supervisor): the
 * outcome of a reload. A successful one also takes the certificates'
 * dates from tls_current() (this allocates: reloads may).
 */
void status_reloaded(bool ok);
/* At start-up, after the first tls_use(): the certificates' dates. */
void status_loaded(void);

/*
 * --workers N under a supervisor. Before the first fork: a MAP_SHARED
 * block of counters for each worker that may run at once (see side.c).
 * status_worker_block() is called before each fork (it returns -1 when
 * none is free), status_worker_started() after it (pid < 0: the fork
 * failed), status_worker_counts_in() in the new worker, and
 * status_worker_exited() for each worker reaped.
 */
void status_shared_init(long workers);
int status_worker_block(void);
void status_worker_started(int block, pid_t pid);
void status_worker_counts_in(int block);
void status_worker_exited(pid_t pid);

/*
 * The listeners. status_init() takes the --status socket (non-blocking);
 * status_close() closes it, in a worker.
 * redirect_init() serves r[i] on the listening socket fds[i];
 * header_timeout and keepalive_timeout are in seconds, max_requests per
 * connection.
 */
void status_init(int fd);
void status_close(void);
void redirect_init(const struct redirect *r, const int *fds, int count,
    long header_timeout, long keepalive_timeout, long max_requests);

/*
 * The poll entries for the listeners with a free slot (the redirect ports
 * only when redirects is true: the supervisor leaves them to its workers)
 * and the busy slots, at most SIDE_POLLFDS. Returns how many.
 */
size_t side_pollfds(struct pollfd *pfd, int64_t now_ms, bool redirects);
#define SIDE_POLLFDS (STATUS_SLOTS + REDIRECT_SLOTS + 1 + MAX_LISTENERS)

/* After poll(): the same entries, with their revents. */
void side_ready(const struct pollfd *pfd, size_t n, int64_t now_ms, time_t now);

/* Closes what timed out; returns the nearest deadline (ms), or INT64_MAX. */
int64_t side_expire(int64_t now_ms);

/*
 * The pages, into out[0..cap): for tests and the listener. Returns the
 * length, or 0 when cap is too small.
 */
size_t status_metrics_page(char *out, size_t cap, time_t now);
size_t status_text_page(char *out, size_t cap, time_t now);

#endif
