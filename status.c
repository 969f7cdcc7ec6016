/*
 * status.c - --status: counters, their two pages, and the plain-HTTP port
 * that serves them (see status.h).
 *
 * Where the counters live. Without a supervisor, in this process. With one
 * (--workers N, --user, --chroot, --sandbox) the supervisor answers the
 * scrapes, but the workers count: so, before the first fork, the
 * supervisor maps MAP_SHARED | MAP_ANONYMOUS memory holding a pool of
 * counter blocks, 4 per worker slot. Each worker process it forks gets a
 * block of its own, zeroed before the fork, and is its only writer
 * (relaxed atomic additions, so that a 64-bit counter is never read torn).
 * A scrape adds up the blocks in use and `retired`, the supervisor's
 * private total of workers that have exited.
 *
 * A reload starts a new generation of workers while the old ones finish
 * their responses: each process has its own block, so nothing is counted
 * twice and neither generation overwrites the other. When the supervisor
 * reaps a worker (retired, crashed or stopped), the dead process's
 * counters are folded into `retired` and its block is freed: totals only
 * grow, as Prometheus expects of a counter. Gauges (connections by state,
 * slots) are not folded: a process that has exited has no connections.
 * If every block is taken (many reloads within --shutdown-grace), a new
 * worker counts in a private block the supervisor cannot see, and the
 * supervisor logs that the totals miss it.
 *
 * The scrapers' port is served by one process only (the supervisor, or
 * the only one): STATUS_SLOTS fixed slots, each with its request and
 * answer buffers; one request per connection (Connection: close), a
 * deadline for the whole exchange, nothing allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "status.h"

#define LINGER_MS 2000
#define ACCEPT_PAUSE_MS 100
#define HEAD_MAX 2048
#define ANSWER_MAX (64 * 1024)
#define BLOCKS_PER_WORKER 4

struct counters {
	uint64_t handshakes[HS_COUNT];
	uint64_t requests[4];           /* 2xx, 3xx, 4xx, 5xx */
	uint64_t response_bytes;
	uint64_t evictions;
	uint64_t cache_hits, cache_misses;
	uint64_t connections[G_COUNT];  /* gauges */
	uint64_t slots;                 /* gauge */
};

static struct counters own;         /* without a supervisor; or no block free */
static struct counters *mine = &own;
static struct counters *blocks;     /* the shared pool, or NULL */
static pid_t *block_pid;            /* the supervisor's: who uses each; 0 free */
static size_t block_count;
static struct counters retired;     /* the supervisor's: workers reaped */

/* The process that reloads (the only one, or the supervisor). */
static uint64_t reloads_ok, reloads_failed;
static time_t loaded_at;            /* the certificates in use were loaded then */
static time_t started_at;

enum cert_kind { K_SERVER, K_CA, K_CRL };
static const char *const kind_names[] = { "server", "ca", "crl_next_update" };

struct cert_date {
	enum cert_kind kind;
	char subject[160];
	int64_t at;
};
static struct cert_date *certs;     /* remade at start-up and each reload */
static size_t cert_count;

static const char *const result_names[HS_COUNT] = {
	"ok", "no_certificate", "unknown_ca", "expired", "not_yet_valid",
	"revoked", "not_allowed", "bad_certificate", "other",
};
static const char *const state_names[G_COUNT] = {
	"handshake", "reading", "sending", "idle",
};

/* ---- counting ---- */

static void
count_add(uint64_t *field, uint64_t n)
{
	__atomic_fetch_add(field, n, __ATOMIC_RELAXED);
}

