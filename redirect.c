/*
 * redirect.c - plain-HTTP ports that only redirect (see redirect.h).
 *
 * The answer is nginx 1.22's to "return CODE URL" byte for byte but the
 * server token: the same status line, headers in its order (Location
 * last), its page. A connection is a fixed slot with a head buffer and an
 * answer buffer; nothing is allocated, and the number of slots bounds what
 * a flood can take (the rest waits in the listen backlog).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "redirect.h"

#define LINGER_MS 2000
#define ACCEPT_PAUSE_MS 100

struct out {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
putf(struct out *o, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf) {
		o->overflow = true;
		return;
	}
	put(o, buf, (size_t)n);
}

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
		putf(o, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
		    "<center><h1>%d %s</h1></center>\r\n<center>%s</center>\r\n",
		    code, detail, code, page_reason(code), detail);
	else
		putf(o, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
		    "<center><h1>%d %s</h1></center>\r\n", code, page_reason(code),
		    code, page_reason(code));
	puts_(o, "<hr><center>" SERVER_TOKEN "</center>\r\n</body>\r\n</html>\r\n");
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
		put(o, &c, 1);
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
			put(o, t++, 1);
			continue;
		}
		t += strlen(names[k]);
		switch (k) {
		case 0:
			if (req->host.len > 0)
				put_host(o, req->host);
			else
				puts_(o, r->server_name);
			break;
		case 1:
			puts_(o, r->server_name);
			break;
		case 2:
			/* As received, but without an absolute form's scheme and host. */
			if (req->target.len > 0 && req->target.p[0] == '/') {
				put(o, req->target.p, req->target.len);
			} else if (req->path.p >= req->target.p
			    && req->path.p < req->target.p + req->target.len) {
				n = req->target.len - (size_t)(req->path.p - req->target.p);
				put(o, req->path.p, n);
			} else {
				puts_(o, "/");
			}
			break;
		default:
			puts_(o, "http");
			break;
		}
	}
}

size_t
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
	putf(&o, "HTTP/1.1 %d %s\r\n", code, line_reason(code));
	puts_(&o, "Server: " SERVER_TOKEN "\r\nDate: ");
	puts_(&o, date);
	putf(&o, "\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n"
	    "Connection: %s\r\n", page.len, *keep_alive ? "keep-alive" : "close");
	if (req.error == S_NONE) {
		puts_(&o, "Location: ");
		put_target(&o, r, &req);
		puts_(&o, "\r\n");
	}
	puts_(&o, "\r\n");
	if (req.method != M_HEAD)
		put(&o, body, page.len);
	return o.overflow || page.overflow ? 0 : o.len;
}

/* ---- connections ---- */

enum rstate { R_FREE, R_READING, R_WRITING, R_LINGERING };

struct rslot {
	enum rstate state;
	int fd;
	const struct redirect *r;
	int64_t deadline;
	unsigned long requests;
	bool keep_alive;
	size_t in_len, head_len, out_len, out_sent;
	char in[REDIRECT_HEAD_MAX];
	char out[REDIRECT_ANSWER_MAX];
};

static struct rslot slots[REDIRECT_SLOTS];
static size_t busy;
static struct {
	int fd;
	const struct redirect *r;
} ports[MAX_LISTENERS];
static int port_count;
static long header_ms, keepalive_ms, request_limit;
static int64_t accept_paused_until;    /* out of descriptors: wait, do not spin */

void
redirect_init(const struct redirect *r, const int *fds, int count,
    long header_timeout, long keepalive_timeout, long max_requests)
{
	int i;

	for (i = 0; i < count && i < MAX_LISTENERS; i++) {
		ports[i].fd = fds[i];
		ports[i].r = &r[i];
	}
	port_count = i;
	header_ms = header_timeout * 1000;
	keepalive_ms = keepalive_timeout * 1000;
	request_limit = max_requests;
}

static void
slot_close(struct rslot *s)
{
	close(s->fd);
	s->fd = -1;
	s->state = R_FREE;
	busy--;
}

static void
slot_linger(struct rslot *s, int64_t now_ms)
{
	shutdown(s->fd, SHUT_WR);
	s->state = R_LINGERING;
	s->deadline = now_ms + LINGER_MS;
}

