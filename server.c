/*
 * server.c - mtlsd's main: options, listeners, the poll loop, connection
 * slots, signals and logs.
 *
 * One process, one thread. Every connection lives in a slot allocated at
 * start-up; nothing is allocated while serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "filecache.h"
#include "http.h"
#include "proxy.h"
#include "priv.h"
#include "server.h"
#include "side.h"
#include "tls.h"

#define ACCEPTS_PER_WAKEUP 64
#define STEPS_PER_WAKEUP 64        /* records one client may move per round */
#define LINGER_MS 2000              /* reading after our close, as nginx does */
#define LINGER_READS 16             /* 4 KiB reads per wake-up while lingering */
#define CLOSE_NOTIFY_MS 5000
#define ACCEPT_BACKOFF_MS 100
#define EVICT_MIN_AGE_MS 100        /* a new connection's time to send its first bytes */
#define LOG_BUFFER_BYTES 65536
#define MAX_WORKERS 64
#define CLIENT_LINES_PER_SECOND 100 /* error-log lines caused by clients */
/*
 * A keep-alive connection that has waited this long for its next request,
 * with nothing buffered, gives back the pages of its buffers (see
 * release_buffers()). Not at once: madvise() costs 3-4 us and each page
 * touched again 2 us (a small request touches about 4), 10-15 us in all,
 * about half of what a keep-alive request costs. After 200 ms of quiet
 * that is noise, and a client sending requests back to back never pays it.
 */
#define IDLE_RELEASE_MS 200

/* Debian's libbearssl-dev version, from the Makefile: BearSSL 0.6 has no runtime query. */
#ifndef BEARSSL_VERSION
#define BEARSSL_VERSION "unknown"
#endif


/* Where a connection is, in the order a request goes; each has its deadline. */
enum conn_state {
	C_FREE,
	C_PROXY,       /* reading the PROXY protocol header (--proxy-protocol) */
	C_HANDSHAKE,   /* TLS handshake in progress */
	C_HEAD,        /* reading a request head, or idle before one */
	C_WAIT_FILE,   /* a head read, waiting for a descriptor to answer it */
	C_SEND_HEAD,   /* writing a response's head */
	C_SEND_BODY,   /* writing its body; then C_SKIP_BODY, C_HEAD or C_CLOSING */
	C_SKIP_BODY,   /* reading the answered request's body, to drop it */
	C_CLOSING,     /* close_notify queued, flushing it */
	C_LINGERING,   /* write side shut; draining what the client still sends */
};

struct conn {
	enum conn_state state;
	int fd;
	int64_t deadline;           /* ms, monotonic; when this state gives up */
	int64_t release_at;         /* ms; when an idle connection gives back its
	                               buffers' pages; 0: not waiting to */
	int64_t accepted_at;        /* ms, for choosing whom to evict */
	unsigned requests;          /* responses begun on this connection */
	bool unflushed;             /* plaintext given to the engine, not flushed */
	bool runnable;              /* has work that needs no I/O event */
	bool handshake_counted;     /* in --status's mtlsd_handshakes_total */
	bool holds_file;            /* counted in files.in_flight */
	struct conn *wait_prev, *wait_next; /* in files.waiting or files.woken */
	struct conn_list *wait_list;
	size_t active_index;        /* position in active[] while busy */
	/* What loop holds for it, brought up to date by conn_sync(): */
	short events;               /* POLLIN, POLLOUT: its epoll interest */
	int group;                  /* its --status group, counted */
	int64_t due;                /* the earlier of deadline and release_at */
	size_t timer_index;         /* position in loop.timers */
	bool queued;                /* in loop.runnable (maybe since freed) */
	char peer[INET6_ADDRSTRLEN];
	unsigned peer_port;
	char local[INET6_ADDRSTRLEN + 2];
	unsigned local_port;
	char *in;                   /* request head buffer, in_capacity() bytes;
	                               during the handshake, the client certificate;
	                               in the slot's buffers, after its tls_buffers */
	size_t in_len, scanned;
	size_t head_len;            /* of the request being answered */
	uint64_t body_left;         /* C_SKIP_BODY: Content-Length bytes to skip */
	bool body_chunked;          /* C_SKIP_BODY: or a chunked body */
	struct chunked_skipper skipper;
	struct http_request req;
	struct http_response resp;
	struct tls_session tls;
	struct tls_access access;   /* what let the current request in */
};

/* A first-in, first-out list of connections, linked through them. */
struct conn_list {
	struct conn *first, *last;
};

struct listener {
	int fd;
	char name[INET6_ADDRSTRLEN + 10];
};

static bool proxy_read(struct conn *c);
static void share_port(int fd, const struct sockaddr *addr, socklen_t addr_len,
    const char *spec);

static struct options opt = OPTIONS_DEFAULTS;

static struct http_site site;
static struct file_cache file_cache;

/* The listening sockets, and why accept() waits. */
static struct {
	struct listener at[MAX_LISTENERS];
	int count;
	int64_t paused_until;       /* out of descriptors */
	int64_t full_until;         /* no free slot and nobody to evict yet */
} listeners;

/*
 * The connection slots, allocated at start-up. Each slot's buffers are
 * page-aligned, stride bytes apart in buffers: its struct tls_buffers
 * (BearSSL's record buffers, the chain check), then its head buffer.
 * struct conn (the engine's state, the request) is kept apart, in conns[],
 * so that an idle connection can give back every page of its buffers and
 * keep only its struct conn, about 7 KiB.
 */
static struct {
	struct conn *conns;
	size_t count;
	size_t *free, free_count;
	struct conn **active;       /* the busy slots, densely */
	size_t active_count;
	unsigned char *buffers;
	size_t stride;
	/* poll()'s: the signal pipe, the listeners, loop.epoll_fd, side.c's */
	struct pollfd pollfds[2 + MAX_LISTENERS + SIDE_POLLFDS];
	size_t side_first;          /* pollfds[] from here are side.c's */
} slots;

/*
 * What the loop waits for, kept up to date as each connection changes
 * (conn_sync()), so that a pass costs what the connections that moved
 * cost, whatever the number of idle ones: their sockets in an epoll set
 * (level-triggered, with the interest the engine asks for), their
 * deadlines in a binary heap, the ones with work left in a list, and the
 * --status groups as counts. Arrays sized at start-up, one entry a slot.
 */
static struct {
	int epoll_fd;               /* each worker's own, made in run() */
	struct epoll_event *events; /* epoll_wait()'s */
	int events_max;
	struct conn **timers;       /* a heap by due, earliest first */
	size_t timer_count;
	struct conn **runnable;     /* runnable ones, and ones freed since */
	size_t runnable_count;
	uint64_t groups[G_COUNT];
} loop = { .epoll_fd = -1 };

/*
 * Descriptors for the files of responses in flight. A connection always
 * has its socket; a response holds one more descriptor from its start to
 * its end (the file, or an autoindex listing's memfd). When the open file
 * limit is too low for every connection to hold a file at once, budget is
 * lower than the slots, and a request read while all are taken waits in
 * C_WAIT_FILE, in order of arrival, until a response ends and hands its
 * descriptor on.
 */
static struct {
	size_t budget;
	size_t in_flight;
	struct conn_list waiting;   /* C_WAIT_FILE, none handed yet */
	struct conn_list woken;     /* handed one, to run next pass */
	int64_t warned_at;          /* ms; the last "in use" warning, 0: none */
} files;

/* Read once per wake-up: monotonic ms for deadlines, wall time for logs. */
static struct {
	int64_t ms;
	time_t wall;
} now;

/*
 * Signals, shutdown and reloads. A supervisor that keeps root forks the
 * workers (--workers > 1, --user, --chroot or --sandbox): each worker drops
 * what it does not need, and a reload is a new generation of workers
 * started from what the supervisor read, as nginx's master does.
 */
static struct {
	volatile sig_atomic_t stop_requested, reload_requested, child_exited;
	int signal_pipe[2];
	bool shutting_down;
	int64_t shutdown_deadline;
	bool supervised;
	pid_t supervisor_pid;
	int sockets_opened;         /* workers whose sockets are open */
	bool worker_cannot_drop;    /* a worker exited with EXIT_PRIVILEGES */
	unsigned long reload_generation;    /* reloads tried, for -s reload */
	pid_t pid_file_owner;       /* the process that wrote the pid file */
	char reload_status_file[4096];
} life = { .signal_pipe = { -1, -1 } };

/*
 * The logs. Lines about clients are capped per second: anyone who can
 * connect can make them, and a flood of connections must not fill the disk
 * through the error log. How many were dropped is logged with the next
 * line, and at exit. The access log's buffer is apart: in an initialised
 * struct it would be 64 KiB of the binary, not of zeroed memory.
 */
static char access_log_buffer[LOG_BUFFER_BYTES];
static struct {
	char tag[24];               /* "worker N: " in a worker */
	int access_fd, error_fd;
	size_t access_write_max;    /* PIPE_BUF when workers share a pipe */
	char *access_buf;           /* access_log_buffer */
	size_t access_len;
	unsigned long access_dropped, client_dropped, client_unreported;
} logs = { .access_fd = -1, .error_fd = -1, .access_write_max = SIZE_MAX,
    .access_buf = access_log_buffer };

/* Start-up: what the command line asked for beside opt. */
static struct {
	const char *listen_option;  /* the option parse_listen() names */
	const char *signal_name;    /* -s reload: check, signal, report */
	bool listen_from_file;      /* --nginx-conf's listens: a -l replaces them */
	const char *nginx_conf_path;
	char *nginx_conf_strings;   /* what opt's strings from the file point into */
	bool config_test;
	bool reload_checking;       /* -s reload's checks, before SIGHUP */
} args = { .listen_option = "--listen" };

/* ---- logs ---- */