enum handshake_result
status_handshake_result(const struct client_identity *id, int64_t now)
{
	if (id->auth == AUTH_VERIFIED)
		return HS_OK;
	if (id->auth == AUTH_NOT_SENT)
		return HS_NO_CERTIFICATE;
	switch (id->error) {
	case BR_ERR_X509_NOT_TRUSTED:
	case TLS_ERR_CA_KEY_MISMATCH:
		return HS_UNKNOWN_CA;
	case BR_ERR_X509_EXPIRED:
		/* The client's own dates, or else one of its chain's CAs expired. */
		return id->not_before > now ? HS_NOT_YET_VALID : HS_EXPIRED;
	case TLS_ERR_REVOKED:
	case TLS_ERR_CA_REVOKED:
		return HS_REVOKED;
	case TLS_ERR_NOT_ALLOWED:
	case TLS_ERR_PATH_NOT_ALLOWED:
	case TLS_ERR_CN_NOT_PLAIN:
		return HS_NOT_ALLOWED;
	/* The server's CRLs, not the client's certificate, are at fault. */
	case TLS_ERR_CRL_EXPIRED:
	case TLS_ERR_CRL_MISSING:
	case TLS_ERR_CRL_NOT_YET_VALID:
		return HS_OTHER;
	case TLS_ERR_EKU:
	case TLS_ERR_KEY_USAGE:
	case TLS_ERR_DEPTH:
	case TLS_ERR_CHAIN_LENGTH:
	case TLS_ERR_TOO_LARGE:
	case TLS_ERR_MALFORMED:
	case TLS_ERR_NAME_CONSTRAINTS:
	case TLS_ERR_CA_UNREADABLE:
	case TLS_ERR_WEAK_KEY:
	case TLS_ERR_WEAK_SIGNATURE:
	case TLS_ERR_CA_EKU:
	case TLS_ERR_NS_CERT_TYPE:
	case TLS_ERR_PATH_LEN:
		return HS_BAD_CERTIFICATE;
	default:
		/* BearSSL's decoding and signature errors: the certificate is bad. */
		if (id->error >= BR_ERR_X509_OK && id->error < BR_ERR_X509_OK + 64)
			return HS_BAD_CERTIFICATE;
		return HS_OTHER;
	}
}

void
status_count_handshake(enum handshake_result r)
{
	count_add(&mine->handshakes[r < HS_COUNT ? r : HS_OTHER], 1);
}

void
status_count_request(int http_status)
{
	if (http_status >= 200 && http_status < 600)
		count_add(&mine->requests[http_status / 100 - 2], 1);
}

void
status_count_bytes(uint64_t n)
{
	count_add(&mine->response_bytes, n);
}

void
status_count_eviction(void)
{
	count_add(&mine->evictions, 1);
}

void
status_count_session(bool resumed)
{
	count_add(resumed ? &mine->cache_hits : &mine->cache_misses, 1);
}

void
status_set_connections(const uint64_t count[G_COUNT], uint64_t slots)
{
	int i;

	for (i = 0; i < G_COUNT; i++)
		__atomic_store_n(&mine->connections[i], count[i], __ATOMIC_RELAXED);
	__atomic_store_n(&mine->slots, slots, __ATOMIC_RELAXED);
}

/* ---- the certificates' dates ---- */

static void
take_dates(void)
{
	const struct tls_credentials *creds = tls_current();
	struct cert_date *list;
	size_t i, n = 0;

	loaded_at = time(NULL);
	list = calloc(1 + creds->anchor_count + creds->crl_count, sizeof *list);
	if (!list)
		return;     /* the old list stays: start-up and reload may fail so */
	if (tls_server_certificate(creds, list[n].subject, sizeof list[n].subject,
	    &list[n].at))
		list[n++].kind = K_SERVER;
	for (i = 0; i < creds->anchor_count; i++, n++) {
		list[n].kind = K_CA;
		snprintf(list[n].subject, sizeof list[n].subject, "%s",
		    creds->anchor_names[i]);
		list[n].at = creds->anchor_not_after[i];
	}
	for (i = 0; i < creds->crl_count; i++) {
		if (creds->crls[i].next_update == 0)
			continue;   /* no nextUpdate: no date to show */
		list[n].kind = K_CRL;
		snprintf(list[n].subject, sizeof list[n].subject, "%s",
		    creds->crls[i].issuer);
		list[n++].at = creds->crls[i].next_update;
	}
	free(certs);
	certs = list;
	cert_count = n;
}

void
status_loaded(void)
{
	started_at = time(NULL);
	take_dates();
}

void
status_reloaded(bool ok)
{
	if (!ok) {
		reloads_failed++;
		return;
	}
	reloads_ok++;
	take_dates();
}

/* ---- workers ---- */

