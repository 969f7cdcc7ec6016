/*
 * side.c - the plain-HTTP side ports (see side.h): --status's counters,
 * their two pages, nginx's redirects, and one listener for both.
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
 * the only one): one request per connection (Connection: close), a
 * deadline for the whole exchange. The redirect ports are served where
 * the TLS ports are; their answer is nginx 1.22's to "return CODE URL"
 * byte for byte but the server token: the same status line, headers in
 * its order (Location last), its page. Each connection is a fixed slot
 * with a head buffer and an answer buffer; nothing is allocated, and the
 * number of slots bounds what a flood can take (the rest waits in the
 * listen backlog).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "side.h"

#define LINGER_MS 2000
#define ACCEPT_PAUSE_MS 100
#define STATUS_HEAD_MAX 2048
#define STATUS_ANSWER_MAX (64 * 1024)
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

struct out {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void
out_put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static void
out_fmt(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
out_fmt(struct out *o, const char *fmt, ...)
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
out_char(struct out *o, char c)
{
	out_put(o, &c, 1);
}

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
			out_char(o, '\\');
			out_char(o, (char)*s);
		} else if (*s == '\n') {
			out_char(o, '\\');
			out_char(o, 'n');
		} else if (*s < 0x20 || *s == 0x7F) {
			out_char(o, '?');
		} else if (*s >= 0x80) {
			if ((n = utf8_length(s, left)) == 0) {
				out_char(o, '?');
			} else {
				while (n-- > 1) {
					out_char(o, (char)*s++);
					left--;
				}
				out_char(o, (char)*s);
			}
		} else {
			out_char(o, (char)*s);
		}
		s++;
		left--;
	}
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	out_fmt(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
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
		out_fmt(&o, "mtlsd_handshakes_total{result=\"%s\"} %llu\n", result_names[i],
		    (unsigned long long)c.handshakes[i]);
	family(&o, "mtlsd_requests_total", "counter",
	    "HTTP responses begun, by status class.");
	for (i = 0; i < 4; i++)
		out_fmt(&o, "mtlsd_requests_total{code=\"%zuxx\"} %llu\n", i + 2,
		    (unsigned long long)c.requests[i]);
	family(&o, "mtlsd_response_bytes_total", "counter",
	    "Bytes of responses (status line, headers, body) handed to TLS.");
	out_fmt(&o, "mtlsd_response_bytes_total %llu\n",
	    (unsigned long long)c.response_bytes);
	family(&o, "mtlsd_connections", "gauge",
	    "Open client connections, by state (idle: waiting between requests, or closing).");
	for (i = 0; i < G_COUNT; i++)
		out_fmt(&o, "mtlsd_connections{state=\"%s\"} %llu\n", state_names[i],
		    (unsigned long long)c.connections[i]);
	family(&o, "mtlsd_connection_slots", "gauge",
	    "Connection slots allocated at start-up, all workers.");
	out_fmt(&o, "mtlsd_connection_slots %llu\n", (unsigned long long)c.slots);
	family(&o, "mtlsd_evictions_total", "counter",
	    "Connections closed to free a slot for a new one.");
	out_fmt(&o, "mtlsd_evictions_total %llu\n", (unsigned long long)c.evictions);
	family(&o, "mtlsd_session_cache_hits_total", "counter",
	    "Handshakes that resumed a cached session.");
	out_fmt(&o, "mtlsd_session_cache_hits_total %llu\n",
	    (unsigned long long)c.cache_hits);
	family(&o, "mtlsd_session_cache_misses_total", "counter",
	    "Full handshakes while the session cache is on.");
	out_fmt(&o, "mtlsd_session_cache_misses_total %llu\n",
	    (unsigned long long)c.cache_misses);
	family(&o, "mtlsd_reloads_total", "counter",
	    "Reloads (SIGHUP) of certificates, CAs, CRLs and allowlists, by outcome.");
	out_fmt(&o, "mtlsd_reloads_total{result=\"ok\"} %llu\n",
	    (unsigned long long)reloads_ok);
	out_fmt(&o, "mtlsd_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)reloads_failed);
	family(&o, "mtlsd_last_reload_timestamp_seconds", "gauge",
	    "When the certificates in use were loaded (start-up or the last successful reload).");
	out_fmt(&o, "mtlsd_last_reload_timestamp_seconds %lld\n", (long long)loaded_at);
	family(&o, "mtlsd_certificate_expiry_timestamp_seconds", "gauge",
	    "notAfter of the server certificate and pinned CAs; nextUpdate of CRLs.");
	for (i = 0; i < cert_count; i++) {
		out_fmt(&o, "mtlsd_certificate_expiry_timestamp_seconds{kind=\"%s\",subject=\"",
		    kind_names[certs[i].kind]);
		put_label(&o, certs[i].subject);
		out_fmt(&o, "\"} %lld\n", (long long)certs[i].at);
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
	out_fmt(o, "%s", when);
}

size_t
status_text_page(char *buf, size_t cap, time_t now)
{
	struct out o = { buf, 0, cap, false };
	struct counters c;
	size_t i;

	collect(&c);
	out_fmt(&o, "mtlsd %s, up %llds\n\nhandshakes:", MTLSD_VERSION,
	    (long long)(now - started_at));
	for (i = 0; i < HS_COUNT; i++)
		out_fmt(&o, " %s %llu%s", result_names[i], (unsigned long long)c.handshakes[i],
		    i + 1 < HS_COUNT ? "," : "\n");
	out_fmt(&o, "requests: 2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu; %llu bytes sent\n",
	    (unsigned long long)c.requests[0], (unsigned long long)c.requests[1],
	    (unsigned long long)c.requests[2], (unsigned long long)c.requests[3],
	    (unsigned long long)c.response_bytes);
	out_fmt(&o, "connections:");
	for (i = 0; i < G_COUNT; i++)
		out_fmt(&o, " %s %llu,", state_names[i], (unsigned long long)c.connections[i]);
	out_fmt(&o, " of %llu slots; %llu evicted\n", (unsigned long long)c.slots,
	    (unsigned long long)c.evictions);
	out_fmt(&o, "session cache: %llu resumed, %llu full handshakes\n",
	    (unsigned long long)c.cache_hits, (unsigned long long)c.cache_misses);
	out_fmt(&o, "reloads: %llu ok, %llu failed; certificates loaded ",
	    (unsigned long long)reloads_ok, (unsigned long long)reloads_failed);
	put_time(&o, loaded_at);
	out_fmt(&o, "\n\ncertificates:\n");
	for (i = 0; i < cert_count; i++) {
		int64_t left = certs[i].at - (int64_t)now;

		out_fmt(&o, "  %-6s %s: %s ", certs[i].kind == K_SERVER ? "server"
		    : certs[i].kind == K_CA ? "CA" : "CRL", certs[i].subject,
		    certs[i].kind == K_CRL ? "next update" : "expires");
		put_time(&o, certs[i].at);
		if (left < 0)
			out_fmt(&o, " (%lld days ago)\n", (long long)(-left / 86400));
		else
			out_fmt(&o, " (in %lld days)\n", (long long)(left / 86400));
	}
	return o.overflow ? 0 : o.len;
}

/* ---- redirects ---- */