static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs(args.reload_checking ? "mtlsd: reload not sent: " : "mtlsd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
log_error(const char *level, const struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
client_line_allowed(void)
{
	static time_t second;
	static unsigned lines;

	/* The second of the lines' time stamps. */
	if (now.wall != second) {
		second = now.wall;
		lines = 0;
	}
	if (lines < CLIENT_LINES_PER_SECOND) {
		lines++;
		return true;
	}
	logs.client_dropped++;
	logs.client_unreported++;
	return false;
}

/* Error log on stderr, nginx-like: date, level, client, message. */
static void
log_error(const char *level, const struct conn *c, const char *fmt, ...)
{
	char stamp[32], msg[512];
	struct tm tm;
	va_list ap;

	if (c && !client_line_allowed())
		return;
	localtime_r(&now.wall, &tm);
	strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S", &tm);
	if (logs.client_unreported > 0) {
		fprintf(stderr, "%s [warn] %lu lines about clients were not logged "
		    "(more than %d a second)\n", stamp, logs.client_unreported,
		    CLIENT_LINES_PER_SECOND);
		logs.client_unreported = 0;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c)
		fprintf(stderr, "%s [%s] %sclient %s:%u: %s\n", stamp, level,
		    logs.tag, c->peer, c->peer_port, msg);
	else
		fprintf(stderr, "%s [%s] %s%s\n", stamp, level, logs.tag, msg);
}

/* Copies text into a log line, escaping what could forge or break lines. */
static size_t
log_escape(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, i;

	for (i = 0; i < len && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

static void
access_log_flush(void)
{
	ssize_t n;
	size_t len;
	const char *end;

	while (logs.access_len > 0) {
		len = logs.access_len;
		if (len > logs.access_write_max) {
			/* Whole lines only: a pipe keeps such a write in one piece. */
			end = memrchr(logs.access_buf, '\n', logs.access_write_max);
			len = end ? (size_t)(end - logs.access_buf) + 1
			    : logs.access_write_max;
		}
		n = write(logs.access_fd, logs.access_buf, len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			/* A full pipe: keep the lines for the next round. */
			return;
		}
		memmove(logs.access_buf, logs.access_buf + n,
		    logs.access_len - (size_t)n);
		logs.access_len -= (size_t)n;
	}
}

/* One line per response, combined format, client certificate CN as user. */
static void
access_log_write(const struct conn *c)
{
	char line[2048], stamp[40], request[700], user[200], referer[400], agent[500];
	char allowed[400], allowed_log[500];
	const char *cn = tls_session_client_cn(&c->tls);
	struct tm tm;
	int n;

	/* Every response, logged or not, passes here once. */
	status_count_request(c->resp.status);
	if (logs.access_fd < 0)
		return;
	gmtime_r(&now.wall, &tm);
	strftime(stamp, sizeof stamp, "%d/%b/%Y:%H:%M:%S +0000", &tm);
	log_escape(request, sizeof request, c->req.line.p, c->req.line.len);
	log_escape(user, sizeof user, cn && *cn ? cn : "-", cn && *cn ? strlen(cn) : 1);
	log_escape(referer, sizeof referer, c->req.referer.len ? c->req.referer.p : "-",
	    c->req.referer.len ? c->req.referer.len : 1);
	log_escape(agent, sizeof agent, c->req.user_agent.len ? c->req.user_agent.p : "-",
	    c->req.user_agent.len ? c->req.user_agent.len : 1);
	allowed_log[0] = '\0';
	if (opt.access_log_identity) {
		/* After the combined fields, where log parsers tolerate extras. */
		tls_access_text(tls_session_identity(&c->tls), &c->access, allowed,
		    sizeof allowed);
		allowed_log[0] = ' ';
		allowed_log[1] = '"';
		n = (int)log_escape(allowed_log + 2, sizeof allowed_log - 3, allowed,
		    strlen(allowed));
		allowed_log[2 + n] = '"';
		allowed_log[3 + n] = '\0';
	}
	n = snprintf(line, sizeof line, "%s - %s [%s] \"%s\" %d %" PRIu64
	    " \"%s\" \"%s\"%s\n", c->peer, user, stamp, request, c->resp.status,
	    c->resp.body_bytes, referer, agent, allowed_log);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	if (logs.access_len + (size_t)n > sizeof access_log_buffer) {
		access_log_flush();
		if (logs.access_len + (size_t)n > sizeof access_log_buffer) {
			logs.access_dropped++;
			return;
		}
	}
	memcpy(logs.access_buf + logs.access_len, line, (size_t)n);
	logs.access_len += (size_t)n;
}

/*
 * The head buffer also holds the client's certificate during the handshake,
 * so it is never smaller than the largest certificate mtlsd inspects.
 */
static size_t
in_capacity(void)
{
	return opt.head_max > 8192 ? (size_t)opt.head_max : 8192;
}

/* ---- time ---- */

static void
update_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now.ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	now.wall = time(NULL);
	file_cache_tick(&file_cache, now.ms);
}

/* ---- connections ---- */

/* Between requests: before a head, or dropping the last request's body. */
static bool
reading(const struct conn *c)
{
	return c->state == C_HEAD || c->state == C_SKIP_BODY;
}

/* Each connection's handshake is counted once, however it ends. */
static void
count_handshake(struct conn *c, enum handshake_result r)
{
	if (!c->handshake_counted)
		status_count_handshake(r);
	c->handshake_counted = true;
}

/* ---- what the loop waits for (loop) ---- */

static short
wanted_events(const struct conn *c)
{
	return c->state == C_LINGERING || c->state == C_PROXY
	    ? POLLIN : tls_session_poll_events(&c->tls);
}

static int
conn_group(const struct conn *c)
{
	if (c->state == C_PROXY || c->state == C_HANDSHAKE)
		return G_HANDSHAKE;
	if (c->state == C_WAIT_FILE || c->state == C_SEND_HEAD
	    || c->state == C_SEND_BODY)
		return G_SENDING;
	if (reading(c) && (c->in_len > 0 || c->requests == 0))
		return G_READING;
	return G_IDLE;      /* keep-alive, closing, lingering */
}

static int64_t
conn_due(const struct conn *c)
{
	return c->release_at != 0 && c->release_at < c->deadline
	    ? c->release_at : c->deadline;
}

static int
watch(struct conn *c, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = (c->events & POLLIN ? EPOLLIN : 0U)
	    | (c->events & POLLOUT ? EPOLLOUT : 0U);
	ev.data.ptr = c;
	return epoll_ctl(loop.epoll_fd, op, c->fd, &ev);
}

static void
timer_place(struct conn *c, size_t i)
{
	loop.timers[i] = c;
	c->timer_index = i;
}

/* Moves c up or down the heap from where it is, after its due changed. */
static void
timer_fix(struct conn *c)
{
	size_t i = c->timer_index, child;

	while (i > 0 && c->due < loop.timers[(i - 1) / 2]->due) {
		timer_place(loop.timers[(i - 1) / 2], i);
		i = (i - 1) / 2;
	}
	while ((child = 2 * i + 1) < loop.timer_count) {
		if (child + 1 < loop.timer_count
		    && loop.timers[child + 1]->due < loop.timers[child]->due)
			child++;
		if (loop.timers[child]->due >= c->due)
			break;
		timer_place(loop.timers[child], i);
		i = child;
	}
	timer_place(c, i);
}

static void
timer_remove(struct conn *c)
{
	struct conn *last = loop.timers[--loop.timer_count];

	if (last != c) {
		timer_place(last, c->timer_index);
		timer_fix(last);
	}
}

/* A new connection joins the set, the heap and the counts. */
static bool
conn_watch(struct conn *c)
{
	c->group = conn_group(c);
	loop.groups[c->group]++;
	c->due = conn_due(c);
	timer_place(c, loop.timer_count++);
	timer_fix(c);
	c->events = wanted_events(c);
	return watch(c, EPOLL_CTL_ADD) == 0;
}

static void conn_abort(struct conn *c, const char *why);

/*
 * After anything that may have changed a connection (a step, a buffer
 * release): its epoll interest, its place in the heap, its group and its
 * place in the run list follow. Each costs nothing when it did not change.
 */
static void
conn_sync(struct conn *c)
{
	short events;
	int group;
	int64_t due;

	if (c->state == C_FREE)
		return;
	if ((events = wanted_events(c)) != c->events) {
		c->events = events;
		if (watch(c, EPOLL_CTL_MOD) < 0) {
			char why[80];

			snprintf(why, sizeof why, "epoll_ctl: %s", strerror(errno));
			conn_abort(c, why);
			return;
		}
	}
	if ((group = conn_group(c)) != c->group) {
		loop.groups[c->group]--;
		loop.groups[group]++;
		c->group = group;
	}
	if ((due = conn_due(c)) != c->due) {
		c->due = due;
		timer_fix(c);
	}
	if (c->runnable && !c->queued) {
		c->queued = true;
		loop.runnable[loop.runnable_count++] = c;
	}
}

/* ---- descriptors for files (files) ---- */

static void
list_append(struct conn_list *l, struct conn *c)
{
	c->wait_list = l;
	c->wait_next = NULL;
	c->wait_prev = l->last;
	if (l->last)
		l->last->wait_next = c;
	else
		l->first = c;
	l->last = c;
}

static void
list_remove(struct conn *c)
{
	struct conn_list *l = c->wait_list;

	if (!l)
		return;
	if (c->wait_prev)
		c->wait_prev->wait_next = c->wait_next;
	else
		l->first = c->wait_next;
	if (c->wait_next)
		c->wait_next->wait_prev = c->wait_prev;
	else
		l->last = c->wait_prev;
	c->wait_list = NULL;
	c->wait_prev = c->wait_next = NULL;
}

/* True when c may start a response now; otherwise it joins the queue. */
static bool
file_take(struct conn *c)
{
	if (c->holds_file)
		return true;
	if (files.in_flight < files.budget) {
		files.in_flight++;
		c->holds_file = true;
		return true;
	}
	if (c->wait_list)
		return false;
	/* A queue that forms is the operator's to know of, once a minute. */
	if (!files.waiting.first && (files.warned_at == 0
	    || now.ms - files.warned_at >= 60000)) {
		log_error("warn", NULL, "all %zu descriptors for files are in use: "
		    "requests wait their turn (raise the open file limit)",
		    files.budget);
		files.warned_at = now.ms;
	}
	list_append(&files.waiting, c);
	return false;
}

/*
 * A response ended: its descriptor goes to the first waiting request, which
 * runs in the loop's next pass (queue_woken(): the run list cannot grow in
 * the middle of a pass), or back to the budget.
 */
static void
file_give_back(struct conn *c)
{
	struct conn *next = files.waiting.first;

	if (!c->holds_file)
		return;
	c->holds_file = false;
	if (!next) {
		files.in_flight--;
		return;
	}
	list_remove(next);
	next->holds_file = true;
	list_append(&files.woken, next);
}

static void
queue_woken(void)
{
	struct conn *c;

	while ((c = files.woken.first)) {
		list_remove(c);
		c->runnable = true;
		conn_sync(c);
	}
}

static void
conn_free(struct conn *c)
{
	if (c->state == C_PROXY || c->state == C_HANDSHAKE)
		count_handshake(c, HS_OTHER);   /* timed out, evicted, cut off */
	tls_session_end(&c->tls);
	http_response_end(&c->resp);
	list_remove(c);
	file_give_back(c);
	loop.groups[c->group]--;
	timer_remove(c);
	if (c->fd >= 0) {
		/* epoll forgets a socket only once no descriptor holds it. */
		(void)epoll_ctl(loop.epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->state = C_FREE;
	c->runnable = false;
	slots.free[slots.free_count++] = (size_t)(c - slots.conns);
	listeners.full_until = 0;
	slots.active[c->active_index] = slots.active[--slots.active_count];
	slots.active[c->active_index]->active_index = c->active_index;
}

/* Ends a response in the middle: the client sees a short body, as with nginx. */
static void
conn_abort(struct conn *c, const char *why)
{
	if (c->state == C_SEND_HEAD || c->state == C_SEND_BODY) {
		log_error("info", c, "%s while sending response", why);
		access_log_write(c);
	} else if (why) {
		log_error("info", c, "%s", why);
	}
	conn_free(c);
}

static void
conn_start_close(struct conn *c)
{
	tls_session_close(&c->tls);
	c->state = C_CLOSING;
	c->deadline = now.ms + CLOSE_NOTIFY_MS;
}

static void
conn_start_linger(struct conn *c)
{
	if (shutdown(c->fd, SHUT_WR) < 0) {
		conn_free(c);
		return;
	}
	c->state = C_LINGERING;
	c->deadline = now.ms + LINGER_MS;
}

/* Reads a bounded amount: a client streaming bytes must not hold the loop. */
static void
linger_read(struct conn *c)
{
	char sink[4096];
	ssize_t n;
	int reads = 0;

	while ((n = recv(c->fd, sink, sizeof sink, 0)) > 0)
		if (++reads == LINGER_READS)
			return;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		conn_free(c);
}

/* Logs why, and closes without a reset so the client can read any alert. */
static void
handshake_failed(struct conn *c)
{
	const struct client_identity *id = tls_session_identity(&c->tls);
	int err = tls_session_error(&c->tls), why;
	enum verdict v;

	/* Strict mode's refusals: the certificate it asked for, absent or refused. */
	if (opt.tls.mode == VERIFY_STRICT
	    && (id->auth == AUTH_REJECTED || err == BR_ERR_NO_CLIENT_AUTH)
	    && (v = tls_access_check(id, NULL, 0, &c->access, &why)) != V_ALLOW) {
		count_handshake(c, status_handshake_result(id, (int64_t)now.wall));
		log_error("info", c, "%s, handshake refused",
		    tls_session_auth_failure(&c->tls));
		tls_session_send_refusal(&c->tls, c->fd, v);
	} else if (err == 0) {
		log_error("info", c, "client closed connection while SSL handshaking");
	} else {
		log_error("info", c, "SSL handshake failed: %s", tls_error_text(err));
	}
	count_handshake(c, HS_OTHER);
	conn_start_linger(c);
}

/*
 * nginx reads the part of a chunked body that came with the head before it
 * answers: a malformed body turns the file's answer into 400 (and one over
 * the limit into 413, here), and any other answer is followed by a close.
 */
static void
check_early_body(struct conn *c)
{
	struct chunked_skipper k;
	enum skip_result r;
	size_t used;

	if (c->req.error != S_NONE || !c->req.chunked)
		return;
	memset(&k, 0, sizeof k);
	r = http_chunked_skip(&k, c->in + c->head_len, c->in_len - c->head_len, &used);
	if (r != SKIP_BAD && r != SKIP_TOO_LARGE)
		return;
	log_error("info", c, "client sent %s chunked body", r == SKIP_BAD ? "invalid"
	    : "too large");
	switch (c->resp.status) {
	case S_OK:
	case S_PARTIAL_CONTENT:
	case S_NOT_MODIFIED:
	case S_PRECONDITION_FAILED:
	case S_RANGE_NOT_SATISFIABLE:
		http_response_end(&c->resp);
		http_prepare_error(&c->resp, &c->req, r == SKIP_BAD ? S_BAD_REQUEST
		    : S_PAYLOAD_TOO_LARGE, NULL, false);
		break;
	default:
		c->resp.keep_alive = false;
		break;
	}
}

/*
 * Who may have this request: tls_access_check() on the path as the file
 * lookup will see it (decoded and normalised), when a rule is per path. A
 * path that cannot be normalised is answered 400 whatever the rules; the
 * global rules decide.
 */
static enum verdict
access_check(struct conn *c, const struct client_identity *id, int *why)
{
	char path[HTTP_MAX_PATH + 256];
	long len = -1;

	if (c->req.path.len <= HTTP_MAX_PATH && tls_rules_per_path())
		len = http_normalize_path(c->req.path.p, c->req.path.len, path, sizeof path);
	return tls_access_check(id, len < 0 ? NULL : path, len < 0 ? 0 : (size_t)len,
	    &c->access, why);
}

static void
begin_response(struct conn *c)
{
	const struct client_identity *id = tls_session_identity(&c->tls);
	enum verdict v;
	int why;
	bool keep_alive = !life.shutting_down
	    && c->requests + 1 < (unsigned long)opt.max_requests;

	memset(&c->access, 0, sizeof c->access);
	if (c->req.error != S_NONE) {
		http_prepare_error(&c->resp, &c->req, c->req.error,
		    c->req.error_detail, keep_alive);
	} else if ((v = access_check(c, id, &why)) == V_ALLOW) {
		struct http_site here = site;

		if (opt.tls.root_per_client)
			here.client_dir = id->cn;   /* a plain name: access_check said so */
		here.subject = id->subject;
		here.client_addr = c->peer;
		http_prepare(&c->resp, &c->req, &here, keep_alive);
		if (c->resp.note)
			log_error("error", c, "%s", c->resp.note);
		check_early_body(c);
	} else {
		/*
		 * nginx's "on": the head is read, then 400 and close. Checked on
		 * every request: a reload can revoke an open connection. Other
		 * paths may be open to a client refused one: it stays.
		 */
		if (id->auth != AUTH_VERIFIED)
			log_error("info", c, "%s", tls_session_auth_failure(&c->tls));
		else
			log_error("info", c, "%s (subject \"%s\")%s", tls_error_text(why),
			    id->subject, v == V_FORBIDDEN_HERE ? "" : ", closing");
		http_prepare_error(&c->resp, &c->req, v == V_NO_CERT || v == V_BAD_CERT
		    ? S_BAD_REQUEST : S_FORBIDDEN, v == V_NO_CERT ? DETAIL_NO_CERT
		    : v == V_BAD_CERT ? DETAIL_CERT_ERROR : NULL,
		    v == V_FORBIDDEN_HERE && keep_alive);
	}
	/* The body C_SKIP_BODY drops after the response, if the connection stays. */
	keep_alive = c->req.error == S_NONE && c->resp.keep_alive;
	c->body_left = keep_alive && !c->req.chunked ? c->req.content_length : 0;
	c->body_chunked = keep_alive && c->req.chunked;
	memset(&c->skipper, 0, sizeof c->skipper);
	c->requests++;
	c->state = C_SEND_HEAD;
	c->deadline = now.ms + opt.send_timeout * 1000;
}

/* The head is read: answered now, or once a descriptor for its file is free. */
static void
answer_or_wait(struct conn *c)
{
	if (file_take(c)) {
		begin_response(c);
		return;
	}
	c->state = C_WAIT_FILE;
	c->deadline = now.ms + opt.send_timeout * 1000;
	if (c->unflushed) {
		/* The last response must not wait with this one. */
		tls_session_flush(&c->tls);
		c->unflushed = false;
	}
}

static void
drop_leading_blank_lines(struct conn *c)
{
	size_t skip = 0;

	while (skip < c->in_len && (c->in[skip] == '\r' || c->in[skip] == '\n'))
		skip++;
	if (skip > 0) {
		memmove(c->in, c->in + skip, c->in_len - skip);
		c->in_len -= skip;
		c->scanned = 0;
	}
}

/*
 * Drops the body of the request just answered from the head buffer, and
 * goes on to C_HEAD at its end. Returns false when the body is malformed
 * or too large: the connection cannot find the next request and must close.
 */
static bool
skip_body(struct conn *c)
{
	size_t used;

	if (c->body_chunked) {
		switch (http_chunked_skip(&c->skipper, c->in, c->in_len, &used)) {
		case SKIP_DONE:
			c->state = C_HEAD;
			break;
		case SKIP_MORE:
			break;
		default:
			return false;
		}
	} else {
		used = c->body_left < c->in_len ? (size_t)c->body_left : c->in_len;
		if ((c->body_left -= used) == 0)
			c->state = C_HEAD;
	}
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	c->scanned = 0;
	return true;
}

/* Returns true when something changed. */
static bool
read_request(struct conn *c)
{
	size_t got = 0, head_len;
	bool was_idle = c->in_len == 0, flushed = false;

	if (c->in_len < (size_t)opt.head_max)
		got = tls_session_read(&c->tls, c->in + c->in_len,
		    (size_t)opt.head_max - c->in_len);
	c->in_len += got;
	if (c->state == C_SKIP_BODY && !skip_body(c)) {
		log_error("info", c, "bad or too large request body; closing");
		conn_start_close(c);
		return true;
	}
	if (c->state == C_SKIP_BODY) {
		c->deadline = now.ms + opt.header_timeout * 1000;
		return got > 0;
	}
	drop_leading_blank_lines(c);
	head_len = http_head_end(c->in, c->in_len, c->scanned);
	c->scanned = c->in_len;
	if (head_len == 0) {
		if (c->unflushed) {
			/*
			 * No next request to batch with: send what is pending, in
			 * this step (the socket takes it, as a rule), not after a
			 * round trip through epoll for POLLOUT and back.
			 */
			tls_session_flush(&c->tls);
			c->unflushed = false;
			flushed = true;
		}
		if (c->in_len >= (size_t)opt.head_max) {
			http_head_too_large(c->in, c->in_len, &c->req);
			c->head_len = c->in_len;
			answer_or_wait(c);
			return true;
		}
		/* The first byte of a request starts the header timeout. */
		if (was_idle && c->in_len > 0)
			c->deadline = now.ms + opt.header_timeout * 1000;
		if (c->in_len == 0)
			c->release_at = now.ms + IDLE_RELEASE_MS;
		return got > 0 || flushed;
	}
	c->head_len = head_len;
	http_parse_head(c->in, head_len, &c->req);
	answer_or_wait(c);
	return true;
}

/*
 * An idle keep-alive connection gives back the pages of its buffers:
 * MADV_DONTNEED drops them from RSS at once (MADV_FREE would leave them
 * counted until the kernel needs memory) and the next touch maps zeroed
 * pages. The mapping and its commit charge stay, so under strict
 * overcommit the memory stays reserved for the slot. Only when nothing in
 * them is still needed: the head buffer is empty (bytes past in_len are
 * never read) and tls_session_quiet() says BearSSL's buffers hold no
 * record, no unread data and no unsent output, and the handshake's chain
 * check is over. A connection that was busy since is checked again here.
 */
static void
release_buffers(struct conn *c)
{
	c->release_at = 0;
	if (!reading(c) || c->in_len != 0 || c->unflushed || c->runnable
	    || !tls_session_quiet(&c->tls))
		return;
	(void)madvise(slots.buffers + (size_t)(c - slots.conns) * slots.stride,
	    slots.stride, MADV_DONTNEED);
}

static void
finish_response(struct conn *c)
{
	access_log_write(c);
	http_response_end(&c->resp);
	file_give_back(c);
	if (!c->resp.keep_alive || life.shutting_down) {
		conn_start_close(c);
		return;
	}
	memmove(c->in, c->in + c->head_len, c->in_len - c->head_len);
	c->in_len -= c->head_len;
	c->head_len = 0;
	c->scanned = 0;
	memset(&c->req, 0, sizeof c->req);
	/* Not flushed yet: a pipelined request may share the record. */
	c->state = c->body_left > 0 || c->body_chunked ? C_SKIP_BODY : C_HEAD;
	c->deadline = now.ms + (c->in_len > 0 ? opt.header_timeout
	    : opt.keepalive_timeout) * 1000;
}

static bool
send_head(struct conn *c)
{
	struct http_endpoint endpoint = { c->local, c->local_port };
	unsigned char *space;
	size_t len, n;

	if (!(space = tls_session_write_space(&c->tls, &len)))
		return false;
	n = http_write_head(&c->resp, &c->req, &endpoint, now.wall, (char *)space, len);
	if (n == 0) {
		if (c->unflushed) {
			/* Room comes back once the pending record is out. */
			tls_session_flush(&c->tls);
			c->unflushed = false;
			return true;
		}
		if (c->resp.status != S_INTERNAL_SERVER_ERROR) {
			/* A 500 page always fits: every request gets an answer. */
			log_error("error", c, "response head larger than a TLS "
			    "record, answering 500");
			http_response_end(&c->resp);
			http_prepare_error(&c->resp, &c->req,
			    S_INTERNAL_SERVER_ERROR, NULL, false);
			return true;
		}
		log_error("error", c, "response head larger than a TLS record");
		conn_free(c);
		return false;
	}
	tls_session_write_done(&c->tls, n);
	status_count_bytes(n);
	c->unflushed = true;
	c->state = C_SEND_BODY;
	return true;
}

static bool
send_file_data(struct conn *c)
{
	unsigned char *space;
	size_t len;
	ssize_t n;

	if (!(space = tls_session_write_space(&c->tls, &len)))
		return false;
	if (len > c->resp.remaining)
		len = (size_t)c->resp.remaining;
	n = pread(c->resp.fd, space, len, (off_t)c->resp.offset);
	if (n <= 0) {
		/* The file shrank or failed: the promised length cannot be kept. */
		conn_abort(c, n == 0 ? "file shrank" : "file read failed");
		return false;
	}
	tls_session_write_done(&c->tls, (size_t)n);
	status_count_bytes((uint64_t)n);
	c->unflushed = true;
	c->resp.offset += (uint64_t)n;
	c->resp.remaining -= (uint64_t)n;
	c->resp.body_bytes += (uint64_t)n;
	c->deadline = now.ms + opt.send_timeout * 1000;
	return true;
}

static void
engine_closed(struct conn *c)
{
	switch (c->state) {
	case C_HANDSHAKE:
		handshake_failed(c);
		break;
	case C_SEND_HEAD:
	case C_SEND_BODY:
		conn_abort(c, "client closed connection");
		break;
	default:
		conn_free(c);
		break;
	}
}

/* Moves the connection as far as it can go without waiting. */
static void
conn_step(struct conn *c)
{
	int steps;

	c->runnable = false;
	for (steps = 0; steps < STEPS_PER_WAKEUP; steps++) {
		bool progress = false;

		if (c->state == C_PROXY && !proxy_read(c))
			return;
		if (c->state == C_LINGERING) {
			linger_read(c);
			return;
		}
		if (tls_session_pump(&c->tls, c->fd) == TLS_IO_CLOSED) {
			engine_closed(c);
			return;
		}
		switch (c->state) {
		case C_HANDSHAKE:
			if (tls_session_handshake_done(&c->tls)) {
				tls_session_handshake_finished(&c->tls);
				count_handshake(c, status_handshake_result(
				    tls_session_identity(&c->tls), (int64_t)now.wall));
				if (opt.tls.session_cache_size > 0)
					status_count_session(tls_session_resumed(&c->tls));
				c->state = C_HEAD;
				c->deadline = now.ms + opt.header_timeout * 1000;
				progress = true;
			}
			break;
		case C_HEAD:
		case C_SKIP_BODY:
			progress = read_request(c);
			if (!progress && reading(c) && tls_session_stalled(&c->tls)) {
				/* nginx closes at any renegotiation attempt. */
				log_error("info", c, "client sent a handshake "
				    "message after the handshake, closing");
				conn_free(c);
				return;
			}
			break;
		case C_WAIT_FILE:
			if (c->holds_file) {
				begin_response(c);
				progress = true;
			}
			break;
		case C_SEND_HEAD:
			progress = send_head(c);
			break;
		case C_SEND_BODY:
			if (c->resp.remaining > 0) {
				progress = send_file_data(c);
				break;
			}
			finish_response(c);
			progress = true;
			break;
		case C_CLOSING:
			if (!tls_session_sending(&c->tls)) {
				conn_start_linger(c);
				return;
			}
			break;
		default:
			return;
		}
		if (c->state == C_FREE || !progress)
			return;
	}
	c->runnable = true;
}

/*
 * epoll reports errors and hang-ups even for events nobody asked for: a
 * connection that can neither send nor receive any more would spin.
 */
static void
hang_up_if_stuck(struct conn *c, short revents)
{
	if (c->state == C_FREE || c->runnable
	    || !(revents & (POLLERR | POLLHUP | POLLNVAL)))
		return;
	if (c->state == C_LINGERING || tls_session_poll_events(&c->tls) == 0)
		conn_abort(c, "client closed connection");
}

static void
conn_timed_out(struct conn *c)
{
	switch (c->state) {
	case C_PROXY:
		log_error("info", c, "client timed out while sending the PROXY "
		    "protocol header");
		break;
	case C_HANDSHAKE:
		log_error("info", c, "client timed out while SSL handshaking");
		break;
	case C_HEAD:
	case C_SKIP_BODY:
		if (c->in_len > 0 || c->requests == 0)
			log_error("info", c, "client timed out while reading "
			    "client request headers");
		break;
	case C_WAIT_FILE:
		log_error("error", c, "no descriptor for a file came free within "
		    "--send-timeout (%zu responses in flight, the open file limit's "
		    "share), closing", files.in_flight);
		break;
	case C_SEND_HEAD:
	case C_SEND_BODY:
		conn_abort(c, "client timed out");
		return;
	default:
		break;
	}
	conn_free(c);
}

/*
 * What a connection would lose if evicted, lowest first; -1: never evicted.
 * Anyone can open sockets that send nothing, so the rank goes by how far the
 * handshake has got, not by age: a new connection replaces one that has done
 * less, never one whose client showed a valid certificate (in its handshake,
 * or completed and waiting for its first request).
 */
static int
eviction_rank(const struct conn *c)
{
	switch (c->state) {
	case C_CLOSING:
	case C_LINGERING:
		return 0;
	case C_PROXY:
		return 1;
	case C_HANDSHAKE:
		switch (tls_session_progress(&c->tls)) {
		case TLS_PROGRESS_SILENT:
			return 1;
		case TLS_PROGRESS_HELLO:
			return 2;
		case TLS_PROGRESS_ANSWERED:
			return 3;
		default:
			return -1;
		}
	case C_HEAD:
		if (c->requests > 0
		    || tls_session_identity(&c->tls)->auth == AUTH_VERIFIED)
			return -1;
		return 3;
	default:
		return -1;
	}
}

/*
 * The oldest of the least advanced connections; NULL if none may go yet.
 * Only a connection at least EVICT_MIN_AGE_MS old may go (unless it is
 * closing), so that a flood of new connections cannot evict each client
 * before its ClientHello arrives: they wait in the listen queue meanwhile,
 * and a client's ClientHello is there when it is accepted. A younger, less
 * advanced connection is waited for rather than one further on evicted.
 * *retry is when one may go, at the latest.
 */
static struct conn *
eviction_candidate(int64_t *retry, bool *all_kept)
{
	struct conn *best = NULL;
	int low = -1;
	size_t i;

	*retry = now.ms + EVICT_MIN_AGE_MS;
	*all_kept = true;
	for (i = 0; i < slots.active_count; i++) {
		struct conn *c = slots.active[i];
		int rank = eviction_rank(c);

		if (rank < 0)
			continue;
		*all_kept = false;
		if (low < 0 || rank < low) {
			low = rank;
			best = NULL;
			*retry = now.ms + EVICT_MIN_AGE_MS;
		} else if (rank > low) {
			continue;
		}
		if (rank > 0 && c->accepted_at + EVICT_MIN_AGE_MS > now.ms) {
			if (c->accepted_at + EVICT_MIN_AGE_MS < *retry)
				*retry = c->accepted_at + EVICT_MIN_AGE_MS;
			continue;
		}
		if (!best || c->accepted_at < best->accepted_at)
			best = c;
	}
	return best;
}

static void
describe_address(const struct sockaddr_storage *ss, char *host, size_t host_len,
    unsigned *port)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host, host_len);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, host, host_len);
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, host_len);
		*port = ntohs(s4->sin_port);
	}
}