/* Answers the head now in the buffer, if it is complete (or too large). */
static void
slot_answer(struct rslot *s, int64_t now_ms, time_t now)
{
	size_t end = http_head_end(s->in, s->in_len, 0);

	if (end == 0 && s->in_len < sizeof s->in)
		return;
	s->head_len = end ? end : s->in_len;
	s->out_len = redirect_answer(s->r, s->in, s->head_len, end == 0, now,
	    &s->keep_alive, s->out, sizeof s->out);
	s->out_sent = 0;
	s->requests++;
	if (request_limit > 0 && s->requests >= (unsigned long)request_limit)
		s->keep_alive = false;
	if (s->out_len == 0) {
		slot_close(s);      /* cannot happen: the buffer fits any answer */
		return;
	}
	s->state = R_WRITING;
	s->deadline = now_ms + header_ms;
}

static void
slot_step(struct rslot *s, int64_t now_ms, time_t now)
{
	ssize_t n;
	char sink[4096];
	int i;

	switch (s->state) {
	case R_READING:
		n = recv(s->fd, s->in + s->in_len, sizeof s->in - s->in_len, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			slot_close(s);
			return;
		}
		if (n < 0)
			return;
		s->in_len += (size_t)n;
		slot_answer(s, now_ms, now);
		if (s->state != R_WRITING)
			return;
		/* FALLTHROUGH */
	case R_WRITING:
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
			slot_linger(s, now_ms);
			return;
		}
		/* The next request, perhaps already here (pipelined). */
		memmove(s->in, s->in + s->head_len, s->in_len - s->head_len);
		s->in_len -= s->head_len;
		s->state = R_READING;
		s->deadline = now_ms + keepalive_ms;
		slot_answer(s, now_ms, now);
		return;
	case R_LINGERING:
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
	case R_FREE:
		return;
	}
}

static void
accept_on(int p, int64_t now_ms)
{
	size_t i;
	int fd;

	for (i = 0; i < REDIRECT_SLOTS && busy < REDIRECT_SLOTS; i++) {
		if (slots[i].state != R_FREE)
			continue;
		fd = accept4(ports[p].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
			    || errno == ENOMEM)
				accept_paused_until = now_ms + ACCEPT_PAUSE_MS;
			return;
		}
		slots[i].state = R_READING;
		slots[i].fd = fd;
		slots[i].r = ports[p].r;
		slots[i].deadline = now_ms + header_ms;
		slots[i].requests = 0;
		slots[i].in_len = 0;
		busy++;
	}
}

size_t
redirect_pollfds(struct pollfd *pfd, int64_t now_ms)
{
	size_t n = 0, i;
	int p;

	if (busy < REDIRECT_SLOTS && accept_paused_until <= now_ms)
		for (p = 0; p < port_count; p++) {
			pfd[n].fd = ports[p].fd;
			pfd[n].events = POLLIN;
			pfd[n++].revents = 0;
		}
	for (i = 0; i < REDIRECT_SLOTS; i++) {
		if (slots[i].state == R_FREE)
			continue;
		pfd[n].fd = slots[i].fd;
		pfd[n].events = slots[i].state == R_WRITING ? POLLOUT : POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

void
redirect_ready(const struct pollfd *pfd, size_t n, int64_t now_ms, time_t now)
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
		for (i = 0; i < REDIRECT_SLOTS; i++)
			if (slots[i].state != R_FREE && slots[i].fd == pfd[k].fd) {
				slot_step(&slots[i], now_ms, now);
				break;
			}
	}
}

int64_t
redirect_expire(int64_t now_ms)
{
	int64_t nearest = accept_paused_until > now_ms ? accept_paused_until : INT64_MAX;
	size_t i;

	for (i = 0; i < REDIRECT_SLOTS; i++) {
		if (slots[i].state == R_FREE)
			continue;
		if (slots[i].deadline <= now_ms)
			slot_close(&slots[i]);
		else if (slots[i].deadline < nearest)
			nearest = slots[i].deadline;
	}
	return nearest;
}