/* nginx's status line says "Moved Temporarily" for 302, its page "Found". */
static const char *
line_reason(int code)
{
	switch (code) {
	case 301: return "Moved Permanently";
	case 302: return "Moved Temporarily";
	case 303: return "See Other";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	default: return http_reason((enum status)code);
	}
}

static const char *
page_reason(int code)
{
	return code == 302 ? "Found" : line_reason(code);
}

/* nginx's page for a code, as http.c writes it for the TLS side. */
static void
put_page(struct out *o, int code, const char *detail)
{
	if (detail)
		out_fmt(o, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
		    "<center><h1>%d %s</h1></center>\r\n<center>%s</center>\r\n",
		    code, detail, code, page_reason(code), detail);
	else
		out_fmt(o, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
		    "<center><h1>%d %s</h1></center>\r\n", code, page_reason(code),
		    code, page_reason(code));
	out_str(o, "<hr><center>" SERVER_TOKEN "</center>\r\n</body>\r\n</html>\r\n");
}

/* $host: the request's host without the port and a final dot, in lower case. */
static void
put_host(struct out *o, struct text h)
{
	size_t n = h.len, i;

	if (n > 0 && h.p[0] == '[') {
		const char *end = memchr(h.p, ']', n);

		n = end ? (size_t)(end - h.p) + 1 : n;
	} else {
		const char *colon = memchr(h.p, ':', n);

		n = colon ? (size_t)(colon - h.p) : n;
	}
	if (n > 1 && h.p[n - 1] == '.')
		n--;
	for (i = 0; i < n; i++) {
		char c = h.p[i];

		c = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		out_put(o, &c, 1);
	}
}