static void
conn_open(int fd, const struct sockaddr_storage *peer)
{
	struct sockaddr_storage local;
	socklen_t local_len = sizeof local;
	struct conn *c;
	char host[INET6_ADDRSTRLEN];
	int one = 1;

	c = &slots.conns[slots.free[--slots.free_count]];
	if (!c->in) {
		/* First use of this slot. */
		unsigned char *b = slots.buffers
		    + (size_t)(c - slots.conns) * slots.stride;

		c->in = (char *)b + sizeof(struct tls_buffers);
		tls_session_init(&c->tls, (struct tls_buffers *)(void *)b);
	}
	c->active_index = slots.active_count;
	slots.active[slots.active_count++] = c;
	c->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	describe_address(peer, c->peer, sizeof c->peer, &c->peer_port);
	if (getsockname(fd, (struct sockaddr *)&local, &local_len) == 0) {
		describe_address(&local, host, sizeof host, &c->local_port);
		snprintf(c->local, sizeof c->local,
		    strchr(host, ':') ? "[%s]" : "%s", host);
	} else {
		snprintf(c->local, sizeof c->local, "localhost");
		c->local_port = 443;
	}
	/* The handshake timeout covers the PROXY header too. */
	c->state = opt.proxy_protocol ? C_PROXY : C_HANDSHAKE;
	c->accepted_at = now.ms;
	c->deadline = now.ms + opt.handshake_timeout * 1000;
	c->requests = 0;
	c->release_at = 0;
	c->in_len = c->scanned = c->head_len = 0;
	c->unflushed = c->runnable = false;
	c->handshake_counted = false;
	memset(&c->req, 0, sizeof c->req);
	memset(&c->resp, 0, sizeof c->resp);
	c->resp.fd = -1;
	tls_session_start(&c->tls, (unsigned char *)c->in, in_capacity());
	if (!conn_watch(c)) {
		log_error("error", c, "epoll_ctl: %s", strerror(errno));
		conn_free(c);
		return;
	}
	/* A ClientHello already here ranks the connection above silent ones. */
	conn_step(c);
	conn_sync(c);
}