void
status_shared_init(long workers)
{
	size_t n = (size_t)workers * BLOCKS_PER_WORKER;
	void *p;

	p = mmap(NULL, n * sizeof *blocks, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	block_pid = calloc(n, sizeof *block_pid);
	if (p == MAP_FAILED || !block_pid) {
		/* Counting then stops at the supervisor: say so at start-up. */
		fprintf(stderr, "mtlsd: --status: cannot map %zu bytes for the "
		    "workers' counters: %s\n", n * sizeof *blocks, strerror(errno));
		exit(1);
	}
	blocks = p;
	block_count = n;
}

int
status_worker_block(void)
{
	size_t i;

	for (i = 0; i < block_count; i++)
		if (block_pid[i] == 0) {
			memset(&blocks[i], 0, sizeof blocks[i]);
			block_pid[i] = -1;      /* reserved until the fork says who */
			return (int)i;
		}
	return -1;
}

void
status_worker_started(int block, pid_t pid)
{
	if (block >= 0)
		block_pid[block] = pid > 0 ? pid : 0;
}

void
status_worker_counts_in(int block)
{
	mine = block >= 0 && blocks ? &blocks[block] : &own;
}

static void
fold(struct counters *sum, const struct counters *c, bool gauges)
{
	int i;

	for (i = 0; i < HS_COUNT; i++)
		sum->handshakes[i] += __atomic_load_n(&c->handshakes[i], __ATOMIC_RELAXED);
	for (i = 0; i < 4; i++)
		sum->requests[i] += __atomic_load_n(&c->requests[i], __ATOMIC_RELAXED);
	sum->response_bytes += __atomic_load_n(&c->response_bytes, __ATOMIC_RELAXED);
	sum->evictions += __atomic_load_n(&c->evictions, __ATOMIC_RELAXED);
	sum->cache_hits += __atomic_load_n(&c->cache_hits, __ATOMIC_RELAXED);
	sum->cache_misses += __atomic_load_n(&c->cache_misses, __ATOMIC_RELAXED);
	if (!gauges)
		return;
	for (i = 0; i < G_COUNT; i++)
		sum->connections[i] += __atomic_load_n(&c->connections[i],
		    __ATOMIC_RELAXED);
	sum->slots += __atomic_load_n(&c->slots, __ATOMIC_RELAXED);
}

void
status_worker_exited(pid_t pid)
{
	size_t i;

	for (i = 0; i < block_count; i++)
		if (block_pid[i] == pid) {
			fold(&retired, &blocks[i], false);
			block_pid[i] = 0;
			return;
		}
}

/* Everything counted so far, by every process. */
static void
collect(struct counters *sum)
{
	size_t i;

	memset(sum, 0, sizeof *sum);
	if (!blocks) {
		fold(sum, &own, true);
		return;
	}
	fold(sum, &retired, false);
	for (i = 0; i < block_count; i++)
		if (block_pid[i] > 0)
			fold(sum, &blocks[i], true);
}

/* ---- the pages ---- */

struct out {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void
page_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
page_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->overflow = true;
	else
		o->len += (size_t)n;
}

static void
page_char(struct out *o, char c)
{
	if (o->overflow || o->len + 1 >= o->cap)
		o->overflow = true;
	else
		o->p[o->len++] = c;
}

/* Length of the valid UTF-8 sequence at s (at most left bytes), or 0. */
static size_t
utf8_length(const unsigned char *s, size_t left)
{
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xBF;

	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xE0)
		lo = 0xA0;      /* no overlong forms */
	else if (s[0] == 0xED)
		hi = 0x9F;      /* no surrogates */
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;      /* nothing past U+10FFFF */
	if (n > left || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/*
 * A label value as the exposition format wants it: \\, \" and \n escaped,
 * valid UTF-8. Anything else (other controls, bytes that are not UTF-8)
 * becomes '?': a subject is shown, never trusted.
 */
static void
put_label(struct out *o, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t left = strlen(value), n;

	while (left > 0) {
		if (*s == '\\' || *s == '"') {
			page_char(o, '\\');
			page_char(o, (char)*s);
		} else if (*s == '\n') {
			page_char(o, '\\');
			page_char(o, 'n');
		} else if (*s < 0x20 || *s == 0x7F) {
			page_char(o, '?');
		} else if (*s >= 0x80) {
			if ((n = utf8_length(s, left)) == 0) {
				page_char(o, '?');
			} else {
				while (n-- > 1) {
					page_char(o, (char)*s++);
					left--;
				}
				page_char(o, (char)*s);
			}
		} else {
			page_char(o, (char)*s);
		}
		s++;
		left--;
	}
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	page_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

size_t
status_metrics_page(char *buf, size_t cap, time_t now)
{
	struct out o = { buf, 0, cap, false };
	struct counters c;
	size_t i;

	(void)now;
	collect(&c);
	family(&o, "mtlsd_handshakes_total", "counter",
	    "TLS handshakes ended, by outcome of the client certificate check.");
	for (i = 0; i < HS_COUNT; i++)
		page_printf(&o, "mtlsd_handshakes_total{result=\"%s\"} %llu\n", result_names[i],
		    (unsigned long long)c.handshakes[i]);
	family(&o, "mtlsd_requests_total", "counter",
	    "HTTP responses begun, by status class.");
	for (i = 0; i < 4; i++)
		page_printf(&o, "mtlsd_requests_total{code=\"%zuxx\"} %llu\n", i + 2,
		    (unsigned long long)c.requests[i]);
	family(&o, "mtlsd_response_bytes_total", "counter",
	    "Bytes of responses (status line, headers, body) handed to TLS.");
	page_printf(&o, "mtlsd_response_bytes_total %llu\n",
	    (unsigned long long)c.response_bytes);
	family(&o, "mtlsd_connections", "gauge",
	    "Open client connections, by state (idle: waiting between requests, or closing).");
	for (i = 0; i < G_COUNT; i++)
		page_printf(&o, "mtlsd_connections{state=\"%s\"} %llu\n", state_names[i],
		    (unsigned long long)c.connections[i]);
	family(&o, "mtlsd_connection_slots", "gauge",
	    "Connection slots allocated at start-up, all workers.");
	page_printf(&o, "mtlsd_connection_slots %llu\n", (unsigned long long)c.slots);
	family(&o, "mtlsd_evictions_total", "counter",
	    "Connections closed to free a slot for a new one.");
	page_printf(&o, "mtlsd_evictions_total %llu\n", (unsigned long long)c.evictions);
	family(&o, "mtlsd_session_cache_hits_total", "counter",
	    "Handshakes that resumed a cached session.");
	page_printf(&o, "mtlsd_session_cache_hits_total %llu\n",
	    (unsigned long long)c.cache_hits);
	family(&o, "mtlsd_session_cache_misses_total", "counter",
	    "Full handshakes while the session cache is on.");
	page_printf(&o, "mtlsd_session_cache_misses_total %llu\n",
	    (unsigned long long)c.cache_misses);
	family(&o, "mtlsd_reloads_total", "counter",
	    "Reloads (SIGHUP) of certificates, CAs, CRLs and allowlists, by outcome.");
	page_printf(&o, "mtlsd_reloads_total{result=\"ok\"} %llu\n",
	    (unsigned long long)reloads_ok);
	page_printf(&o, "mtlsd_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)reloads_failed);
	family(&o, "mtlsd_last_reload_timestamp_seconds", "gauge",
	    "When the certificates in use were loaded (start-up or the last successful reload).");
	page_printf(&o, "mtlsd_last_reload_timestamp_seconds %lld\n", (long long)loaded_at);
	family(&o, "mtlsd_certificate_expiry_timestamp_seconds", "gauge",
	    "notAfter of the server certificate and pinned CAs; nextUpdate of CRLs.");
	for (i = 0; i < cert_count; i++) {
		page_printf(&o, "mtlsd_certificate_expiry_timestamp_seconds{kind=\"%s\",subject=\"",
		    kind_names[certs[i].kind]);
		put_label(&o, certs[i].subject);
		page_printf(&o, "\"} %lld\n", (long long)certs[i].at);
	}
	return o.overflow ? 0 : o.len;
}

static void
put_time(struct out *o, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char when[40];

	if (!gmtime_r(&tt, &tm) || !strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(when, sizeof when, "@%lld", (long long)t);
	page_printf(o, "%s", when);
}

size_t
status_text_page(char *buf, size_t cap, time_t now)
{
	struct out o = { buf, 0, cap, false };
	struct counters c;
	size_t i;

	collect(&c);
	page_printf(&o, "mtlsd %s, up %llds\n\nhandshakes:", MTLSD_VERSION,
	    (long long)(now - started_at));
	for (i = 0; i < HS_COUNT; i++)
		page_printf(&o, " %s %llu%s", result_names[i], (unsigned long long)c.handshakes[i],
		    i + 1 < HS_COUNT ? "," : "\n");
	page_printf(&o, "requests: 2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu; %llu bytes sent\n",
	    (unsigned long long)c.requests[0], (unsigned long long)c.requests[1],
	    (unsigned long long)c.requests[2], (unsigned long long)c.requests[3],
	    (unsigned long long)c.response_bytes);
	page_printf(&o, "connections:");
	for (i = 0; i < G_COUNT; i++)
		page_printf(&o, " %s %llu,", state_names[i], (unsigned long long)c.connections[i]);
	page_printf(&o, " of %llu slots; %llu evicted\n", (unsigned long long)c.slots,
	    (unsigned long long)c.evictions);
	page_printf(&o, "session cache: %llu resumed, %llu full handshakes\n",
	    (unsigned long long)c.cache_hits, (unsigned long long)c.cache_misses);
	page_printf(&o, "reloads: %llu ok, %llu failed; certificates loaded ",
	    (unsigned long long)reloads_ok, (unsigned long long)reloads_failed);
	put_time(&o, loaded_at);
	page_printf(&o, "\n\ncertificates:\n");
	for (i = 0; i < cert_count; i++) {
		int64_t left = certs[i].at - (int64_t)now;

		page_printf(&o, "  %-6s %s: %s ", certs[i].kind == K_SERVER ? "server"
		    : certs[i].kind == K_CA ? "CA" : "CRL", certs[i].subject,
		    certs[i].kind == K_CRL ? "next update" : "expires");
		put_time(&o, certs[i].at);
		if (left < 0)
			page_printf(&o, " (%lld days ago)\n", (long long)(-left / 86400));
		else
			page_printf(&o, " (in %lld days)\n", (long long)(left / 86400));
	}
	return o.overflow ? 0 : o.len;
}

/* ---- the listener ---- */

enum sstate { S_FREE, S_READING, S_WRITING, S_LINGERING };

struct sslot {
	enum sstate state;
	int fd;
	int64_t deadline;
	size_t in_len, out_len, out_sent;
	char in[HEAD_MAX];
	char out[ANSWER_MAX];
};

static struct sslot slots[STATUS_SLOTS];
static size_t busy;
static int listen_fd = -1;
static int64_t accept_paused_until;
static char page[ANSWER_MAX];       /* one answer is made at a time */

void
status_init(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	listen_fd = fd;
}

void
status_close(void)
{
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
}

static void
slot_close(struct sslot *s)
{
	close(s->fd);
	s->fd = -1;
	s->state = S_FREE;
	busy--;
}

static void
answer(struct sslot *s, int code, const char *reason, const char *type,
    const char *body, size_t body_len, bool head_only, const char *extra)
{
	struct out o = { s->out, 0, sizeof s->out, false };

	page_printf(&o, "HTTP/1.1 %d %s\r\nServer: mtlsd\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%sConnection: close\r\n\r\n",
	    code, reason, type, body_len, extra);
	if (!head_only && !o.overflow) {
		if (body_len > o.cap - o.len)
			o.overflow = true;
		else {
			memcpy(o.p + o.len, body, body_len);
			o.len += body_len;
		}
	}
	s->out_len = o.overflow ? 0 : o.len;
	s->out_sent = 0;
	s->state = S_WRITING;
}

#define TEXT_TYPE "text/plain; charset=utf-8"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Answers the head now in the buffer, if it is complete (or too large). */
static void
slot_answer(struct sslot *s, time_t now)
{
	size_t end = http_head_end(s->in, s->in_len, 0), len;
	struct http_request req;
	bool metrics;
	static const char too_large[] = "request head too large\n",
	    bad[] = "bad request\n", not_found[] = "not found: try /metrics or /status\n",
	    not_allowed[] = "only GET and HEAD\n", failed[] =
	    "the page is larger than mtlsd's buffer for it\n";

	if (end == 0) {
		if (s->in_len == sizeof s->in)
			answer(s, 431, "Request Header Fields Too Large", TEXT_TYPE,
			    too_large, sizeof too_large - 1, false, "");
		return;
	}
	memset(&req, 0, sizeof req);
	http_parse_head(s->in, end, &req);
	if (req.error != S_NONE) {
		answer(s, 400, "Bad Request", TEXT_TYPE, bad, sizeof bad - 1, false, "");
		return;
	}
	if (req.method != M_GET && req.method != M_HEAD) {
		answer(s, 405, "Method Not Allowed", TEXT_TYPE, not_allowed,
		    sizeof not_allowed - 1, false, "Allow: GET, HEAD\r\n");
		return;
	}
	metrics = req.path.len == 8 && memcmp(req.path.p, "/metrics", 8) == 0;
	if (!metrics && !(req.path.len == 7 && memcmp(req.path.p, "/status", 7) == 0)) {
		answer(s, 404, "Not Found", TEXT_TYPE, not_found, sizeof not_found - 1,
		    req.method == M_HEAD, "");
		return;
	}
	len = metrics ? status_metrics_page(page, sizeof page, now)
	    : status_text_page(page, sizeof page, now);
	if (len == 0)
		answer(s, 500, "Internal Server Error", TEXT_TYPE, failed,
		    sizeof failed - 1, req.method == M_HEAD, "");
	else
		answer(s, 200, "OK", metrics ? METRICS_TYPE : TEXT_TYPE, page, len,
		    req.method == M_HEAD, "");
}

static void
slot_step(struct sslot *s, int64_t now_ms, time_t now)
{
	char sink[512];
	ssize_t n;
	int i;

	switch (s->state) {
	case S_READING:
		n = recv(s->fd, s->in + s->in_len, sizeof s->in - s->in_len, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			slot_close(s);
			return;
		}
		if (n < 0)
			return;
		s->in_len += (size_t)n;
		slot_answer(s, now);
		if (s->state != S_WRITING)
			return;
		if (s->out_len == 0) {
			slot_close(s);  /* cannot happen: the buffer fits the head */
			return;
		}
		/* FALLTHROUGH */
	case S_WRITING:
		while (s->out_sent < s->out_len) {
			n = send(s->fd, s->out + s->out_sent, s->out_len - s->out_sent,
			    MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				slot_close(s);
				return;
			}
			s->out_sent += (size_t)n;
		}
		/* Read what the client still sends, so that close() sends no reset. */
		shutdown(s->fd, SHUT_WR);
		s->state = S_LINGERING;
		if (s->deadline > now_ms + LINGER_MS)
			s->deadline = now_ms + LINGER_MS;
		return;
	case S_LINGERING:
		for (i = 0; i < 16; i++) {
			n = recv(s->fd, sink, sizeof sink, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				slot_close(s);
				return;
			}
		}
		return;
	case S_FREE:
		return;
	}
}

static void
accept_scrapers(int64_t now_ms)
{
	size_t i;
	int fd;

	for (i = 0; i < STATUS_SLOTS && busy < STATUS_SLOTS; i++) {
		if (slots[i].state != S_FREE)
			continue;
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
			    || errno == ENOMEM)
				accept_paused_until = now_ms + ACCEPT_PAUSE_MS;
			return;
		}
		slots[i].state = S_READING;
		slots[i].fd = fd;
		slots[i].deadline = now_ms + STATUS_TIMEOUT_MS;
		slots[i].in_len = 0;
		busy++;
	}
}

size_t
status_pollfds(struct pollfd *pfd, int64_t now_ms)
{
	size_t n = 0, i;

	if (listen_fd >= 0 && busy < STATUS_SLOTS && accept_paused_until <= now_ms) {
		pfd[n].fd = listen_fd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	for (i = 0; i < STATUS_SLOTS; i++) {
		if (slots[i].state == S_FREE)
			continue;
		pfd[n].fd = slots[i].fd;
		pfd[n].events = slots[i].state == S_WRITING ? POLLOUT : POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

void
status_ready(const struct pollfd *pfd, size_t n, int64_t now_ms, time_t now)
{
	size_t k, i;

	for (k = 0; k < n; k++) {
		if (pfd[k].revents == 0)
			continue;
		if (pfd[k].fd == listen_fd) {
			accept_scrapers(now_ms);
			continue;
		}
		for (i = 0; i < STATUS_SLOTS; i++)
			if (slots[i].state != S_FREE && slots[i].fd == pfd[k].fd) {
				slot_step(&slots[i], now_ms, now);
				break;
			}
	}
}

int64_t
status_expire(int64_t now_ms)
{
	int64_t nearest = accept_paused_until > now_ms ? accept_paused_until : INT64_MAX;
	size_t i;

	for (i = 0; i < STATUS_SLOTS; i++) {
		if (slots[i].state == S_FREE)
			continue;
		if (slots[i].deadline <= now_ms)
			slot_close(&slots[i]);
		else if (slots[i].deadline < nearest)
			nearest = slots[i].deadline;
	}
	return nearest;
}