/* The return's URL with $host, $server_name, $request_uri and $scheme filled in. */
static void
put_target(struct out *o, const struct redirect *r, const struct http_request *req)
{
	static const char *const names[] = { "$host", "$server_name", "$request_uri",
		"$scheme" };
	const char *t = r->target;
	size_t k, n;

	while (*t) {
		for (k = 0; *t == '$' && k < sizeof names / sizeof names[0]; k++)
			if (strncmp(t, names[k], strlen(names[k])) == 0)
				break;
		if (*t != '$' || k == sizeof names / sizeof names[0]) {
			out_put(o, t++, 1);
			continue;
		}
		t += strlen(names[k]);
		switch (k) {
		case 0:
			if (req->host.len > 0)
				put_host(o, req->host);
			else
				out_str(o, r->server_name);
			break;
		case 1:
			out_str(o, r->server_name);
			break;
		case 2:
			/* As received, but without an absolute form's scheme and host. */
			if (req->target.len > 0 && req->target.p[0] == '/') {
				out_put(o, req->target.p, req->target.len);
			} else if (req->path.p >= req->target.p
			    && req->path.p < req->target.p + req->target.len) {
				n = req->target.len - (size_t)(req->path.p - req->target.p);
				out_put(o, req->path.p, n);
			} else {
				out_str(o, "/");
			}
			break;
		default:
			out_str(o, "http");
			break;
		}
	}
}

/*
 * Writes the whole answer to the request head buf[0..len) (complete, or
 * REDIRECT_HEAD_MAX bytes without an end when too_large) into out: nginx's
 * redirect with r's target filled in, or its 400/414 page for a bad
 * request. *keep_alive says whether the connection may carry another
 * request. Returns the length (0 if out is too small).
 */
static size_t
redirect_answer(const struct redirect *r, const char *buf, size_t len,
    bool too_large, time_t now, bool *keep_alive, char *out, size_t cap)
{
	struct out o = { out, 0, cap, false }, page;
	char date[HTTP_DATE_SIZE], body[1024], path[REDIRECT_HEAD_MAX + 16];
	struct http_request req;
	int code;

	if (too_large)
		http_head_too_large(buf, len, &req);
	else
		http_parse_head(buf, len, &req);
	/* nginx refuses a path it cannot normalise before any return. */
	if (req.error == S_NONE && http_normalize_path(req.path.p, req.path.len,
	    path, sizeof path) < 0) {
		req.error = S_BAD_REQUEST;
		req.error_detail = NULL;
	}
	code = req.error != S_NONE ? (int)req.error : r->code;
	/* A body would have to be read and thrown away: close instead. */
	*keep_alive = req.error == S_NONE && req.keep_alive && !req.has_body;
	page = (struct out){ body, 0, sizeof body, false };
	put_page(&page, code, req.error != S_NONE ? req.error_detail : NULL);
	http_format_date(now, date);
	out_fmt(&o, "HTTP/1.1 %d %s\r\n", code, line_reason(code));
	out_str(&o, "Server: " SERVER_TOKEN "\r\nDate: ");
	out_str(&o, date);
	out_fmt(&o, "\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n"
	    "Connection: %s\r\n", page.len, *keep_alive ? "keep-alive" : "close");
	if (req.error == S_NONE) {
		out_str(&o, "Location: ");
		put_target(&o, r, &req);
		out_str(&o, "\r\n");
	}
	out_str(&o, "\r\n");
	if (req.method != M_HEAD)
		out_put(&o, body, page.len);
	return o.overflow || page.overflow ? 0 : o.len;
}

/* ---- the listener ---- */

enum side_state { SIDE_FREE, SIDE_READING, SIDE_WRITING, SIDE_LINGERING };

struct slot {
	enum side_state state;
	int fd;
	const struct redirect *r;       /* NULL: a scraper on --status */
	int64_t deadline;
	unsigned long requests;
	bool keep_alive;
	size_t in_len, in_cap, head_len, out_len, out_cap, out_sent;
	char in[REDIRECT_HEAD_MAX];
	char *out;
};

/* The redirects' slots, then the scrapers': a flood of one leaves the other. */
static struct slot slots[REDIRECT_SLOTS + STATUS_SLOTS];
static char redirect_out[REDIRECT_SLOTS][REDIRECT_ANSWER_MAX];
static char status_out[STATUS_SLOTS][STATUS_ANSWER_MAX];
static char status_page[STATUS_ANSWER_MAX];     /* one is made at a time */
/* Port 0 is --status (fd -1 when off), the others redirect. */
static struct {
	int fd;
	const struct redirect *r;
} ports[1 + MAX_LISTENERS] = { { -1, NULL } };
static int port_count = 1;
static long header_ms, keepalive_ms, request_limit;
static int64_t accept_paused_until;    /* out of descriptors: wait, do not spin */
static size_t slots_busy;   /* not SIDE_FREE: most servers have none, ever */