static void
accept_clients(int lfd)
{
	int i;

	for (i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof peer;
		struct conn *victim = NULL;
		int64_t retry;
		bool all_kept;
		int fd;

		/*
		 * With no slot free and nobody to evict yet, connections wait in
		 * the listen queue until someone may go or a slot frees itself.
		 */
		if (slots.free_count == 0
		    && !(victim = eviction_candidate(&retry, &all_kept))) {
			if (all_kept && listeners.full_until == 0
			    && client_line_allowed())
				log_error("warn", NULL, "all %zu connection slots "
				    "are busy and none may be evicted; new "
				    "connections wait in the listen queue",
				    slots.count);
			listeners.full_until = retry;
			return;
		}
		fd = accept4(lfd, (struct sockaddr *)&peer, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
			    || errno == ENOMEM) {
				log_error("error", NULL, "accept: %s; pausing accepts",
				    strerror(errno));
				listeners.paused_until = now.ms + ACCEPT_BACKOFF_MS;
			}
			/* EAGAIN, or aborted connections: try again at the next event. */
			return;
		}
		if (victim) {
			log_error("info", victim, "evicted: all slots in use");
			status_count_eviction();
			conn_free(victim);
		}
		conn_open(fd, &peer);
	}
}

/* ---- PROXY protocol (--proxy-protocol) ---- */

static void
proxy_address(int family, const unsigned char *addr, uint16_t port,
    char *host, size_t host_len, unsigned *port_out)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof ss);
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET6) {
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, addr, 16);
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	} else {
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, addr, 4);
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	}
	describe_address(&ss, host, host_len, port_out);
}

/*
 * Reads the header a load balancer sends before the client's first byte.
 * Bytes are peeked and only those that belong to the header are taken, so
 * the ClientHello stays in the socket for BearSSL; a header arriving in
 * pieces is gathered in the head buffer, which the handshake uses only
 * later. Returns true once the header is read: the client's address (for
 * logs) and the address it connected to (for redirects) are then the ones
 * the header gives, and the connection goes on to the handshake.
 */
static bool
proxy_read(struct conn *c)
{
	struct proxy_header h;
	char host[INET6_ADDRSTRLEN];
	size_t take;
	ssize_t n;
	long r;

	n = recv(c->fd, c->in + c->in_len, PROXY_HEADER_MAX - c->in_len, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false;
	if (n <= 0) {
		log_error("info", c, "client closed connection while sending the "
		    "PROXY protocol header");
		conn_free(c);
		return false;
	}
	r = proxy_parse((const unsigned char *)c->in, c->in_len + (size_t)n, &h);
	if (r < 0) {
		log_error("info", c, "%s, closing", proxy_error_text(r));
		conn_free(c);
		return false;
	}
	/* Until the header is complete, every byte peeked belongs to it. */
	take = r > 0 ? (size_t)r - c->in_len : (size_t)n;
	if (recv(c->fd, c->in + c->in_len, take, 0) != (ssize_t)take) {
		log_error("info", c, "PROXY protocol header: %s", strerror(errno));
		conn_free(c);
		return false;
	}
	c->in_len += take;
	if (r == PROXY_INCOMPLETE)
		return false;
	if (!h.local) {
		proxy_address(h.family, h.src, h.src_port, c->peer, sizeof c->peer,
		    &c->peer_port);
		proxy_address(h.family, h.dst, h.dst_port, host, sizeof host,
		    &c->local_port);
		snprintf(c->local, sizeof c->local, strchr(host, ':') ? "[%s]" : "%s",
		    host);
	}
	c->in_len = 0;
	c->state = C_HANDSHAKE;
	return true;
}

/* ---- listeners ---- */

/*
 * Reads "ADDR:PORT", "[IPV6]:PORT" or "PORT" into `addr`; dies naming the
 * option on anything else. -t runs it too, so that what start-up refuses,
 * -t refuses.
 */
static socklen_t
parse_listen(const char *spec, struct sockaddr_storage *addr)
{
	char host[256], port[16];
	const char *colon;
	socklen_t addr_len;
	long number;

	if (spec[0] == '[') {
		const char *close_bracket = strchr(spec, ']');

		if (!close_bracket || close_bracket[1] != ':'
		    || (size_t)(close_bracket - spec - 1) >= sizeof host)
			die("%s %s: expected [IPV6]:PORT", args.listen_option, spec);
		snprintf(host, sizeof host, "%.*s", (int)(close_bracket - spec - 1), spec + 1);
		snprintf(port, sizeof port, "%s", close_bracket + 2);
	} else if ((colon = strrchr(spec, ':'))) {
		if ((size_t)(colon - spec) >= sizeof host)
			die("%s %s: address too long", args.listen_option, spec);
		snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
		snprintf(port, sizeof port, "%s", colon + 1);
	} else {
		if (strspn(spec, "0123456789") != strlen(spec))
			die("%s %s: no port; expected ADDR:PORT, [IPV6]:PORT "
			    "or PORT, e.g. %s:8443", args.listen_option, spec, spec);
		snprintf(host, sizeof host, "0.0.0.0");
		snprintf(port, sizeof port, "%s", spec);
	}
	if (strcmp(host, "*") == 0 || host[0] == '\0')
		snprintf(host, sizeof host, "0.0.0.0");
	if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port)
	    || strlen(port) > 6)
		die("%s %s: bad port; expected a number from 1 to 65535",
		    args.listen_option, spec);
	number = atol(port);
	if (number < 1 || number > 65535)
		die("%s %s: port %ld is out of range (1 to 65535)", args.listen_option,
		    spec, number);
	/* Numeric addresses only: no resolver, nothing for a static build to load. */
	memset(addr, 0, sizeof *addr);
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)addr)->sin_addr) == 1) {
		addr->ss_family = AF_INET;
		((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)number);
		addr_len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)addr)->sin6_addr) == 1) {
		addr->ss_family = AF_INET6;
		((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)number);
		addr_len = sizeof(struct sockaddr_in6);
	} else {
		die("%s %s: %s is not a numeric IPv4 or IPv6 address (mtlsd "
		    "resolves no names: use 127.0.0.1, [::1] or 0.0.0.0)", args.listen_option,
		    spec, host);
	}
	return addr_len;
}

static void
open_listener(const char *spec)
{
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct listener *l;
	int fd, one = 1;

	if (listeners.count == MAX_LISTENERS)
		die("--listen %s: at most %d listeners", spec, MAX_LISTENERS);
	addr_len = parse_listen(spec, &addr);
	fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("--listen %s: socket: %s", spec, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (opt.workers > 1)
		share_port(fd, (struct sockaddr *)&addr, addr_len, spec);
	if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0) {
		if (errno == EACCES && ntohs(addr.ss_family == AF_INET
		    ? ((struct sockaddr_in *)&addr)->sin_port
		    : ((struct sockaddr_in6 *)&addr)->sin6_port) < 1024)
			die("--listen %s: %s: a port below 1024 needs root or "
			    "CAP_NET_BIND_SERVICE: start as root with --user NAME, "
			    "or give the binary the capability (setcap "
			    "cap_net_bind_service=+ep mtlsd), or with systemd "
			    "AmbientCapabilities=CAP_NET_BIND_SERVICE", spec,
			    strerror(errno));
		die("--listen %s: %s", spec, strerror(errno));
	}
	if (listen(fd, 511) < 0)
		die("--listen %s: %s", spec, strerror(errno));
	l = &listeners.at[listeners.count++];
	l->fd = fd;
	snprintf(l->name, sizeof l->name, "%s", spec);
}

/*
 * --status: the scrapers' port (side.c), served by the supervisor or the
 * only process, never by workers. What it shows is not secret, but it is
 * not for everyone either (subjects, load, reload times), and it has no
 * TLS and no authentication: so only a loopback address is accepted.
 * Reach it from elsewhere through an SSH tunnel or a proxy that
 * authenticates.
 */
