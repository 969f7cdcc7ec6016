/*
 * redirect.h - plain-HTTP ports where mtlsd only redirects, as an nginx
 * server { listen 80; return 301 https://$host$request_uri; } does
 * (--nginx-conf). A few fixed slots, no TLS, no files, no allocation.
 */
#ifndef MTLSD_REDIRECT_H
#define MTLSD_REDIRECT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http.h"
#include "server.h"

#define REDIRECT_SLOTS 32           /* connections at once; more wait in the backlog */
#define REDIRECT_HEAD_MAX 4096      /* a longer head gets nginx's 414 or 400 */
#define REDIRECT_ANSWER_MAX (2 * REDIRECT_HEAD_MAX + 2048)

/*
 * Writes the whole answer to the request head buf[0..len) (complete, or
 * REDIRECT_HEAD_MAX bytes without an end when too_large) into out: nginx's
 * redirect with r's target filled in, or its 400/414 page for a bad
 * request. *keep_alive says whether the connection may carry another
 * request. Returns the length (0 if out is too small).
 */
size_t redirect_answer(const struct redirect *r, const char *buf, size_t len,
    bool too_large, time_t now, bool *keep_alive, char *out, size_t cap);

/*
 * Start-up: serve r[i] on the listening socket fds[i]. header_timeout and
 * keepalive_timeout are in seconds, max_requests per connection.
 */
void redirect_init(const struct redirect *r, const int *fds, int count,
    long header_timeout, long keepalive_timeout, long max_requests);

/*
 * The poll entries for the listeners (while a slot is free) and the busy
 * slots, at most REDIRECT_SLOTS + MAX_LISTENERS. Returns how many.
 */
size_t redirect_pollfds(struct pollfd *pfd, int64_t now_ms);

/* After poll(): the same entries, with their revents. */
void redirect_ready(const struct pollfd *pfd, size_t n, int64_t now_ms, time_t now);

/* Closes what timed out; returns the nearest deadline (ms), or INT64_MAX. */
int64_t redirect_expire(int64_t now_ms);

#endif