void
status_init(int fd)
{
	ports[0].fd = fd;
}

void
status_close(void)
{
	if (ports[0].fd >= 0)
		close(ports[0].fd);
	ports[0].fd = -1;
}

void
redirect_init(const struct redirect *r, const int *fds, int count,
    long header_timeout, long keepalive_timeout, long max_requests)
{
	for (port_count = 1; port_count <= count && port_count <= MAX_LISTENERS;
	    port_count++) {
		ports[port_count].fd = fds[port_count - 1];
		ports[port_count].r = &r[port_count - 1];
	}
	header_ms = header_timeout * 1000;
	keepalive_ms = keepalive_timeout * 1000;
	request_limit = max_requests;
}

#define TEXT_TYPE "text/plain; charset=utf-8"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The scrapers' answer to the head buf[0..len), as redirect_answer(). */
static size_t
status_answer(const char *buf, size_t len, bool too_large, time_t now, char *out,
    size_t cap)
{
	struct out o = { out, 0, cap, false };
	struct http_request req;
	const char *line = "431 Request Header Fields Too Large", *extra = "",
	    *type = TEXT_TYPE, *body = "request head too large\n";
	size_t body_len;
	bool metrics = false, head_only = false;

	memset(&req, 0, sizeof req);
	if (!too_large)
		http_parse_head(buf, len, &req);
	if (too_large) {
	} else if (req.error != S_NONE) {
		line = "400 Bad Request";
		body = "bad request\n";
	} else if (req.method != M_GET && req.method != M_HEAD) {
		line = "405 Method Not Allowed";
		body = "only GET and HEAD\n";
		extra = "Allow: GET, HEAD\r\n";
	} else if (!(metrics = req.path.len == 8 && memcmp(req.path.p, "/metrics", 8) == 0)
	    && !(req.path.len == 7 && memcmp(req.path.p, "/status", 7) == 0)) {
		line = "404 Not Found";
		head_only = req.method == M_HEAD;
		body = "not found: try /metrics or /status\n";
	} else if ((len = metrics ? status_metrics_page(status_page, sizeof status_page, now)
	    : status_text_page(status_page, sizeof status_page, now)) == 0) {
		line = "500 Internal Server Error";
		head_only = req.method == M_HEAD;
		body = "the page is larger than mtlsd's buffer for it\n";
	} else {
		line = "200 OK";
		head_only = req.method == M_HEAD;
		type = metrics ? METRICS_TYPE : TEXT_TYPE;
		body = status_page;
	}
	body_len = body == status_page ? len : strlen(body);
	out_fmt(&o, "HTTP/1.1 %s\r\nServer: mtlsd\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%sConnection: close\r\n\r\n",
	    line, type, body_len, extra);
	if (!head_only)
		out_put(&o, body, body_len);
	return o.overflow ? 0 : o.len;
}

static void
slot_close(struct slot *s)
{
	close(s->fd);
	s->fd = -1;
	s->state = SIDE_FREE;
	slots_busy--;
}

/* Answers the head now in the buffer, if it is complete (or too large). */
static void
slot_answer(struct slot *s, int64_t now_ms, time_t now)
{
	size_t end = http_head_end(s->in, s->in_len, 0);

	if (end == 0 && s->in_len < s->in_cap)
		return;
	s->head_len = end ? end : s->in_len;
	s->keep_alive = false;
	s->out_len = s->r ? redirect_answer(s->r, s->in, s->head_len, end == 0, now,
	    &s->keep_alive, s->out, s->out_cap)
	    : status_answer(s->in, s->head_len, end == 0, now, s->out, s->out_cap);
	s->out_sent = 0;
	s->requests++;
	if (request_limit > 0 && s->requests >= (unsigned long)request_limit)
		s->keep_alive = false;
	if (s->out_len == 0) {
		slot_close(s);      /* cannot happen: the buffer fits any answer */
		return;
	}
	s->state = SIDE_WRITING;
	if (s->r)           /* a scraper's deadline is for the whole exchange */
		s->deadline = now_ms + header_ms;
}