static socklen_t
status_address(struct sockaddr_storage *addr_out)
{
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool loopback;

	args.listen_option = "--status";
	addr_len = parse_listen(opt.status, &addr);
	args.listen_option = "--listen";
	if (addr.ss_family == AF_INET) {
		loopback = (ntohl(((struct sockaddr_in *)&addr)->sin_addr.s_addr)
		    >> 24) == 127;
	} else {
		const struct in6_addr *a = &((struct sockaddr_in6 *)&addr)->sin6_addr;

		loopback = IN6_IS_ADDR_LOOPBACK(a)
		    || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	if (!loopback)
		die("--status %s: not a loopback address; the status port has no "
		    "TLS and no authentication, so it listens on 127.0.0.1 or [::1] "
		    "only (e.g. --status 127.0.0.1:9443)", opt.status);
	*addr_out = addr;
	return addr_len;
}

static void
open_status_listener(void)
{
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int fd, one = 1;

	if (!opt.status)
		return;
	addr_len = status_address(&addr);
	fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("--status %s: socket: %s", opt.status, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0 || listen(fd, 64) < 0)
		die("--status %s: %s", opt.status, strerror(errno));
	status_init(fd);
	fprintf(stderr, "mtlsd/%s: status on %s (GET /metrics, GET /status)\n",
	    MTLSD_VERSION, opt.status);
}

/* The plain-HTTP ports of --nginx-conf's redirect servers (side.c). */
static void
open_redirect_listeners(void)
{
	int fds[MAX_LISTENERS], i;

	for (i = 0; i < opt.redirect_count; i++) {
		open_listener(opt.redirect[i].listen);
		fds[i] = listeners.at[--listeners.count].fd;
		fprintf(stderr, "mtlsd/%s: redirecting on %s (%d to %s)\n",
		    MTLSD_VERSION, opt.redirect[i].listen, opt.redirect[i].code,
		    opt.redirect[i].target);
	}
	redirect_init(opt.redirect, fds, opt.redirect_count, opt.header_timeout,
	    opt.keepalive_timeout, opt.max_requests);
}

/* ---- signals ---- */

/* SIGTERM, SIGINT, SIGHUP and (the supervisor's) SIGCHLD: noted, and the loop woken. */
static void
on_signal(int sig)
{
	int saved = errno;
	char byte = (char)sig;

	if (sig == SIGHUP)
		life.reload_requested = 1;
	else if (sig == SIGCHLD)
		life.child_exited = 1;
	else
		life.stop_requested = 1;
	if (write(life.signal_pipe[1], &byte, 1) < 0) {
		/* The pipe is full: a wake-up is already pending. */
	}
	errno = saved;
}

static void
setup_signals(void)
{
	struct sigaction sa;

	if (pipe2(life.signal_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static void
begin_shutdown(void)
{
	int i;
	size_t k;

	life.shutting_down = true;
	life.shutdown_deadline = now.ms + opt.shutdown_grace * 1000;
	for (i = 0; i < listeners.count; i++)
		close(listeners.at[i].fd);
	listeners.count = 0;
	log_error("notice", NULL, "shutting down: finishing responses in flight "
	    "(at most %lds)", opt.shutdown_grace);
	/* Idle keep-alive connections have nothing in flight. */
	for (k = slots.active_count; k-- > 0; )
		if (reading(slots.active[k]) && slots.active[k]->in_len == 0)
			conn_free(slots.active[k]);
}

static void
warn_line(const char *message)
{
	log_error("warn", NULL, "%s", message);
}

/* ---- --pid-file, and the outcome of each reload for -s reload ---- */

static void
write_small_file(const char *path, const char *text, char *why, size_t why_len)
{
	char tmp[4096 + 8];
	size_t len = strlen(text);
	int fd;

	why[0] = '\0';
	snprintf(tmp, sizeof tmp, "%s.new", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0
	    || write(fd, text, len) != (ssize_t)len || close(fd) < 0
	    || rename(tmp, path) < 0)
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
}

/*
 * FILE.reload holds one line, "N ok" or "N failed: REASON", N counting the
 * reloads since start-up (0: none yet). -s reload reads N, sends SIGHUP
 * and waits for N to change. Replaced by rename(), so a reader never sees
 * half a line.
 */
static void
record_reload(const char *failure)
{
	char line[700], why[600];

	life.reload_generation++;
	status_reloaded(failure == NULL);
	if (!opt.pid_file || getpid() != life.pid_file_owner)
		return;
	snprintf(line, sizeof line, "%lu %s%s\n", life.reload_generation,
	    failure ? "failed: " : "ok", failure ? failure : "");
	write_small_file(life.reload_status_file, line, why, sizeof why);
	if (why[0])
		log_error("alert", NULL, "--pid-file: the reload's outcome could "
		    "not be recorded: %s", why);
}

static void
write_pid_file(void)
{
	char line[32], why[600];

	if (!opt.pid_file)
		return;
	if (strlen(opt.pid_file) + sizeof ".reload" > sizeof life.reload_status_file)
		die("--pid-file %s: name too long", opt.pid_file);
	snprintf(life.reload_status_file, sizeof life.reload_status_file, "%s.reload",
	    opt.pid_file);
	life.pid_file_owner = getpid();
	/* FILE.reload first: whoever finds the pid finds the outcome too. */
	write_small_file(life.reload_status_file, "0 started\n", why, sizeof why);
	if (why[0])
		die("--pid-file %s", why);
	snprintf(line, sizeof line, "%ld\n", (long)life.pid_file_owner);
	write_small_file(opt.pid_file, line, why, sizeof why);
	if (why[0])
		die("--pid-file %s", why);
}

static void
remove_pid_file(void)
{
	if (opt.pid_file && getpid() == life.pid_file_owner) {
		unlink(life.reload_status_file);
		unlink(opt.pid_file);
	}
}

/*
 * SIGHUP: a directory served from (`what` names it in the log) is opened
 * again, so that a release swapped in (a symlink flipped, a directory
 * renamed into place) is served from then on; responses in flight finish
 * from the old one. The supervisor, never chrooted, does this for new
 * workers under --chroot too. If it cannot be opened, the old one stays
 * and, when `report`, the error log says why.
 */
static void
reopen_dir(const char *what, const char *path, int *dir_fd, bool report)
{
	struct stat st, old;
	int fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (report)
			log_error("error", NULL, "reload: %s: %s; serving the same "
			    "directory as before", what, strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || fstat(*dir_fd, &old) < 0
	    || (st.st_dev == old.st_dev && st.st_ino == old.st_ino)) {
		close(fd);
		return;
	}
	close(*dir_fd);
	*dir_fd = fd;
	if (report)
		log_error("notice", NULL, "reload: %s is another directory now; "
		    "serving it", what);
}

/* The root, and the directories of locations with their own root or alias. */
static void
reopen_root(bool report)
{
	char what[4200];
	int i;

	snprintf(what, sizeof what, "--root %s", opt.root);
	reopen_dir(what, opt.root, &site.root_fd, report);
	for (i = 0; i < opt.location_count; i++) {
		struct http_location *l = &opt.locations[i];

		if (!l->dir || l->dir_fd < 0)
			continue;
		snprintf(what, sizeof what, "location %s: %s %s", l->path,
		    l->alias ? "alias" : "root", l->dir);
		reopen_dir(what, l->dir, &l->dir_fd, report);
	}
}

/*
 * SIGHUP's common part: the root opened again and the files loaded anew.
 * False when they cannot be, with the reason logged and recorded; the
 * current generation stays.
 */
static bool
load_again(void)
{
	struct tls_credentials *creds;
	char why[512];

	life.reload_requested = 0;
	reopen_root(true);
	if (!(creds = tls_load(&opt.tls, why, sizeof why))) {
		log_error("error", NULL, "reload failed, keeping the current "
		    "certificates, CAs, CRLs and allowlists: %s", why);
		record_reload(why);
		return false;
	}
	tls_use(creds);
	tls_warn_expiring(creds, 7, warn_line);
	return true;
}

/* SIGHUP without a supervisor: a new generation, or the old one kept. */
static void
reload(void)
{
	if (life.supervised) {
		/* Read with root's rights by the supervisor, never here. */
		life.reload_requested = 0;
		log_error("notice", NULL, "SIGHUP ignored: the supervisor (pid %ld) "
		    "reloads, by starting new workers", (long)life.supervisor_pid);
		return;
	}
	/* Files are opened anew, beneath the root as it is now. */
	file_cache_flush(&file_cache);
	if (!load_again())
		return;
	log_error("notice", NULL, "reloaded certificates, CAs, CRLs and "
	    "allowlists; session cache emptied");
	record_reload(NULL);
}

/* ---- the loop ---- */

static int
poll_timeout(void)
{
	int64_t nearest = now.ms + 60000, side_nearest;

	if (loop.runnable_count > 0 || files.woken.first)
		return 0;
	if (loop.timer_count > 0 && loop.timers[0]->due < nearest)
		nearest = loop.timers[0]->due;
	if (listeners.paused_until > now.ms && listeners.paused_until < nearest)
		nearest = listeners.paused_until;
	if (listeners.full_until > now.ms && listeners.full_until < nearest)
		nearest = listeners.full_until;
	if (life.shutting_down && life.shutdown_deadline < nearest)
		nearest = life.shutdown_deadline;
	if (file_cache_deadline(&file_cache) < nearest)
		nearest = file_cache_deadline(&file_cache);
	side_nearest = side_expire(now.ms);  /* closes what timed out */
	if (side_nearest < nearest)
		nearest = side_nearest;
	return nearest <= now.ms ? 0 : (int)(nearest - now.ms);
}

/*
 * poll() watches a handful of descriptors: the signal pipe, the listeners,
 * side.c's, and the connections' epoll set as one, readable when any of
 * them is ready.
 */
static size_t
build_pollfds(void)
{
	size_t n = 0;
	int k;

	slots.pollfds[n].fd = life.signal_pipe[0];
	slots.pollfds[n++].events = POLLIN;
	if (listeners.paused_until <= now.ms && listeners.full_until <= now.ms) {
		for (k = 0; k < listeners.count; k++) {
			slots.pollfds[n].fd = listeners.at[k].fd;
			slots.pollfds[n++].events = POLLIN;
		}
	}
	slots.pollfds[n].fd = loop.epoll_fd;
	slots.pollfds[n++].events = POLLIN;
	status_set_connections(loop.groups, slots.count);
	slots.side_first = n;
	return n + side_pollfds(slots.pollfds + n, now.ms, true);
}

/* The connections epoll says are ready, each moved as far as it goes. */
static void
connections_ready(void)
{
	int n, i;

	if ((n = epoll_wait(loop.epoll_fd, loop.events, loop.events_max, 0)) < 0
	    && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		struct conn *c = loop.events[i].data.ptr;
		uint32_t e = loop.events[i].events;
		short revents = (short)((e & EPOLLIN ? POLLIN : 0)
		    | (e & EPOLLOUT ? POLLOUT : 0) | (e & EPOLLERR ? POLLERR : 0)
		    | (e & EPOLLHUP ? POLLHUP : 0));

		if (c->state == C_FREE)
			continue;
		tls_session_ready(&c->tls, revents);
		conn_step(c);
		hang_up_if_stuck(c, revents);
		conn_sync(c);
	}
}

/*
 * The connections that stopped with work left, then the ones whose
 * deadline or buffer release is due. conn_sync() appends to loop.runnable
 * only the connection just stepped, each once, so it writes over entries
 * already read.
 */
static void
run_queued_and_due(void)
{
	size_t n, i;

	queue_woken();
	n = loop.runnable_count;
	loop.runnable_count = 0;
	for (i = 0; i < n; i++) {
		struct conn *c = loop.runnable[i];

		c->queued = false;
		if (c->state != C_FREE && c->runnable) {
			conn_step(c);
			conn_sync(c);
		}
	}
	while (loop.timer_count > 0 && loop.timers[0]->due <= now.ms) {
		struct conn *c = loop.timers[0];

		if (c->deadline <= now.ms) {
			conn_timed_out(c);      /* freed: out of the heap */
			continue;
		}
		/* Only when idle; a busy connection's release_at just ends. */
		release_buffers(c);
		conn_sync(c);
	}
}

static size_t
busy_connections(void)
{
	return slots.active_count;
}

static void
run(void)
{
	if ((loop.epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	for (;;) {
		size_t n, i;
		int ready, listening_ready[MAX_LISTENERS], ready_listeners, k;

		update_clock();
		if (life.reload_requested)
			reload();
		if (life.stop_requested && !life.shutting_down)
			begin_shutdown();
		if (life.shutting_down && (busy_connections() == 0
		    || now.ms >= life.shutdown_deadline))
			return;
		n = build_pollfds();
		ready = poll(slots.pollfds, (nfds_t)n, poll_timeout());
		if (ready < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		update_clock();
		ready_listeners = 0;
		for (i = 0; ready > 0 && i < slots.side_first; i++) {
			if (slots.pollfds[i].revents == 0)
				continue;
			if (slots.pollfds[i].fd == life.signal_pipe[0]) {
				char sink[16];

				while (read(life.signal_pipe[0], sink, sizeof sink) > 0)
					;
			} else if (slots.pollfds[i].fd == loop.epoll_fd) {
				connections_ready();
			} else {
				listening_ready[ready_listeners++] = slots.pollfds[i].fd;
			}
		}
		/*
		 * New connections after the others have read what came: a
		 * ClientHello that arrived must count before anyone is evicted.
		 */
		for (k = 0; k < ready_listeners; k++)
			accept_clients(listening_ready[k]);
		if (ready > 0)
			side_ready(slots.pollfds + slots.side_first, n - slots.side_first,
			    now.ms, now.wall);
		run_queued_and_due();
		access_log_flush();
	}
}

/* ---- options ---- */

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: mtlsd [options]\n"
	    "  -l, --listen ADDR:PORT     default 0.0.0.0:8443; IPv6 as [::]:8443; may be repeated\n"
	    "  -r, --root DIR             document root, default ./www\n"
	    "  -c, --cert FILE            server certificate chain, PEM, leaf first (default certs/server.crt)\n"
	    "  -k, --key FILE             server private key, PEM: RSA or EC; PKCS#1, SEC1 or PKCS#8\n"
	    "                             (default certs/server.key)\n"
	    "  -C, --client-ca FILE       pinned CA certificate(s), PEM; client certificates must\n"
	    "                             chain to one (default certs/ca.crt)\n"
	    "      --verify-client MODE   on (default; nginx's behaviour) | strict (refuse in the TLS handshake)\n"
	    "      --verify-depth N       intermediate CAs allowed between a client certificate and\n"
	    "                             a pinned CA (default 1, as nginx's ssl_verify_depth)\n"
	    "      --security-level N     2 (default, as OpenSSL's): client chains need RSA keys of\n"
	    "                             2048 bits and no SHA-1; 1 allows RSA-1024 and SHA-1\n"
	    "      --crl FILE             CRLs (PEM or DER) issued by pinned CAs; may be repeated\n"
	    "      --allow-cn NAME        only clients with this certificate CN; may be repeated\n"
	    "      --allow-fingerprint H  only this client certificate (SHA-256, hex); may be repeated\n"
	    "      --allow-ou NAME        only clients with this subject OU; may be repeated\n"
	    "      --allow-dns NAME       only clients with this dNSName SAN (any case); may be repeated\n"
	    "      --allow-uri URI        only clients with this URI SAN (a SPIFFE ID); may be repeated\n"
	    "                             (the --allow-* options combine: any of them allows)\n"
	    "      --allow-file FILE      per-path rules, \"PREFIX RULE [VALUE]\" lines; re-read on\n"
	    "                             SIGHUP (default: none)\n"
	    "      --root-per-client      serve each client from ROOT/<its CN>/ (default off)\n"
	    "      --session-cache N      resumable sessions kept, with their identity (default 1024; 0: off)\n"
	    "                             in shared memory: one cache for all the workers\n"
	    "      --session-timeout S    default 300, as nginx\n"
	    "      --check-cert FILE      run the client-certificate checks on FILE (PEM chain, leaf\n"
	    "                             first) with -C, --crl, --verify-depth, --allow-*, and exit\n"
	    "      --nginx-conf FILE      read the settings from an nginx server block or nginx.conf;\n"
	    "                             other options override it\n"
	    "  -t                         check the configuration and exit (as nginx -t)\n"
	    "  -s reload                  check as -t, send SIGHUP to the server of --pid-file,\n"
	    "                             wait for its outcome; exit 1 with the reason if it failed\n"
	    "      --status ADDR:PORT     plain-HTTP status port on a loopback address: GET /metrics\n"
	    "                             (Prometheus), GET /status (default: off)\n"
	    "      --pid-file FILE        write the (supervisor's) pid to FILE, and each reload's\n"
	    "                             outcome to FILE.reload (default: none)\n"
	    "      --index NAME           default index.html\n"
	    "      --access-log FILE      default - (stdout); off disables\n"
	    "      --access-log-identity  add the rule that let each request in as a last field\n"
	    "                             (\"cn=NAME\", \"uri=URI\", ...; default off)\n"
	    "      --max-conns N          connection slots, allocated at start-up (default 1024)\n"
	    "      --open-file-cache N    files kept open between requests (default 64; 0: off)\n"
	    "      --open-file-cache-inactive S\n"
	    "                             a cached file unused for S seconds is closed (default 60)\n"
	    "      --max-requests N       requests per keep-alive connection (default 1000)\n"
	    "      --max-head BYTES       request line + headers (default 8192)\n"
	    "      --handshake-timeout S  default 10\n"
	    "      --header-timeout S     request head timeout (default 60)\n"
	    "      --keepalive-timeout S  idle keep-alive timeout (default 75)\n"
	    "      --send-timeout S       between two successful writes (default 60)\n"
	    "      --shutdown-grace S     on SIGTERM, time to finish responses (default 10)\n"
	    "      --workers N            worker processes sharing the port (SO_REUSEPORT), under\n"
	    "                             a supervisor that restarts them (default 1: no supervisor)\n"
	    "      --proxy-protocol       every connection starts with a PROXY protocol header\n"
	    "                             (v1 or v2) from a load balancer; others are refused\n"
	    "      --user NAME            workers run as NAME and its group; a supervisor\n"
	    "                             keeps root to re-read the files on SIGHUP (root only)\n"
	    "      --chroot DIR           workers chroot to DIR (root only)\n"
	    "      --sandbox              after start-up, restrict the workers with Landlock\n"
	    "                             to reading the root (Linux 5.13+)\n"
	    "  -h, --help                 this text\n"
	    "  -V, --version              print the version\n");
}

enum {
	OPT_VERIFY = 256, OPT_INDEX, OPT_ACCESS_LOG, OPT_MAX_CONNS, OPT_MAX_REQUESTS,
	OPT_MAX_HEAD, OPT_HANDSHAKE_TIMEOUT, OPT_HEADER_TIMEOUT,
	OPT_KEEPALIVE_TIMEOUT, OPT_SEND_TIMEOUT, OPT_SHUTDOWN_GRACE,
	OPT_CRL, OPT_ALLOW_CN, OPT_ALLOW_FINGERPRINT, OPT_VERIFY_DEPTH,
	OPT_SESSION_CACHE, OPT_SESSION_TIMEOUT, OPT_CHECK_CERT, OPT_NGINX_CONF,
	OPT_WORKERS, OPT_PROXY_PROTOCOL,
	OPT_USER, OPT_CHROOT, OPT_SANDBOX, OPT_OPEN_FILE_CACHE,
	OPT_OPEN_FILE_CACHE_INACTIVE, OPT_PID_FILE, OPT_SECURITY_LEVEL,
	OPT_ALLOW_OU, OPT_ALLOW_DNS, OPT_ALLOW_URI, OPT_ALLOW_FILE, OPT_ROOT_PER_CLIENT,
	OPT_ACCESS_LOG_IDENTITY,
	OPT_STATUS,
};

static const struct option long_options[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "root", required_argument, NULL, 'r' },
	{ "cert", required_argument, NULL, 'c' },
	{ "key", required_argument, NULL, 'k' },
	{ "client-ca", required_argument, NULL, 'C' },
	{ "verify-client", required_argument, NULL, OPT_VERIFY },
	{ "index", required_argument, NULL, OPT_INDEX },
	{ "access-log", required_argument, NULL, OPT_ACCESS_LOG },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "open-file-cache", required_argument, NULL, OPT_OPEN_FILE_CACHE },
	{ "open-file-cache-inactive", required_argument, NULL,
	    OPT_OPEN_FILE_CACHE_INACTIVE },
	{ "max-requests", required_argument, NULL, OPT_MAX_REQUESTS },
	{ "max-head", required_argument, NULL, OPT_MAX_HEAD },
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
	{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
	{ "keepalive-timeout", required_argument, NULL, OPT_KEEPALIVE_TIMEOUT },
	{ "send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT },
	{ "shutdown-grace", required_argument, NULL, OPT_SHUTDOWN_GRACE },
	{ "crl", required_argument, NULL, OPT_CRL },
	{ "allow-cn", required_argument, NULL, OPT_ALLOW_CN },
	{ "allow-fingerprint", required_argument, NULL, OPT_ALLOW_FINGERPRINT },
	{ "allow-ou", required_argument, NULL, OPT_ALLOW_OU },
	{ "allow-dns", required_argument, NULL, OPT_ALLOW_DNS },
	{ "allow-uri", required_argument, NULL, OPT_ALLOW_URI },
	{ "allow-file", required_argument, NULL, OPT_ALLOW_FILE },
	{ "root-per-client", no_argument, NULL, OPT_ROOT_PER_CLIENT },
	{ "access-log-identity", no_argument, NULL, OPT_ACCESS_LOG_IDENTITY },
	{ "verify-depth", required_argument, NULL, OPT_VERIFY_DEPTH },
	{ "security-level", required_argument, NULL, OPT_SECURITY_LEVEL },
	{ "session-cache", required_argument, NULL, OPT_SESSION_CACHE },
	{ "session-timeout", required_argument, NULL, OPT_SESSION_TIMEOUT },
	{ "check-cert", required_argument, NULL, OPT_CHECK_CERT },
	{ "nginx-conf", required_argument, NULL, OPT_NGINX_CONF },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "proxy-protocol", no_argument, NULL, OPT_PROXY_PROTOCOL },
	{ "user", required_argument, NULL, OPT_USER },
	{ "chroot", required_argument, NULL, OPT_CHROOT },
	{ "sandbox", no_argument, NULL, OPT_SANDBOX },
	{ "pid-file", required_argument, NULL, OPT_PID_FILE },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char short_options[] = ":l:r:c:k:C:hVts:";

static void
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mtlsd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see mtlsd --help)\n", stderr);
	exit(2);
}

static long
number_option(const char *name, const char *value, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || end == value || *end || v < min || v > max)
		usage_error("%s %s: expected a number from %ld to %ld", name, value,
		    min, max);
	return v;
}

static void
parse_options(int argc, char **argv)
{
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (args.listen_from_file) {
				opt.listen_count = 0;
				args.listen_from_file = false;
			}
			if (opt.listen_count == MAX_LISTENERS)
				usage_error("--listen: at most %d listeners", MAX_LISTENERS);
			opt.listen[opt.listen_count++] = optarg;
			break;
		case 'r': opt.root = optarg; break;
		case 'c': opt.tls.cert_file = optarg; break;
		case 'k': opt.tls.key_file = optarg; break;
		case 'C': opt.tls.ca_file = optarg; break;
		case OPT_VERIFY:
			if (strcmp(optarg, "on") == 0)
				opt.tls.mode = VERIFY_ON;
			else if (strcmp(optarg, "strict") == 0)
				opt.tls.mode = VERIFY_STRICT;
			else
				usage_error("--verify-client %s: expected on or strict", optarg);
			break;
		case OPT_INDEX:
			if (!*optarg || strchr(optarg, '/') || strcmp(optarg, "..") == 0
			    || strcmp(optarg, ".") == 0)
				usage_error("--index %s: expected a file name", optarg);
			opt.index = optarg;
			break;
		case OPT_ACCESS_LOG: opt.access_log = optarg; break;
		case OPT_MAX_CONNS:
			opt.max_conns = number_option("--max-conns", optarg, 1, 1000000);
			break;
		case OPT_OPEN_FILE_CACHE:
			opt.open_file_cache = number_option("--open-file-cache", optarg,
			    0, 1000000);
			break;
		case OPT_OPEN_FILE_CACHE_INACTIVE:
			opt.open_file_cache_inactive = number_option(
			    "--open-file-cache-inactive", optarg, 1, 86400);
			break;
		case OPT_MAX_REQUESTS:
			opt.max_requests = number_option("--max-requests", optarg, 1, 100000000);
			break;
		case OPT_MAX_HEAD:
			opt.head_max = number_option("--max-head", optarg, 256, 65536);
			break;
		case OPT_HANDSHAKE_TIMEOUT:
			opt.handshake_timeout = number_option("--handshake-timeout", optarg, 1, 86400);
			break;
		case OPT_HEADER_TIMEOUT:
			opt.header_timeout = number_option("--header-timeout", optarg, 1, 86400);
			break;
		case OPT_KEEPALIVE_TIMEOUT:
			opt.keepalive_timeout = number_option("--keepalive-timeout", optarg, 1, 86400);
			break;
		case OPT_SEND_TIMEOUT:
			opt.send_timeout = number_option("--send-timeout", optarg, 1, 86400);
			break;
		case OPT_CRL:
			if (opt.tls.crl_file_count == TLS_MAX_CRL_FILES)
				usage_error("--crl: at most %d files", TLS_MAX_CRL_FILES);
			opt.tls.crl_files[opt.tls.crl_file_count++] = optarg;
			break;
		case OPT_ALLOW_CN:
			if (opt.tls.allow_cn_count == TLS_MAX_ALLOW)
				usage_error("--allow-cn: at most %d names", TLS_MAX_ALLOW);
			opt.tls.allow_cn[opt.tls.allow_cn_count++] = optarg;
			break;
		case OPT_ALLOW_FINGERPRINT:
			if (opt.tls.allow_fingerprint_count == TLS_MAX_ALLOW)
				usage_error("--allow-fingerprint: at most %d", TLS_MAX_ALLOW);
			opt.tls.allow_fingerprint[opt.tls.allow_fingerprint_count++] = optarg;
			break;
		case OPT_ALLOW_OU:
			if (opt.tls.allow_ou_count == TLS_MAX_ALLOW)
				usage_error("--allow-ou: at most %d names", TLS_MAX_ALLOW);
			opt.tls.allow_ou[opt.tls.allow_ou_count++] = optarg;
			break;
		case OPT_ALLOW_DNS:
			if (opt.tls.allow_dns_count == TLS_MAX_ALLOW)
				usage_error("--allow-dns: at most %d names", TLS_MAX_ALLOW);
			opt.tls.allow_dns[opt.tls.allow_dns_count++] = optarg;
			break;
		case OPT_ALLOW_URI:
			if (opt.tls.allow_uri_count == TLS_MAX_ALLOW)
				usage_error("--allow-uri: at most %d URIs", TLS_MAX_ALLOW);
			opt.tls.allow_uri[opt.tls.allow_uri_count++] = optarg;
			break;
		case OPT_ALLOW_FILE:
			opt.tls.allow_file = optarg;
			break;
		case OPT_ROOT_PER_CLIENT:
			opt.tls.root_per_client = true;
			break;
		case OPT_ACCESS_LOG_IDENTITY:
			opt.access_log_identity = true;
			break;
		case OPT_VERIFY_DEPTH:
			opt.tls.verify_depth = (int)number_option("--verify-depth", optarg,
			    0, TLS_MAX_CLIENT_CHAIN - 1);
			break;
		case OPT_SECURITY_LEVEL:
			opt.tls.security_level = (int)number_option("--security-level", optarg,
			    TLS_SECURITY_LEVEL_MIN, TLS_SECURITY_LEVEL_MAX);
			break;
		case OPT_SESSION_CACHE:
			opt.tls.session_cache_size = (size_t)number_option("--session-cache",
			    optarg, 0, 1000000);
			break;
		case OPT_SESSION_TIMEOUT:
			opt.tls.session_timeout = number_option("--session-timeout", optarg,
			    1, 86400);
			break;
		case OPT_CHECK_CERT:
			opt.check_cert = optarg;
			break;
		case OPT_NGINX_CONF:
		case 't':
			break;          /* taken by read_nginx_conf() before */
		case OPT_SHUTDOWN_GRACE:
			opt.shutdown_grace = number_option("--shutdown-grace", optarg, 0, 86400);
			break;
		case OPT_WORKERS:
			opt.workers = number_option("--workers", optarg, 1, MAX_WORKERS);
			break;
		case OPT_PROXY_PROTOCOL:
			opt.proxy_protocol = true;
			break;
		case OPT_USER: opt.user = optarg; break;
		case OPT_CHROOT: opt.chroot_dir = optarg; break;
		case OPT_SANDBOX: opt.sandbox = true; break;
		case OPT_PID_FILE:
			if (!*optarg)
				usage_error("--pid-file: expected a file name");
			opt.pid_file = optarg;
			break;
		case OPT_STATUS:
			opt.status = optarg;
			break;
		case 's':
			if (strcmp(optarg, "reload") != 0)
				usage_error("-s %s: expected reload", optarg);
			args.signal_name = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("mtlsd %s\nbuilt with BearSSL %s\n", MTLSD_VERSION,
			    BEARSSL_VERSION);
			exit(0);
		case ':':
			usage_error("%s needs a value", argv[optind - 1]);
		default:
			if (optopt)
				usage_error("unknown option '-%c'", optopt);
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt.listen_count == 0)
		opt.listen[opt.listen_count++] = "0.0.0.0:8443";
}

/* ---- start-up ---- */

static void
open_access_log(void)
{
	struct stat st;
	int flags;

	if (strcmp(opt.access_log, "off") == 0)
		return;
	if (strcmp(opt.access_log, "-") == 0)
		logs.access_fd = STDOUT_FILENO;
	else if ((logs.access_fd = open(opt.access_log, O_WRONLY | O_APPEND | O_CREAT
	    | O_CLOEXEC, 0644)) < 0)
		die("--access-log %s: %s", opt.access_log, strerror(errno));
	/* A pipe or socket must never stall the loop; files cannot. */
	if (fstat(logs.access_fd, &st) == 0
	    && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
	    && (flags = fcntl(logs.access_fd, F_GETFL)) >= 0)
		fcntl(logs.access_fd, F_SETFL, flags | O_NONBLOCK);
}

static void
open_root(void)
{
	struct stat st;
	int fd;

	if ((fd = open(opt.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (errno == ENOTDIR)
			die("--root %s: not a directory", opt.root);
		die("--root %s: %s", opt.root, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
		die("--root %s: not a directory", opt.root);
	site.root_fd = fd;
	site.index = opt.index;
}

/*
 * Slots for the connections and the open-file cache, sized by --max-conns,
 * --open-file-cache and the fd limit. After the fixed ones, the cache
 * takes one descriptor per entry, at most a quarter; each connection one,
 * its socket; what is left is for the files of responses in flight, one
 * each (files.budget). --max-conns is lowered only as far as needed for
 * one connection in eight to have a file open: the others' requests wait
 * their turn. Idle keep-alive connections hold no file, so a limit of
 * 20,000 holds 10,000 connections.
 */
/*
 * Descriptors that are not the connections', the cache's or the files':
 * logs, the signal pipe, the root, the epoll set, a few more while a
 * request is prepared, and side.c's listeners and clients.
 */
static long
fixed_descriptors(void)
{
	return 16 + listeners.count + (opt.status ? 1 + STATUS_SLOTS : 0)
	    + (opt.redirect_count > 0 ? opt.redirect_count + REDIRECT_SLOTS : 0);
}

static void
allocate_slots(void)
{
	struct rlimit rl;
	size_t i, per_slot, per_entry, total, cache_bytes, cache_entries, cache_each;
	size_t page;
	long avail, limit, psz;
	char cache_part[80] = "";

	/*
	 * The soft limit is raised up to the hard one as far as the slots and
	 * the cache need (an administrator's hard limit is the budget).
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		rlim_t need = (rlim_t)(fixed_descriptors() + opt.open_file_cache
		    + 2 * opt.max_conns), was = rl.rlim_cur;

		if (need > rl.rlim_cur && rl.rlim_max > rl.rlim_cur) {
			rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || need < rl.rlim_max
			    ? need : rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
				fprintf(stderr, "mtlsd: open file limit raised from %ld "
				    "to %ld for --max-conns %ld (a socket and a file "
				    "each)\n", (long)was, (long)rl.rlim_cur,
				    opt.max_conns);
			else
				rl.rlim_cur = was;
		}
	}
	files.budget = (size_t)opt.max_conns;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		avail = (long)rl.rlim_cur - fixed_descriptors();
		if (opt.open_file_cache > avail / 4) {
			limit = avail / 4 > 0 ? avail / 4 : 0;
			fprintf(stderr, "mtlsd: --open-file-cache %ld lowered to %ld "
			    "(open file limit %ld)\n", opt.open_file_cache, limit,
			    (long)rl.rlim_cur);
			opt.open_file_cache = limit;
		}
		/* The most with a file each for at least one in eight. */
		limit = (avail - opt.open_file_cache) / 9 * 8
		    + (avail - opt.open_file_cache) % 9 * 8 / 9;
		if (limit < 1)
			limit = 1;
		if (opt.max_conns > limit) {
			fprintf(stderr, "mtlsd: --max-conns %ld lowered to %ld "
			    "(open file limit %ld)\n", opt.max_conns, limit,
			    (long)rl.rlim_cur);
			opt.max_conns = limit;
		}
		limit = avail - opt.open_file_cache - opt.max_conns;
		files.budget = (size_t)(limit < 1 ? 1 : limit < opt.max_conns ? limit
		    : opt.max_conns);
	}
	slots.count = (size_t)opt.max_conns;
	slots.conns = calloc(slots.count, sizeof *slots.conns);
	psz = sysconf(_SC_PAGESIZE);
	page = psz > 0 ? (size_t)psz : 4096;
	slots.stride = (sizeof(struct tls_buffers) + in_capacity() + page - 1)
	    / page * page;
	/* mmap, not calloc: the slots' buffers must start on page boundaries. */
	slots.buffers = mmap(NULL, slots.count * slots.stride, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (slots.buffers == MAP_FAILED)
		slots.buffers = NULL;
	slots.free = calloc(slots.count, sizeof *slots.free);
	slots.active = calloc(slots.count, sizeof *slots.active);
	loop.timers = calloc(slots.count, sizeof *loop.timers);
	loop.runnable = calloc(slots.count, sizeof *loop.runnable);
	loop.events = calloc(slots.count, sizeof *loop.events);
	loop.events_max = slots.count < INT_MAX ? (int)slots.count : INT_MAX;
	if (!slots.conns || !slots.buffers || !slots.free || !slots.active
	    || !loop.timers || !loop.runnable || !loop.events)
		die("cannot allocate %zu connection slots", slots.count);
	if (file_cache_init(&file_cache, (size_t)opt.open_file_cache,
	    opt.open_file_cache_inactive * 1000) < 0)
		die("cannot allocate an open-file cache of %ld entries",
		    opt.open_file_cache);
	if (opt.open_file_cache > 0)
		site.cache = &file_cache;
	/*
	 * Slots are left as calloc() and mmap() made them (C_FREE is 0), so
	 * their pages stay untouched, and unresident, until a connection first
	 * uses them.
	 */
	for (i = 0; i < slots.count; i++)
		slots.free[slots.count - 1 - i] = i;
	slots.free_count = slots.count;
	per_slot = sizeof(struct conn) + slots.stride + sizeof(size_t)
	    + 3 * sizeof(struct conn *) + sizeof(struct epoll_event);
	per_entry = file_cache_entry_bytes();
	total = per_slot * slots.count + per_entry * (size_t)opt.open_file_cache;
	if (opt.open_file_cache > 0)
		snprintf(cache_part, sizeof cache_part, " + open-file cache %ld x %zu bytes",
		    opt.open_file_cache, per_entry);
	if (opt.workers > 1)
		fprintf(stderr, "mtlsd/%s: %zu connection slots x %zu bytes%s = "
		    "%.1f MiB per worker, allocated once; %ld workers: %.1f MiB\n",
		    MTLSD_VERSION, slots.count, per_slot, cache_part,
		    (double)total / (1024.0 * 1024.0), opt.workers,
		    (double)total * (double)opt.workers / (1024.0 * 1024.0));
	else
		fprintf(stderr, "mtlsd/%s: %zu connection slots x %zu bytes%s = %.1f MiB, "
		    "allocated once\n", MTLSD_VERSION, slots.count, per_slot, cache_part,
		    (double)total / (1024.0 * 1024.0));
	if (files.budget < slots.count)
		fprintf(stderr, "mtlsd/%s: open file limit %ld: at most %zu "
		    "responses send files at once; more requests wait their turn\n",
		    MTLSD_VERSION, (long)rl.rlim_cur, files.budget);
	cache_bytes = tls_cache_bytes(&cache_entries, &cache_each);
	if (cache_entries > 0)
		fprintf(stderr, "mtlsd/%s: session cache: %zu sessions x %zu bytes = "
		    "%.1f MiB of shared memory, mapped once%s\n", MTLSD_VERSION,
		    cache_entries, cache_each,
		    (double)cache_bytes / (1024.0 * 1024.0),
		    opt.workers > 1 ? ", one cache for all workers" : "");
	if (opt.tls.crl_file_count > 0) {
		size_t serials, crl_bytes = tls_crl_memory(tls_current(), &serials);

		fprintf(stderr, "mtlsd/%s: CRLs: %zu revoked serial(s) = %.1f MiB, "
		    "sorted; read again at each reload (both sets are held until "
		    "the old one's handshakes end)\n", MTLSD_VERSION, serials,
		    (double)crl_bytes / (1024.0 * 1024.0));
	}
}

/* --check-cert: the server's checks on one chain, offline. */
static int
check_cert_main(void)
{
	struct tls_credentials *creds;
	char why[512];
	int rc;

	opt.tls.cert_file = NULL;       /* no server key needed to check a client */
	if (!(creds = tls_load(&opt.tls, why, sizeof why)))
		die("%s", why);
	rc = tls_check_chain(creds, opt.check_cert, stdout);
	tls_free(creds);
	return rc;
}

/* ---- --nginx-conf, -t and error_log ---- */

static void
nginx_conf_warning(const char *message)
{
	fprintf(stderr, "mtlsd: warning: %s\n", message);
}

static void
load_nginx_conf(const char *path)
{
	char why[512];

	if (nginx_conf_load(path, &opt, &args.nginx_conf_strings, nginx_conf_warning,
	    why, sizeof why) < 0)
		die("%s", why);
	args.listen_from_file = true;
}

/*
 * Takes --nginx-conf and -t before parse_options() reads the command line,
 * so that the other options override the file wherever they stand.
 */
static void
read_nginx_conf(int argc, char **argv)
{
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		if (ch == 't')
			args.config_test = true;
		if (ch != OPT_NGINX_CONF)
			continue;
		if (args.nginx_conf_path)
			usage_error("--nginx-conf given twice");
		args.nginx_conf_path = optarg;
	}
	optind = 0;     /* glibc: parse_options() starts over */
	if (args.nginx_conf_path)
		load_nginx_conf(args.nginx_conf_path);
}

/* The error log is stderr; error_log FILE sends it to FILE once listening. */
static void
open_error_log(void)
{
	if (!opt.error_log || strcmp(opt.error_log, "stderr") == 0)
		return;
	if ((logs.error_fd = open(opt.error_log, O_WRONLY | O_APPEND | O_CREAT
	    | O_CLOEXEC, 0644)) < 0)
		die("error_log %s: %s", opt.error_log, strerror(errno));
}

static void
use_error_log(void)
{
	if (logs.error_fd < 0)
		return;
	fflush(stderr);
	if (dup2(logs.error_fd, STDERR_FILENO) < 0)
		die("error_log %s: %s", opt.error_log, strerror(errno));
	close(logs.error_fd);
	logs.error_fd = -1;
}

/*
 * Everything start-up checks but binding the ports: the listen addresses,
 * --user and --chroot, every file, the logs and the pid file's directory.
 * Dies with the reason.
 */
static void
check_config(void)
{
	struct tls_credentials *creds;
	struct sockaddr_storage addr;
	char why[512], dir[4096], *slash;
	int i;

	for (i = 0; i < opt.listen_count; i++)
		parse_listen(opt.listen[i], &addr);
	if (opt.status)
		status_address(&addr);
	if (priv_prepare(opt.user, opt.chroot_dir, why, sizeof why) < 0)
		die("%s", why);
	if (!(creds = tls_load(&opt.tls, why, sizeof why)))
		die("%s", why);
	tls_free(creds);
	open_root();
	open_access_log();
	open_error_log();
	if (opt.pid_file) {
		snprintf(dir, sizeof dir, "%s", opt.pid_file);
		if ((slash = strrchr(dir, '/')))
			slash[slash == dir ? 1 : 0] = '\0';
		else
			snprintf(dir, sizeof dir, ".");
		if (access(dir, W_OK) < 0)
			die("--pid-file %s: directory %s: %s", opt.pid_file, dir,
			    strerror(errno));
	}
}

/* -t: everything start-up reads is read, nothing listens (as nginx -t). */
static int
test_config_main(void)
{
	check_config();
	if (args.nginx_conf_path) {
		fprintf(stderr, "mtlsd: the configuration file %s syntax is ok\n",
		    args.nginx_conf_path);
		fprintf(stderr, "mtlsd: configuration file %s test is successful\n",
		    args.nginx_conf_path);
	} else {
		fprintf(stderr, "mtlsd: configuration test is successful\n");
	}
	return 0;
}

/*
 * -s reload: the checks of -t first (a reload the server would refuse is
 * not sent), then SIGHUP to the pid in --pid-file, then the outcome the
 * server records in FILE.reload. Exit 0 if it reloaded, 1 with the reason.
 */
#define RELOAD_WAIT_MS 60000

static bool
read_small_file(const char *path, char *out, size_t out_len)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, out, out_len - 1);
	close(fd);
	if (n <= 0 || out[n - 1] != '\n')
		return false;
	out[n - 1] = '\0';
	return true;
}

static int
signal_main(void)
{
	char line[800], status_file[4096 + 8], *end;
	unsigned long before, after;
	long pid;
	int waited;

	if (!opt.pid_file)
		die("-s reload: needs --pid-file FILE, the one the server was "
		    "started with");
	args.reload_checking = true;
	check_config();
	args.reload_checking = false;
	snprintf(status_file, sizeof status_file, "%s.reload", opt.pid_file);
	errno = 0;
	if (!read_small_file(opt.pid_file, line, sizeof line))
		die("-s reload: --pid-file %s: %s; is mtlsd running with it?",
		    opt.pid_file, errno ? strerror(errno) : "no pid in it");
	errno = 0;
	pid = strtol(line, &end, 10);
	if (errno || *end || pid < 2)
		die("-s reload: --pid-file %s: \"%s\" is not a pid", opt.pid_file, line);
	errno = 0;
	if (!read_small_file(status_file, line, sizeof line))
		die("-s reload: %s: %s; was mtlsd started with --pid-file %s?",
		    status_file, errno ? strerror(errno) : "unreadable", opt.pid_file);
	before = strtoul(line, NULL, 10);
	errno = 0;
	if (kill((pid_t)pid, SIGHUP) < 0)
		die("-s reload: pid %ld (from %s): %s", pid, opt.pid_file,
		    strerror(errno));
	for (waited = 0; waited < RELOAD_WAIT_MS; waited += 50) {
		struct timespec pause = { 0, 50 * 1000000L };

		nanosleep(&pause, NULL);
		if (read_small_file(status_file, line, sizeof line)
		    && (after = strtoul(line, &end, 10)) != before) {
			if (strcmp(end, " ok") == 0) {
				fprintf(stderr, "mtlsd: reload of pid %ld done\n", pid);
				return 0;
			}
			die("reload failed; pid %ld keeps serving its current "
			    "certificates, CAs, CRLs and allowlists: %s", pid,
			    strncmp(end, " failed: ", 9) == 0 ? end + 9 : end);
		}
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			die("-s reload: pid %ld exited before reporting the reload", pid);
	}
	die("-s reload: pid %ld did not report the reload's outcome within %ds "
	    "(in %s)", pid, RELOAD_WAIT_MS / 1000, status_file);
}

/* ---- workers (--workers N): the supervisor ---- */

/*
 * With --workers N the first process becomes a supervisor. It does every
 * start-up check once (files, keys, ports, slots), opens one SO_REUSEPORT
 * listening socket per worker and address, so that the kernel spreads new
 * connections over the workers, and forks them. Each worker is the ordinary
 * one-thread server on its own sockets, with its own slots.
 *
 * The supervisor keeps every socket open: a worker that dies is started
 * again on the same sockets, and connections the kernel queued on them in
 * the meantime wait for it instead of being reset. It forwards SIGHUP, and
 * SIGTERM/SIGINT; it never accepts a connection itself.
 */

#define RESTART_DELAY_MIN_MS 100
#define RESTART_DELAY_MAX_MS 10000
#define WORKER_STABLE_MS 10000      /* alive this long: the next restart is quick */
#define STOP_MARGIN_MS 3000         /* after --shutdown-grace, then SIGKILL */

struct worker {
	pid_t pid;                  /* 0 while not running */
	int fds[MAX_LISTENERS];     /* its listening sockets, one per --listen */
	int64_t started_at;         /* ms, monotonic */
	int64_t restart_at;         /* when to start it again; 0: not waiting */
	int64_t delay_ms;           /* the wait before its last restart */
};

static struct worker workers[MAX_WORKERS];

/*
 * Called by open_listener() before bind(). SO_REUSEPORT would let a second
 * mtlsd run by the same user bind the same port and silently take half the
 * connections, so before the first worker's socket the port is tried with
 * a socket that does not share it: "address in use" then comes at start-up,
 * as without workers.
 */
static void
share_port(int fd, const struct sockaddr *addr, socklen_t addr_len,
    const char *spec)
{
	int probe, one = 1;

	if (life.sockets_opened == 0) {
		probe = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0)
			die("--listen %s: socket: %s", spec, strerror(errno));
		setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (addr->sa_family == AF_INET6)
			setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		if (bind(probe, addr, addr_len) < 0)
			die("--listen %s: %s", spec, strerror(errno));
		close(probe);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
		die("--listen %s: SO_REUSEPORT: %s", spec, strerror(errno));
}

/* Every worker's sockets; listeners[] is left holding the first worker's. */
static void
open_worker_listeners(void)
{
	int w, k;

	for (w = 0; w < opt.workers; w++) {
		listeners.count = 0;
		for (k = 0; k < opt.listen_count; k++) {
			open_listener(opt.listen[k]);
			workers[w].fds[k] = listeners.at[k].fd;
		}
		life.sockets_opened++;
	}
}

/*
 * A worker gives up what serving does not need: root and the file system
 * (--user, --chroot) and, with --sandbox, everything beneath the root but
 * reading. A worker never reads the key files again (the supervisor does),
 * so Landlock allows nothing of their directories. If this fails the
 * worker exits with EXIT_PRIVILEGES, and the supervisor stops.
 */
#define EXIT_PRIVILEGES 78

static void
drop_privileges(void)
{
	char why[512];
	int abi;

	if (priv_drop(opt.chroot_dir, why, sizeof why) < 0) {
		log_error("emerg", NULL, "%s", why);
		exit(EXIT_PRIVILEGES);
	}
	if (!opt.sandbox)
		return;
	if ((abi = priv_sandbox(site.root_fd, NULL, 0, why, sizeof why)) < 0) {
		log_error("emerg", NULL, "%s", why);
		exit(EXIT_PRIVILEGES);
	}
	if (abi == 0)
		log_error("warn", NULL, "--sandbox: this kernel has no Landlock; "
		    "running without it");
	else
		log_error("notice", NULL, "sandboxed with Landlock ABI %d: reading "
		    "beneath the root (and location directories) only", abi);
}

/* In the new worker: its own signals, its own sockets, nothing else. */
static void
become_worker(int w)
{
	struct sigaction sa;
	int v, k;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	close(life.signal_pipe[0]);
	close(life.signal_pipe[1]);
	status_close();         /* the supervisor answers scrapes */
	life.stop_requested = life.reload_requested = life.child_exited = 0;
	setup_signals();
	for (v = 0; v < opt.workers; v++)
		for (k = 0; k < opt.listen_count && v != w; k++)
			close(workers[v].fds[k]);
	for (k = 0; k < opt.listen_count; k++)
		listeners.at[k].fd = workers[w].fds[k];
	listeners.count = opt.listen_count;
	snprintf(logs.tag, sizeof logs.tag, "worker %d: ", w + 1);
	drop_privileges();
	/*
	 * A supervisor killed outright must not leave workers serving. Set
	 * after the drop, which clears it.
	 */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != life.supervisor_pid)
		_exit(0);
}

/*
 * Forks worker w. Returns true in the new worker, which goes on to serve;
 * false in the supervisor. Signals are held during the fork so that one
 * meant for the new worker reaches its own handlers, not inherited ones.
 */
static bool
start_worker(int w)
{
	sigset_t hold, saved;
	pid_t pid;
	int block = status_worker_block();

	if (block < 0 && opt.status)
		log_error("warn", NULL, "worker %d: no free --status counter block "
		    "(too many reloads within --shutdown-grace); its counts are "
		    "missing from the totals", w + 1);
	sigemptyset(&hold);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGCHLD);
	sigprocmask(SIG_BLOCK, &hold, &saved);
	pid = fork();
	if (pid == 0) {
		status_worker_counts_in(block);
		become_worker(w);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		return true;
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	status_worker_started(block, pid);
	if (pid < 0) {
		workers[w].restart_at = now.ms + RESTART_DELAY_MAX_MS;
		log_error("alert", NULL, "worker %d: fork: %s; trying again in %ds",
		    w + 1, strerror(errno), RESTART_DELAY_MAX_MS / 1000);
		return false;
	}
	workers[w].pid = pid;
	workers[w].started_at = now.ms;
	workers[w].restart_at = 0;
	log_error("notice", NULL, "worker %d started, pid %ld", w + 1, (long)pid);
	return false;
}

static void
describe_exit(int status, char *out, size_t out_len)
{
	if (WIFSIGNALED(status))
		snprintf(out, out_len, "killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(out, out_len, "exited with status %d", WEXITSTATUS(status));
}

/*
 * Collects the workers that exited. While serving, each is scheduled to
 * start again: soon if it had run a while, later and later if it keeps
 * dying young, so a worker that crashes at once does not spin. Returns how
 * many did not exit with status 0.
 */
static int
reap_workers(bool restart)
{
	char how[96];
	int status, w, failures = 0;
	struct worker *wk;
	pid_t pid;

	life.child_exited = 0;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		status_worker_exited(pid);      /* its counts join the totals */
		for (w = 0; w < opt.workers && workers[w].pid != pid; w++)
			;
		describe_exit(status, how, sizeof how);
		if (w == opt.workers) {
			/* A worker retired by a reload. */
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_error("alert", NULL, "old worker (pid %ld) %s",
				    (long)pid, how);
			continue;
		}
		wk = &workers[w];
		wk->pid = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failures++;
		if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_PRIVILEGES) {
			/* Restarting cannot help: stop, with the reason logged. */
			log_error("alert", NULL, "worker %d (pid %ld) could not drop "
			    "privileges; stopping", w + 1, (long)pid);
			life.worker_cannot_drop = true;
			continue;
		}
		if (!restart) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_error("alert", NULL, "worker %d (pid %ld) %s", w + 1,
				    (long)pid, how);
			continue;
		}
		if (wk->delay_ms == 0 || now.ms - wk->started_at >= WORKER_STABLE_MS)
			wk->delay_ms = RESTART_DELAY_MIN_MS;
		else if (wk->delay_ms * 2 <= RESTART_DELAY_MAX_MS)
			wk->delay_ms *= 2;
		else
			wk->delay_ms = RESTART_DELAY_MAX_MS;
		wk->restart_at = now.ms + wk->delay_ms;
		log_error("alert", NULL, "worker %d (pid %ld) %s; restarting it in "
		    "%.1fs", w + 1, (long)pid, how, (double)wk->delay_ms / 1000.0);
	}
	return failures;
}

static int
workers_running(void)
{
	int w, n = 0;

	for (w = 0; w < opt.workers; w++)
		if (workers[w].pid > 0)
			n++;
	return n;
}

static void
signal_workers(int sig)
{
	int w;

	for (w = 0; w < opt.workers; w++)
		if (workers[w].pid > 0)
			kill(workers[w].pid, sig);
}

/*
 * SIGHUP, as nginx's master: the supervisor reads the files (as root, out
 * of any chroot or sandbox) and, if they load, starts a new generation of
 * workers with them, then asks the old ones to finish their responses in
 * flight and exit (SIGTERM: they close idle keep-alive connections at
 * once). The listening sockets are shared, so no connection is refused in
 * between. If the files do not load, the old workers go on and the reason
 * is logged and recorded for -s reload. Returns true in a new worker.
 */
static bool
supervisor_reload(void)
{
	char why[512];
	pid_t old;
	int w, started = 0;

	if (!load_again())
		return false;
	for (w = 0; w < opt.workers; w++) {
		old = workers[w].pid;
		if (start_worker(w))
			return true;
		if (workers[w].pid == old)
			continue;       /* fork failed: the old one goes on */
		started++;
		if (old > 0)
			kill(old, SIGTERM);
	}
	if (started < opt.workers) {
		snprintf(why, sizeof why, "the files loaded, but only %d of %ld new "
		    "workers could be started", started, opt.workers);
		log_error("alert", NULL, "reload: %s", why);
		record_reload(why);
		return false;
	}
	log_error("notice", NULL, "reloaded certificates, CAs, CRLs and "
	    "allowlists: new workers serve; the old ones finish their "
	    "responses in flight and exit");
	record_reload(NULL);
	return false;
}