static void
slot_step(struct slot *s, int64_t now_ms, time_t now)
{
	ssize_t n;
	char sink[4096];
	int i;

	switch (s->state) {
	case SIDE_READING:
		n = recv(s->fd, s->in + s->in_len, s->in_cap - s->in_len, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			slot_close(s);
			return;
		}
		if (n < 0)
			return;
		s->in_len += (size_t)n;
		slot_answer(s, now_ms, now);
		if (s->state != SIDE_WRITING)
			return;
		/* FALLTHROUGH */
	case SIDE_WRITING:
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
		if (!s->keep_alive) {
			/* Read what the client still sends, so that close() sends no reset. */
			shutdown(s->fd, SHUT_WR);
			s->state = SIDE_LINGERING;
			if (s->r || s->deadline > now_ms + LINGER_MS)
				s->deadline = now_ms + LINGER_MS;
			return;
		}
		/* The next request, perhaps already here (pipelined). */
		memmove(s->in, s->in + s->head_len, s->in_len - s->head_len);
		s->in_len -= s->head_len;
		s->state = SIDE_READING;
		s->deadline = now_ms + keepalive_ms;
		slot_answer(s, now_ms, now);
		return;
	case SIDE_LINGERING:
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
	case SIDE_FREE:
		return;
	}
}

/* The slots port p's clients take: [*first, *end). */
static void
pool(int p, size_t *first, size_t *end)
{
	*first = p == 0 ? REDIRECT_SLOTS : 0;
	*end = p == 0 ? REDIRECT_SLOTS + STATUS_SLOTS : REDIRECT_SLOTS;
}

static bool
slot_free(int p)
{
	size_t i, end;

	for (pool(p, &i, &end); i < end; i++)
		if (slots[i].state == SIDE_FREE)
			return true;
	return false;
}

static void
accept_on(int p, int64_t now_ms)
{
	size_t i, end;
	struct slot *s;
	int fd;

	for (pool(p, &i, &end); i < end; i++) {
		s = &slots[i];
		if (s->state != SIDE_FREE)
			continue;
		fd = accept4(ports[p].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
			    || errno == ENOMEM)
				accept_paused_until = now_ms + ACCEPT_PAUSE_MS;
			return;
		}
		s->state = SIDE_READING;
		slots_busy++;
		s->fd = fd;
		s->r = ports[p].r;
		s->deadline = now_ms + (s->r ? header_ms : STATUS_TIMEOUT_MS);
		s->requests = 0;
		s->in_len = 0;
		s->in_cap = s->r ? sizeof s->in : STATUS_HEAD_MAX;
		s->out = s->r ? redirect_out[i] : status_out[i - REDIRECT_SLOTS];
		s->out_cap = s->r ? REDIRECT_ANSWER_MAX : STATUS_ANSWER_MAX;
	}
}

size_t
side_pollfds(struct pollfd *pfd, int64_t now_ms, bool redirects)
{
	size_t n = 0, i;
	int p;

	for (p = 0; p < (redirects ? port_count : 1); p++)
		if (ports[p].fd >= 0 && accept_paused_until <= now_ms && slot_free(p)) {
			pfd[n].fd = ports[p].fd;
			pfd[n].events = POLLIN;
			pfd[n++].revents = 0;
		}
	for (i = 0; slots_busy > 0 && i < REDIRECT_SLOTS + STATUS_SLOTS; i++) {
		if (slots[i].state == SIDE_FREE)
			continue;
		pfd[n].fd = slots[i].fd;
		pfd[n].events = slots[i].state == SIDE_WRITING ? POLLOUT : POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

void
side_ready(const struct pollfd *pfd, size_t n, int64_t now_ms, time_t now)
{
	size_t k, i;
	int p;

	for (k = 0; k < n; k++) {
		if (pfd[k].revents == 0)
			continue;
		for (p = 0; p < port_count; p++)
			if (ports[p].fd == pfd[k].fd)
				break;
		if (p < port_count) {
			accept_on(p, now_ms);
			continue;
		}
		for (i = 0; i < REDIRECT_SLOTS + STATUS_SLOTS; i++)
			if (slots[i].state != SIDE_FREE && slots[i].fd == pfd[k].fd) {
				slot_step(&slots[i], now_ms, now);
				break;
			}
	}
}

int64_t
side_expire(int64_t now_ms)
{
	int64_t nearest = accept_paused_until > now_ms ? accept_paused_until : INT64_MAX;
	size_t i;

	for (i = 0; slots_busy > 0 && i < REDIRECT_SLOTS + STATUS_SLOTS; i++) {
		if (slots[i].state == SIDE_FREE)
			continue;
		if (slots[i].deadline <= now_ms)
			slot_close(&slots[i]);
		else if (slots[i].deadline < nearest)
			nearest = slots[i].deadline;
	}
	return nearest;
}