/*
 * Starts the workers and looks after them. Returns only in a worker, which
 * then serves; the supervisor itself exits, 0 once every worker has
 * stopped by itself after SIGTERM or SIGINT, 1 if one had to be killed or
 * failed.
 */
static void
supervise(void)
{
	struct sigaction sa;
	struct pollfd pfd[1 + SIDE_POLLFDS];
	struct stat st;
	int64_t kill_at = 0, wake;
	size_t n;
	int w, k, failures = 0;
	bool stopping = false, killed = false;
	char sink[64];

	life.supervisor_pid = getpid();
	/* Workers share the access log: on a pipe, lines must not be torn. */
	if (logs.access_fd >= 0 && fstat(logs.access_fd, &st) == 0
	    && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		logs.access_write_max = PIPE_BUF;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	/* True already: the sockets queue connections until a worker takes them. */
	for (k = 0; k < opt.listen_count; k++)
		fprintf(stderr, "mtlsd/%s: listening on %s\n", MTLSD_VERSION,
		    opt.listen[k]);
	use_error_log();
	for (w = 0; w < opt.workers; w++)
		if (start_worker(w))
			return;
	for (;;) {
		update_clock();
		if (life.child_exited) {
			k = reap_workers(!stopping);
			if (stopping)
				failures += k;
		}
		if (life.stop_requested && !stopping) {
			stopping = true;
			kill_at = now.ms + opt.shutdown_grace * 1000 + STOP_MARGIN_MS;
			log_error("notice", NULL, "shutting down: stopping %d workers",
			    workers_running());
			/* The workers close theirs: then the ports are closed. */
			for (w = 0; w < opt.workers; w++)
				for (k = 0; k < opt.listen_count; k++)
					close(workers[w].fds[k]);
			signal_workers(SIGTERM);
		}
		if (life.worker_cannot_drop && !stopping) {
			life.stop_requested = 1;
			failures++;
		}
		if (life.reload_requested && !stopping && supervisor_reload())
			return;
		wake = now.ms + 1000;
		if (stopping) {
			if (workers_running() == 0)
				break;
			if (!killed && now.ms >= kill_at) {
				for (w = 0; w < opt.workers; w++)
					if (workers[w].pid > 0)
						log_error("alert", NULL, "worker %d (pid %ld) still "
						    "running %lds after SIGTERM; killing it", w + 1,
						    (long)workers[w].pid, opt.shutdown_grace
						    + STOP_MARGIN_MS / 1000);
				signal_workers(SIGKILL);
				killed = true;
			}
			if (!killed && kill_at < wake)
				wake = kill_at;
		} else {
			for (w = 0; w < opt.workers; w++) {
				if (workers[w].pid > 0 || workers[w].restart_at == 0)
					continue;
				if (workers[w].restart_at <= now.ms) {
					if (start_worker(w))
						return;
				} else if (workers[w].restart_at < wake) {
					wake = workers[w].restart_at;
				}
			}
		}
		if (side_expire(now.ms) < wake)
			wake = side_expire(now.ms);
		pfd[0].fd = life.signal_pipe[0];
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		n = 1 + side_pollfds(pfd + 1, now.ms, false);
		if (poll(pfd, (nfds_t)n, wake > now.ms ? (int)(wake - now.ms) : 0) > 0) {
			if (pfd[0].revents)
				while (read(life.signal_pipe[0], sink, sizeof sink) > 0)
					;
			update_clock();
			side_ready(pfd + 1, n - 1, now.ms, now.wall);
		}
	}
	log_error("notice", NULL, "exiting");
	remove_pid_file();
	exit(failures || killed ? 1 : 0);
}

int
main(int argc, char **argv)
{
	struct tls_credentials *creds;
	char why[512];
	int i;

	read_nginx_conf(argc, argv);
	parse_options(argc, argv);
	if (args.nginx_conf_path && nginx_conf_check_files(&opt, why, sizeof why) < 0)
		die("%s", why);
	tzset();    /* now, not at the first log line while serving */
	update_clock();
	if (opt.check_cert)
		return check_cert_main();
	if (args.signal_name)
		return signal_main();
	if (args.config_test)
		return test_config_main();
	if (priv_prepare(opt.user, opt.chroot_dir, why, sizeof why) < 0)
		die("%s", why);
	if (!(creds = tls_load(&opt.tls, why, sizeof why)))
		die("%s", why);
	tls_use(creds);
	status_loaded();
	tls_warn_expiring(creds, 7, warn_line);
	if (opt.tls.security_level < 2)
		log_error("warn", NULL, "--security-level %d: client chains may use RSA "
		    "keys of 1024 bits and SHA-1 signatures, which OpenSSL refuses by "
		    "default; for a legacy PKI only", opt.tls.security_level);
	tls_cache_init(&opt.tls);
	if (http_set_locations(opt.locations, (size_t)opt.location_count, why,
	    sizeof why) < 0)
		die("%s", why);
	open_root();
	open_access_log();
	open_error_log();
	setup_signals();
	life.supervised = opt.workers > 1 || opt.user || opt.chroot_dir || opt.sandbox;
	if (life.supervised && opt.status)
		status_shared_init(opt.workers);
	open_status_listener();
	if (life.supervised)
		open_worker_listeners();
	else
		for (i = 0; i < opt.listen_count; i++)
			open_listener(opt.listen[i]);
	open_redirect_listeners();
	allocate_slots();
	write_pid_file();
	if (life.supervised) {
		supervise();        /* returns in each worker, privileges dropped */
	} else {
		for (i = 0; i < listeners.count; i++)
			fprintf(stderr, "mtlsd/%s: listening on %s\n", MTLSD_VERSION,
			    listeners.at[i].name);
		use_error_log();
	}
	run();
	access_log_flush();
	if (logs.access_dropped)
		log_error("warn", NULL, "%lu access log lines were dropped "
		    "(log output blocked)", logs.access_dropped);
	if (logs.client_dropped)
		log_error("warn", NULL, "%lu lines about clients were not logged "
		    "in all", logs.client_dropped);
	log_error("notice", NULL, "exiting");
	remove_pid_file();
	return 0;
}
