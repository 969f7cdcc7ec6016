/*
 * nginx_conf.c - reads the nginx configuration of the server mtlsd replaces
 * (--nginx-conf FILE) into the settings the command line fills.
 *
 * A pure function over a buffer: it opens no file and prints nothing, so a
 * fuzzer can drive it. What mtlsd can honour is taken; what it accepts
 * without honouring is named in a warning; everything else is refused with
 * "FILE:LINE: ...", so that a configuration mtlsd runs means what it meant
 * to nginx, apart from what the warnings say.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define MAX_ARGS 32                 /* words in one directive, its name included */
#define LISTEN_TEXT 64              /* "[v6 address]:port" and its NUL */
#define MAX_SECONDS 86400           /* the command line's bound for timeouts */
#define MAX_SESSION_CACHE 1000000
#define MAX_OPEN_FILE_CACHE 1000000     /* the command line's bound */
#define NGINX_INACTIVE_SECONDS 60       /* open_file_cache's inactive= default */
#define SIZE_MAX_BYTES (1LL << 40)
#define TIME_MAX_MS 1000000000000000LL   /* 10^12 s: far past any timeout */

enum context {
	CTX_MAIN = 1,
	CTX_EVENTS = 2,
	CTX_HTTP = 4,
	CTX_SERVER = 8,
	CTX_LOCATION = 16,
};

/* Where a setting was made; a deeper level overrides, as nginx inherits. */
enum level { LV_MAIN, LV_HTTP, LV_SERVER, LV_LOCATION, LV_COUNT };

enum text_setting {
	T_ROOT, T_INDEX, T_ACCESS_LOG, T_ERROR_LOG, T_CERT, T_KEY, T_CLIENT_CA,
	T_TRUSTED_CA, T_CRL, T_COUNT
};

enum number_setting {
	N_VERIFY_CLIENT, N_VERIFY_DEPTH, N_SESSION_CACHE, N_SESSION_TIMEOUT,
	N_KEEPALIVE, N_HEADER_TIMEOUT, N_SEND_TIMEOUT, N_KEEPALIVE_REQUESTS,
	N_SSL_ON, N_OPEN_FILE_CACHE, N_OPEN_FILE_CACHE_INACTIVE, N_SECURITY_LEVEL, N_COUNT
};

struct settings {
	const char *text[T_COUNT];
	unsigned text_line[T_COUNT];    /* 0: not set at this level */
	long number[N_COUNT];
	unsigned number_line[N_COUNT];
};

struct listen_entry {
	const char *address;            /* "0.0.0.0:443", "[::]:443" */
	unsigned line;
	bool ssl;
};

struct directive {
	char *argv[MAX_ARGS];           /* argv[0] is the name */
	int argc;
	unsigned line;
	bool block;                     /* ended by '{' rather than ';' */
};

struct parser {
	const char *p, *end;            /* text not read yet */
	unsigned line;
	char *store, *store_next, *store_end;
	const char *file;
	size_t dir_len;                 /* of file's directory, "" when none */
	void (*warn)(const char *message);
	char *why;
	size_t why_len;
	enum context ctx;
	struct settings level[LV_COUNT];
	struct listen_entry listens[MAX_LISTENERS];
	int listen_count;
	unsigned server_line, servers, https, events, locations;
};

struct rule;
typedef int (*rule_fn)(struct parser *, const struct directive *, const struct rule *);

struct rule {
	const char *name;
	unsigned contexts;
	bool block;
	int min_args, max_args;         /* after the name; -1: no limit */
	rule_fn apply;
	int setting;                    /* for the shared handlers */
	const char *note;               /* why it is ignored, or what is accepted */
};

/* ---- messages ---- */

/* Control characters from the file are shown as '?', never printed. */
static void
clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int
fail(struct parser *ps, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct parser *ps, unsigned line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	clean(msg);
	if (line)
		snprintf(ps->why, ps->why_len, "%s:%u: %s", ps->file, line, msg);
	else
		snprintf(ps->why, ps->why_len, "%s: %s", ps->file, msg);
	return -1;
}

static void
warn(struct parser *ps, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
warn(struct parser *ps, unsigned line, const char *fmt, ...)
{
	char msg[400], out[600];
	va_list ap;

	if (!ps->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	clean(msg);
	snprintf(out, sizeof out, "%s:%u: %s", ps->file, line, msg);
	ps->warn(out);
}

static int
unsupported(struct parser *ps, const struct directive *d, const char *why)
{
	return fail(ps, d->line, "unsupported directive \"%.64s\"%s%s", d->argv[0],
	    why ? ": " : "", why ? why : "");
}

/* ---- tokens ---- */

enum token { TOK_WORD, TOK_SEMICOLON, TOK_OPEN, TOK_CLOSE, TOK_END, TOK_ERROR };

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Copies a word into the store, undoing nginx's escapes: \" \' \\ become
 * the character, \t \r \n the control character; any other backslash stays.
 */
static char *
store_word(struct parser *ps, const char *s, size_t len)
{
	char *out = ps->store_next, *o = out;
	size_t i;

	/* Cannot happen (see the sizing in nginx_conf_parse), but never write past. */
	if ((size_t)(ps->store_end - out) < len + 1) {
		fail(ps, ps->line, "out of room for words");
		return NULL;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			char next = s[i + 1];

			if (next == '"' || next == '\'' || next == '\\') {
				*o++ = next;
				i++;
				continue;
			}
			if (next == 't' || next == 'r' || next == 'n') {
				*o++ = next == 't' ? '\t' : next == 'r' ? '\r' : '\n';
				i++;
				continue;
			}
		}
		*o++ = s[i];
	}
	*o++ = '\0';
	ps->store_next = o;
	return out;
}

static enum token
next_token(struct parser *ps, char **word, unsigned *line)
{
	const char *start;

	for (;;) {
		while (ps->p < ps->end && is_space(*ps->p))
			if (*ps->p++ == '\n')
				ps->line++;
		if (ps->p < ps->end && *ps->p == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
			continue;
		}
		break;
	}
	*line = ps->line;
	if (ps->p == ps->end)
		return TOK_END;
	switch (*ps->p) {
	case ';': ps->p++; return TOK_SEMICOLON;
	case '{': ps->p++; return TOK_OPEN;
	case '}': ps->p++; return TOK_CLOSE;
	case '\0':
		fail(ps, ps->line, "unexpected NUL byte");
		return TOK_ERROR;
	case '"':
	case '\'': {
		char quote = *ps->p++;

		start = ps->p;
		while (ps->p < ps->end && *ps->p != quote) {
			if (*ps->p == '\0') {
				fail(ps, ps->line, "unexpected NUL byte");
				return TOK_ERROR;
			}
			if (*ps->p == '\\' && ps->p + 1 < ps->end && ps->p[1] != '\0')
				ps->p++;
			if (*ps->p == '\n')
				ps->line++;
			ps->p++;
		}
		if (ps->p == ps->end) {
			fail(ps, *line, "unexpected end of file in a quoted string");
			return TOK_ERROR;
		}
		if (!(*word = store_word(ps, start, (size_t)(ps->p - start))))
			return TOK_ERROR;
		ps->p++;
		if (ps->p < ps->end && !is_space(*ps->p) && *ps->p != ';'
		    && *ps->p != '{') {
			fail(ps, ps->line, "unexpected \"%c\" after a quoted string", *ps->p);
			return TOK_ERROR;
		}
		return TOK_WORD;
	}
	default:
		break;
	}
	/* As in nginx, only a space, ';' or '{' ends a word: "a}" is one. */
	start = ps->p;
	while (ps->p < ps->end && !is_space(*ps->p) && *ps->p != ';') {
		if (*ps->p == '\0') {
			fail(ps, ps->line, "unexpected NUL byte");
			return TOK_ERROR;
		}
		/* "${name}" is one word in nginx; mtlsd refuses variables later. */
		if (*ps->p == '{' && !(ps->p > start && ps->p[-1] == '$'))
			break;
		if (*ps->p == '\\' && ps->p + 1 < ps->end && ps->p[1] != '\n'
		    && ps->p[1] != '\0')
			ps->p++;
		ps->p++;
	}
	if (!(*word = store_word(ps, start, (size_t)(ps->p - start))))
		return TOK_ERROR;
	return TOK_WORD;
}

/* 1: a directive in d; 0: a closing '}'; -1: the end of the text; -2: an error. */
static int
read_directive(struct parser *ps, struct directive *d)
{
	char *word = NULL;
	unsigned line;

	d->argc = 0;
	for (;;) {
		switch (next_token(ps, &word, &line)) {
		case TOK_WORD:
			if (d->argc == 0)
				d->line = line;
			if (d->argc == MAX_ARGS) {
				fail(ps, d->line, "too many arguments in \"%.64s\"", d->argv[0]);
				return -2;
			}
			d->argv[d->argc++] = word;
			break;
		case TOK_SEMICOLON:
		case TOK_OPEN:
			if (d->argc == 0) {
				fail(ps, line, "unexpected \"%c\"", ps->p[-1]);
				return -2;
			}
			d->block = ps->p[-1] == '{';
			return 1;
		case TOK_CLOSE:
			if (d->argc > 0) {
				fail(ps, line, "unexpected \"}\" after \"%.64s\"", d->argv[0]);
				return -2;
			}
			return 0;
		case TOK_END:
			if (d->argc > 0) {
				fail(ps, d->line, "unexpected end of file, expecting \";\" or \"}\"");
				return -2;
			}
			return -1;
		case TOK_ERROR:
			return -2;
		}
	}
}

/* ---- values ---- */

static int
no_variables(struct parser *ps, const struct directive *d, const char *value)
{
	if (strchr(value, '$'))
		return fail(ps, d->line, "\"%.64s %.64s\": mtlsd has no variables; "
		    "write the value out", d->argv[0], value);
	return 0;
}

/*
 * nginx's time syntax: "75", "75s", "5m", "1h 30m", "1d", "500ms" (where
 * milliseconds are allowed); units y M w d h m s ms, larger first.
 * Returns milliseconds, or -1.
 */
static long long
parse_time_ms(const char *s, bool allow_ms)
{
	static const struct { const char *unit; long long ms; } units[] = {
		{ "y", 365LL * 86400000 }, { "M", 30LL * 86400000 },
		{ "w", 7LL * 86400000 }, { "d", 86400000 }, { "h", 3600000 },
		{ "ms", 1 }, { "m", 60000 }, { "s", 1000 },
	};
	/* Order a sequence must follow, largest first. */
	static const char order[] = "yMwdhmsx";  /* x stands for ms */
	long long total = 0, value;
	int last_rank = -1;
	bool any = false;

	while (*s) {
		size_t u;
		int rank;
		const char *unit;

		if (*s == ' ') {
			s++;
			continue;
		}
		if (*s < '0' || *s > '9')
			return -1;
		for (value = 0; *s >= '0' && *s <= '9'; s++) {
			value = value * 10 + (*s - '0');
			if (value > 100000000000LL)
				return -1;
		}
		any = true;
		if (*s == '\0' || *s == ' ') {
			/* A bare number is seconds, and ends the value. */
			while (*s == ' ')
				s++;
			if (*s || last_rank >= 6)
				return -1;
			return total + value * 1000;
		}
		for (u = 0; u < sizeof units / sizeof units[0]; u++)
			if (strncmp(s, units[u].unit, strlen(units[u].unit)) == 0)
				break;
		if (u == sizeof units / sizeof units[0])
			return -1;
		unit = units[u].unit;
		if (strcmp(unit, "ms") == 0 && !allow_ms)
			return -1;
		rank = (int)(strchr(order, strcmp(unit, "ms") == 0 ? 'x' : unit[0]) - order);
		if (rank <= last_rank || value > TIME_MAX_MS / units[u].ms)
			return -1;
		last_rank = rank;
		total += value * units[u].ms;
		if (total > TIME_MAX_MS)
			return -1;
		s += strlen(unit);
	}
	return any ? total : -1;
}

/* A time in whole seconds (rounded up), within [min, MAX_SECONDS]. */
static int
time_seconds(struct parser *ps, const struct directive *d, const char *value,
    bool allow_ms, long min, long *out)
{
	long long ms = parse_time_ms(value, allow_ms);

	if (ms < 0)
		return fail(ps, d->line, "\"%.64s\": invalid time \"%.64s\" "
		    "(nginx's units: ms, s, m, h, d; e.g. 75s, 5m)", d->argv[0], value);
	*out = (long)((ms + 999) / 1000);
	if (*out < min)
		return fail(ps, d->line, "\"%.64s %.64s\": at least %lds is needed",
		    d->argv[0], value, min);
	if (*out > MAX_SECONDS) {
		warn(ps, d->line, "\"%s %s\" capped at %ds, mtlsd's largest",
		    d->argv[0], value, MAX_SECONDS);
		*out = MAX_SECONDS;
	}
	return 0;
}

/* nginx's sizes: bytes, or k/K, m/M, g/G. Returns bytes, or -1. */
static long long
parse_size(const char *s)
{
	long long v = 0, scale = 1;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > SIZE_MAX_BYTES)
			return -1;
	}
	switch (*s) {
	case '\0': break;
	case 'k': case 'K': scale = 1024; s++; break;
	case 'm': case 'M': scale = 1024 * 1024; s++; break;
	case 'g': case 'G': scale = 1024LL * 1024 * 1024; s++; break;
	default: return -1;
	}
	if (*s || v > SIZE_MAX_BYTES / scale)
		return -1;
	return v * scale;
}

static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (*end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static struct settings *
here(struct parser *ps)
{
	switch (ps->ctx) {
	case CTX_HTTP: return &ps->level[LV_HTTP];
	case CTX_SERVER: return &ps->level[LV_SERVER];
	case CTX_LOCATION: return &ps->level[LV_LOCATION];
	default: return &ps->level[LV_MAIN];
	}
}

static int
set_text(struct parser *ps, const struct directive *d, int which, const char *value)
{
	struct settings *s = here(ps);

	if (s->text_line[which])
		return fail(ps, d->line, "\"%.64s\" directive is duplicate (first at line %u)",
		    d->argv[0], s->text_line[which]);
	s->text[which] = value;
	s->text_line[which] = d->line;
	return 0;
}

static int
set_number(struct parser *ps, const struct directive *d, int which, long value)
{
	struct settings *s = here(ps);

	if (s->number_line[which])
		return fail(ps, d->line, "\"%.64s\" directive is duplicate (first at line %u)",
		    d->argv[0], s->number_line[which]);
	s->number[which] = value;
	s->number_line[which] = d->line;
	return 0;
}

/* ---- directives ---- */

static int parse_block(struct parser *ps, enum context ctx);

static int
r_block(struct parser *ps, const struct directive *d, const struct rule *r)
{
	enum context outer = ps->ctx, inner = (enum context)r->setting;
	int rc;

	if ((inner == CTX_HTTP && ps->https++ > 0)
	    || (inner == CTX_EVENTS && ps->events++ > 0))
		return fail(ps, d->line, "\"%s\" directive is duplicate", d->argv[0]);
	if (inner == CTX_SERVER) {
		if (ps->servers++ > 0)
			return unsupported(ps, d, "mtlsd serves one server block, "
			    "and this is the second");
		ps->server_line = d->line;
	}
	if (inner == CTX_LOCATION) {
		if (d->argc != 2 || strcmp(d->argv[1], "/") != 0)
			return unsupported(ps, d, "mtlsd serves one directory, "
			    "so only \"location / { root ...; index ...; }\"");
		if (ps->locations++ > 0)
			return fail(ps, d->line, "duplicate location \"/\"");
	}
	ps->ctx = inner;
	rc = parse_block(ps, inner);
	ps->ctx = outer;
	return rc;
}

/* ssl_certificate, ssl_certificate_key, ssl_client_certificate, ... */
static int
r_file(struct parser *ps, const struct directive *d, const struct rule *r)
{
	const char *v = d->argv[1];

	if (no_variables(ps, d, v) < 0)
		return -1;
	if (strncmp(v, "data:", 5) == 0 || strncmp(v, "engine:", 7) == 0)
		return fail(ps, d->line, "\"%s %.16s...\": mtlsd reads PEM files only",
		    d->argv[0], v);
	if (!*v)
		return fail(ps, d->line, "\"%s\": empty file name", d->argv[0]);
	if (r->setting == T_CERT && here(ps)->text_line[T_CERT])
		return fail(ps, d->line, "a second \"ssl_certificate\": mtlsd serves one "
		    "certificate chain (first at line %u)", here(ps)->text_line[T_CERT]);
	if (r->setting == T_KEY && here(ps)->text_line[T_KEY])
		return fail(ps, d->line, "a second \"ssl_certificate_key\": mtlsd serves one "
		    "key (first at line %u)", here(ps)->text_line[T_KEY]);
	return set_text(ps, d, r->setting, v);
}

static int
r_root(struct parser *ps, const struct directive *d, const struct rule *r)
{
	(void)r;
	if (no_variables(ps, d, d->argv[1]) < 0)
		return -1;
	if (d->argv[1][0] != '/')
		return fail(ps, d->line, "\"root %.64s\": write the full path (nginx would "
		    "resolve it against its prefix, mtlsd has none)", d->argv[1]);
	return set_text(ps, d, T_ROOT, d->argv[1]);
}

static int
r_index(struct parser *ps, const struct directive *d, const struct rule *r)
{
	const char *v = d->argv[1];
	int i;

	(void)r;
	for (i = 1; i < d->argc; i++)
		if (no_variables(ps, d, d->argv[i]) < 0)
			return -1;
	if (!*v || strchr(v, '/') || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
		return fail(ps, d->line, "\"index %.64s\": mtlsd takes a file name "
		    "in the directory", v);
	if (d->argc > 2)
		warn(ps, d->line, "\"index\": only the first name, \"%s\", is used "
		    "(mtlsd tries one index file)", v);
	return set_text(ps, d, T_INDEX, v);
}

static int
r_access_log(struct parser *ps, const struct directive *d, const struct rule *r)
{
	const char *v = d->argv[1];
	struct settings *s = here(ps);
	int i;

	(void)r;
	if (s->text_line[T_ACCESS_LOG])
		return fail(ps, d->line, "a second \"access_log\": mtlsd writes one "
		    "access log (first at line %u)", s->text_line[T_ACCESS_LOG]);
	if (strcmp(v, "off") == 0) {
		if (d->argc > 2)
			return fail(ps, d->line, "\"access_log off\" takes no parameters");
		return set_text(ps, d, T_ACCESS_LOG, "off");
	}
	if (strncmp(v, "syslog:", 7) == 0)
		return fail(ps, d->line, "\"access_log syslog:...\": mtlsd writes to a "
		    "file or stdout (/dev/stdout) only");
	if (no_variables(ps, d, v) < 0)
		return -1;
	if (v[0] != '/')
		return fail(ps, d->line, "\"access_log %.64s\": write the full path "
		    "(nginx would resolve it against its prefix, mtlsd has none)", v);
	if (d->argc > 2 && strcmp(d->argv[2], "combined") != 0)
		warn(ps, d->line, "\"access_log\": format \"%s\" ignored: mtlsd writes "
		    "the combined format with the client certificate's CN as the user",
		    d->argv[2]);
	for (i = 3; i < d->argc; i++) {
		if (strncmp(d->argv[i], "if=", 3) == 0)
			return fail(ps, d->line, "\"access_log ... %.64s\": mtlsd logs every "
			    "request, it has no conditional logging", d->argv[i]);
		warn(ps, d->line, "\"access_log\": \"%s\" ignored (mtlsd buffers lines and "
		    "writes them once per loop turn)", d->argv[i]);
	}
	return set_text(ps, d, T_ACCESS_LOG, strcmp(v, "/dev/stdout") == 0 ? "-" : v);
}

static int
r_error_log(struct parser *ps, const struct directive *d, const struct rule *r)
{
	static const char *const levels[] = { "debug", "info", "notice", "warn",
		"error", "crit", "alert", "emerg" };
	const char *v = d->argv[1];
	struct settings *s = here(ps);
	size_t i;

	(void)r;
	if (s->text_line[T_ERROR_LOG])
		return fail(ps, d->line, "a second \"error_log\": mtlsd writes one "
		    "error log (first at line %u)", s->text_line[T_ERROR_LOG]);
	if (strncmp(v, "syslog:", 7) == 0 || strncmp(v, "memory:", 7) == 0)
		return fail(ps, d->line, "\"error_log %.16s...\": mtlsd writes its error "
		    "log to stderr or a file only", v);
	if (no_variables(ps, d, v) < 0)
		return -1;
	if (strcmp(v, "stderr") != 0 && v[0] != '/')
		return fail(ps, d->line, "\"error_log %.64s\": write the full path "
		    "(nginx would resolve it against its prefix, mtlsd has none)", v);
	if (d->argc > 2) {
		for (i = 0; i < sizeof levels / sizeof levels[0]; i++)
			if (strcmp(d->argv[2], levels[i]) == 0)
				break;
		if (i == sizeof levels / sizeof levels[0])
			return fail(ps, d->line, "\"error_log\": invalid level \"%.32s\"",
			    d->argv[2]);
	}
	return set_text(ps, d, T_ERROR_LOG, strcmp(v, "/dev/stderr") == 0 ? "stderr" : v);
}

/* "443", "*:443", "127.0.0.1:8443", "[::]:443", "10.0.0.1" (port 80) */
static int
r_listen(struct parser *ps, const struct directive *d, const struct rule *r)
{
	static const char *const quiet[] = { "default_server", "default", "reuseport",
		"deferred", "bind", "ipv6only=on" };
	static const char *const quiet_prefix[] = { "backlog=", "rcvbuf=", "sndbuf=",
		"so_keepalive=", "fastopen=", "accept_filter=" };
	const char *spec = d->argv[1], *port = "80";
	char host[INET6_ADDRSTRLEN], *text;
	unsigned char scratch[sizeof(struct in6_addr)];
	size_t host_len;
	const char *colon, *bracket;
	bool v6 = false, ssl = false;
	long port_number;
	int i;
	size_t k;

	(void)r;
	if (ps->listen_count == MAX_LISTENERS)
		return fail(ps, d->line, "more than %d \"listen\" directives", MAX_LISTENERS);
	if (strncmp(spec, "unix:", 5) == 0)
		return fail(ps, d->line, "\"listen %.64s\": mtlsd listens on TCP only", spec);
	if (spec[0] == '[') {
		if (!(bracket = strchr(spec, ']')) || (bracket[1] && bracket[1] != ':'))
			return fail(ps, d->line, "\"listen %.64s\": expected [ADDRESS]:PORT", spec);
		host_len = (size_t)(bracket - spec - 1);
		if (bracket[1] == ':')
			port = bracket + 2;
		spec++;
		v6 = true;
	} else if ((colon = strrchr(spec, ':'))) {
		host_len = (size_t)(colon - spec);
		port = colon + 1;
	} else if (strspn(spec, "0123456789") == strlen(spec)) {
		host_len = 0;
		port = spec;
	} else {
		host_len = strlen(spec);
	}
	if (host_len >= sizeof host)
		return fail(ps, d->line, "\"listen %.64s\": bad address", d->argv[1]);
	memcpy(host, spec, host_len);
	host[host_len] = '\0';
	if (host_len == 0 || strcmp(host, "*") == 0)
		snprintf(host, sizeof host, "0.0.0.0");
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, scratch) != 1)
		return fail(ps, d->line, "\"listen %.64s\": mtlsd needs a numeric %s "
		    "address (or a port alone)", d->argv[1], v6 ? "IPv6" : "IPv4");
	if (parse_long(port, 1, 65535, &port_number) < 0)
		return fail(ps, d->line, "\"listen %.64s\": bad port", d->argv[1]);
	for (i = 2; i < d->argc; i++) {
		const char *p = d->argv[i];

		if (strcmp(p, "ssl") == 0) {
			ssl = true;
			continue;
		}
		if (strcmp(p, "http2") == 0) {
			warn(ps, d->line, "\"listen ... http2\": mtlsd speaks HTTP/1.1 "
			    "(ALPN http/1.1); browsers and curl fall back to it");
			continue;
		}
		for (k = 0; k < sizeof quiet / sizeof quiet[0]; k++)
			if (strcmp(p, quiet[k]) == 0)
				break;
		if (k < sizeof quiet / sizeof quiet[0])
			continue;
		for (k = 0; k < sizeof quiet_prefix / sizeof quiet_prefix[0]; k++)
			if (strncmp(p, quiet_prefix[k], strlen(quiet_prefix[k])) == 0)
				break;
		if (k < sizeof quiet_prefix / sizeof quiet_prefix[0])
			continue;
		return fail(ps, d->line, "unsupported listen parameter \"%.64s\"", p);
	}
	text = ps->store_next;
	if ((size_t)(ps->store_end - text) < LISTEN_TEXT)
		return fail(ps, d->line, "out of room for listen addresses");
	snprintf(text, LISTEN_TEXT, v6 ? "[%s]:%ld" : "%s:%ld", host, port_number);
	ps->store_next += strlen(text) + 1;
	ps->listens[ps->listen_count].address = text;
	ps->listens[ps->listen_count].line = d->line;
	ps->listens[ps->listen_count].ssl = ssl;
	ps->listen_count++;
	return 0;
}

static int
r_verify_client(struct parser *ps, const struct directive *d, const struct rule *r)
{
	const char *v = d->argv[1];

	(void)r;
	if (strcmp(v, "on") == 0)
		return set_number(ps, d, N_VERIFY_CLIENT, 1);
	if (strcmp(v, "off") == 0 || strcmp(v, "optional") == 0
	    || strcmp(v, "optional_no_ca") == 0)
		return fail(ps, d->line, "\"ssl_verify_client %s\" is refused: mtlsd always "
		    "requires a client certificate that chains to the pinned CA; "
		    "use \"ssl_verify_client on\"", v);
	return fail(ps, d->line, "\"ssl_verify_client\": invalid value \"%.64s\"", v);
}

static int
r_verify_depth(struct parser *ps, const struct directive *d, const struct rule *r)
{
	long depth;

	(void)r;
	if (parse_long(d->argv[1], 0, TLS_MAX_CLIENT_CHAIN - 1, &depth) < 0)
		return fail(ps, d->line, "\"ssl_verify_depth %.64s\": expected 0 to %d",
		    d->argv[1], TLS_MAX_CLIENT_CHAIN - 1);
	return set_number(ps, d, N_VERIFY_DEPTH, depth);
}

/* off | none | builtin[:N] | shared:NAME:SIZE, the last two together too. */
static int
r_session_cache(struct parser *ps, const struct directive *d, const struct rule *r)
{
	long long entries = 0, n;
	int i;

	(void)r;
	for (i = 1; i < d->argc; i++) {
		const char *v = d->argv[i], *size;

		if (strcmp(v, "off") == 0 || strcmp(v, "none") == 0) {
			if (d->argc > 2)
				return fail(ps, d->line, "\"ssl_session_cache %s\" stands alone", v);
		} else if (strcmp(v, "builtin") == 0) {
			entries += 20480;       /* nginx's (OpenSSL's) default */
		} else if (strncmp(v, "builtin:", 8) == 0) {
			long sessions;

			if (parse_long(v + 8, 0, MAX_SESSION_CACHE * 10L, &sessions) < 0)
				return fail(ps, d->line, "\"ssl_session_cache %.64s\": "
				    "expected builtin:SESSIONS", v);
			entries += sessions;
		} else if (strncmp(v, "shared:", 7) == 0 && (size = strchr(v + 7, ':'))
		    && size > v + 7) {
			/* nginx: "one megabyte of the cache contains about 4000 sessions" */
			if ((n = parse_size(size + 1)) < 0)
				return fail(ps, d->line, "\"ssl_session_cache %.64s\": bad size", v);
			entries += n * 4000 / (1024 * 1024);
		} else {
			return fail(ps, d->line, "\"ssl_session_cache\": invalid value \"%.64s\"", v);
		}
		if (entries > MAX_SESSION_CACHE) {
			warn(ps, d->line, "\"ssl_session_cache\": capped at %d sessions",
			    MAX_SESSION_CACHE);
			entries = MAX_SESSION_CACHE;
		}
	}
	return set_number(ps, d, N_SESSION_CACHE, (long)entries);
}

/* ssl_session_timeout, client_header_timeout, send_timeout */
static int
r_time(struct parser *ps, const struct directive *d, const struct rule *r)
{
	long seconds;

	if (time_seconds(ps, d, d->argv[1], r->setting != N_SESSION_TIMEOUT, 1,
	    &seconds) < 0)
		return -1;
	return set_number(ps, d, r->setting, seconds);
}

/* keepalive_timeout TIMEOUT [HEADER_TIMEOUT]; 0 turns keep-alive off. */
static int
r_keepalive_timeout(struct parser *ps, const struct directive *d, const struct rule *r)
{
	long seconds;

	(void)r;
	if (time_seconds(ps, d, d->argv[1], true, 0, &seconds) < 0)
		return -1;
	if (d->argc > 2)
		warn(ps, d->line, "\"keepalive_timeout\": the second value (the "
		    "\"Keep-Alive: timeout=\" header) is ignored; mtlsd sends no such header");
	return set_number(ps, d, N_KEEPALIVE, seconds);
}

static int
r_keepalive_requests(struct parser *ps, const struct directive *d, const struct rule *r)
{
	long n;

	(void)r;
	if (parse_long(d->argv[1], 1, 100000000, &n) < 0)
		return fail(ps, d->line, "\"keepalive_requests %.64s\": expected "
		    "1 to 100000000", d->argv[1]);
	return set_number(ps, d, N_KEEPALIVE_REQUESTS, n);
}

/*
 * open_file_cache off | max=N [inactive=TIME]. As in nginx, a level that
 * sets it sets both values: inactive= left out is 60 s there.
 */
static int
r_open_file_cache(struct parser *ps, const struct directive *d, const struct rule *r)
{
	long max = -1, inactive = NGINX_INACTIVE_SECONDS;
	int i;

	(void)r;
	if (strcmp(d->argv[1], "off") == 0) {
		if (d->argc > 2)
			return fail(ps, d->line, "\"open_file_cache off\" stands alone");
		return set_number(ps, d, N_OPEN_FILE_CACHE, 0);
	}
	for (i = 1; i < d->argc; i++) {
		const char *v = d->argv[i];

		if (strncmp(v, "max=", 4) == 0) {
			if (parse_long(v + 4, 1, MAX_OPEN_FILE_CACHE, &max) < 0)
				return fail(ps, d->line, "\"open_file_cache %.64s\": "
				    "expected max=1 to %d", v, MAX_OPEN_FILE_CACHE);
		} else if (strncmp(v, "inactive=", 9) == 0) {
			if (time_seconds(ps, d, v + 9, true, 1, &inactive) < 0)
				return -1;
		} else {
			return fail(ps, d->line, "\"open_file_cache\": invalid parameter "
			    "\"%.64s\"", v);
		}
	}
	if (max < 0)
		return fail(ps, d->line, "\"open_file_cache\" must have the \"max\" "
		    "parameter");
	if (set_number(ps, d, N_OPEN_FILE_CACHE, max) < 0)
		return -1;
	return set_number(ps, d, N_OPEN_FILE_CACHE_INACTIVE, inactive);
}

/* The old "ssl on;": every listen of the server is TLS. */
static int
r_ssl(struct parser *ps, const struct directive *d, const struct rule *r)
{
	(void)r;
	if (strcmp(d->argv[1], "on") == 0) {
		warn(ps, d->line, "\"ssl on\" is deprecated in nginx; "
		    "prefer \"listen ... ssl\"");
		return set_number(ps, d, N_SSL_ON, 1);
	}
	if (strcmp(d->argv[1], "off") == 0)
		return 0;
	return fail(ps, d->line, "\"ssl\": expected on or off");
}

static int
r_include(struct parser *ps, const struct directive *d, const struct rule *r)
{
	const char *v = d->argv[1], *slash = strrchr(v, '/');

	(void)r;
	if (strcmp(slash ? slash + 1 : v, "mime.types") == 0) {
		warn(ps, d->line, "\"include %s\" ignored: mtlsd has its own table of "
		    "content types (see README)", v);
		return 0;
	}
	return unsupported(ps, d, "mtlsd follows no include but mime.types; "
	    "put the included directives in this file");
}

/* Accepted and ignored: no effect worth telling. */
static int
r_quiet(struct parser *ps, const struct directive *d, const struct rule *r)
{
	(void)ps;
	(void)d;
	(void)r;
	return 0;
}

/* Accepted and ignored, with the reason. */
static int
r_ignored(struct parser *ps, const struct directive *d, const struct rule *r)
{
	warn(ps, d->line, "\"%s\" ignored: %s", d->argv[0], r->note);
	return 0;
}

/*
 * ssl_ciphers: mtlsd keeps its own suites, but an "@SECLEVEL=N" in the list
 * is OpenSSL's security level, which also judges client certificates. It
 * becomes the --security-level that refuses at least what nginx refuses:
 * OpenSSL 3's level 1 takes RSA-1024 but not SHA-1, which no mtlsd level
 * matches, so it stays 2; level 0 takes anything, so mtlsd's lowest, 1.
 */
static int
r_ciphers(struct parser *ps, const struct directive *d, const struct rule *r)
{
	const char *at = strstr(d->argv[1], "@SECLEVEL=");
	char digits[8];
	size_t n;
	long level;

	if (!at) {
		warn(ps, d->line, "\"%s\" ignored: %s", d->argv[0], r->note);
		return 0;
	}
	at += strlen("@SECLEVEL=");
	n = strcspn(at, ":");
	digits[0] = '\0';
	if (n > 0 && n < sizeof digits) {
		memcpy(digits, at, n);
		digits[n] = '\0';
	}
	if (parse_long(digits, 0, TLS_SECURITY_LEVEL_MAX, &level) < 0)
		return fail(ps, d->line, "\"ssl_ciphers ...@SECLEVEL=%.*s\": mtlsd's "
		    "client certificate checks go up to OpenSSL's level %d",
		    (int)(n > 8 ? 8 : n), at, TLS_SECURITY_LEVEL_MAX);
	if (level == 1)
		warn(ps, d->line, "\"%s\": the cipher list is ignored (%s); for client "
		    "certificates @SECLEVEL=1 is taken as --security-level 2, which "
		    "refuses RSA-1024 (mtlsd's level 1 would also admit SHA-1, which "
		    "OpenSSL 3's level 1 refuses)", d->argv[0], r->note);
	else
		warn(ps, d->line, "\"%s\": the cipher list is ignored (%s); for client "
		    "certificates @SECLEVEL=%ld is taken as --security-level %ld%s",
		    d->argv[0], r->note, level, level == 0 ? 1L : level, level == 0
		    ? " (MD5 and RSA below 1024 bits stay refused)" : "");
	return set_number(ps, d, N_SECURITY_LEVEL, level < TLS_SECURITY_LEVEL_MIN
	    ? TLS_SECURITY_LEVEL_MIN : level == 1 ? 2 : level);
}

/*
 * on/off directives: the value mtlsd behaves as (r->setting: 1 for "on") is
 * accepted quietly; the other one is warned about with r->note.
 */
static int
r_flag(struct parser *ps, const struct directive *d, const struct rule *r)
{
	const char *v = d->argv[1];

	if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
		return fail(ps, d->line, "\"%s\": expected on or off", d->argv[0]);
	if ((strcmp(v, "on") == 0) != (r->setting == 1))
		warn(ps, d->line, "\"%s %s\" ignored: %s", d->argv[0], v, r->note);
	return 0;
}

/* autoindex: off is what mtlsd does; on would list directories. */
static int
r_autoindex(struct parser *ps, const struct directive *d, const struct rule *r)
{
	(void)r;
	if (strcmp(d->argv[1], "off") == 0)
		return 0;
	return fail(ps, d->line, "\"autoindex %.16s\": mtlsd never lists directories "
	    "(403 without an index file)", d->argv[1]);
}

static int
r_default_type(struct parser *ps, const struct directive *d, const struct rule *r)
{
	(void)r;
	if (strcmp(d->argv[1], "application/octet-stream") != 0)
		warn(ps, d->line, "\"default_type %s\" ignored: mtlsd sends "
		    "application/octet-stream for unknown extensions", d->argv[1]);
	return 0;
}

#define M CTX_MAIN
#define E CTX_EVENTS
#define H CTX_HTTP
#define S CTX_SERVER
#define L CTX_LOCATION

static const struct rule rules[] = {
	/* blocks */
	{ "events", M, true, 0, 0, r_block, CTX_EVENTS, NULL },
	{ "http", M, true, 0, 0, r_block, CTX_HTTP, NULL },
	{ "server", M | H, true, 0, 0, r_block, CTX_SERVER, NULL },
	{ "location", S, true, 1, 2, r_block, CTX_LOCATION, NULL },

	/* the server */
	{ "listen", S, false, 1, -1, r_listen, 0, NULL },
	{ "server_name", S, false, 1, -1, r_quiet, 0, NULL },
	{ "root", H | S | L, false, 1, 1, r_root, 0, NULL },
	{ "index", H | S | L, false, 1, -1, r_index, 0, NULL },
	{ "access_log", H | S | L, false, 1, -1, r_access_log, 0, NULL },
	{ "error_log", M | H | S, false, 1, 2, r_error_log, 0, NULL },
	{ "keepalive_timeout", H | S, false, 1, 2, r_keepalive_timeout, 0, NULL },
	{ "keepalive_requests", H | S, false, 1, 1, r_keepalive_requests, 0, NULL },
	{ "client_header_timeout", H | S, false, 1, 1, r_time, N_HEADER_TIMEOUT, NULL },
	{ "send_timeout", H | S, false, 1, 1, r_time, N_SEND_TIMEOUT, NULL },
	{ "open_file_cache", H | S | L, false, 1, 2, r_open_file_cache, 0, NULL },
	{ "open_file_cache_valid", H | S | L, false, 1, 1, r_ignored, 0,
	    "mtlsd checks a cached file with fstat on every request and opens "
	    "its path again after 1 s" },
	{ "open_file_cache_min_uses", H | S | L, false, 1, 1, r_ignored, 0,
	    "mtlsd caches a file from its first use" },
	{ "open_file_cache_errors", H | S | L, false, 1, 1, r_flag, 0,
	    "mtlsd never caches a failed open" },

	/* TLS */
	{ "ssl", H | S, false, 1, 1, r_ssl, 0, NULL },
	{ "ssl_certificate", H | S, false, 1, 1, r_file, T_CERT, NULL },
	{ "ssl_certificate_key", H | S, false, 1, 1, r_file, T_KEY, NULL },
	{ "ssl_client_certificate", H | S, false, 1, 1, r_file, T_CLIENT_CA, NULL },
	{ "ssl_trusted_certificate", H | S, false, 1, 1, r_file, T_TRUSTED_CA, NULL },
	{ "ssl_crl", H | S, false, 1, 1, r_file, T_CRL, NULL },
	{ "ssl_verify_client", H | S, false, 1, 1, r_verify_client, 0, NULL },
	{ "ssl_verify_depth", H | S, false, 1, 1, r_verify_depth, 0, NULL },
	{ "ssl_session_cache", H | S, false, 1, 2, r_session_cache, 0, NULL },
	{ "ssl_session_timeout", H | S, false, 1, 1, r_time, N_SESSION_TIMEOUT, NULL },
	{ "ssl_protocols", H | S, false, 1, -1, r_ignored, 0,
	    "mtlsd speaks TLS 1.2 only (BearSSL has no TLS 1.3)" },
	{ "ssl_ciphers", H | S, false, 1, 1, r_ciphers, 0,
	    "mtlsd uses its own suites: ECDHE with AES-GCM or ChaCha20-Poly1305" },
	{ "ssl_ecdh_curve", H | S, false, 1, 1, r_ignored, 0,
	    "mtlsd offers BearSSL's curves (X25519, P-256, P-384, P-521)" },
	{ "ssl_dhparam", H | S, false, 1, 1, r_ignored, 0,
	    "mtlsd has no DHE suites" },
	{ "ssl_prefer_server_ciphers", H | S, false, 1, 1, r_flag, 1,
	    "mtlsd always prefers its own order" },
	{ "ssl_session_tickets", H | S, false, 1, 1, r_flag, 0,
	    "mtlsd resumes sessions from its cache only, never from tickets" },

	/* top level and events: one process, so nothing to set */
	{ "user", M, false, 1, 2, r_ignored, 0,
	    "start mtlsd as the user it should run as (systemd User=, docker --user)" },
	{ "worker_processes", M, false, 1, 1, r_ignored, 0,
	    "mtlsd is one process" },
	{ "pid", M, false, 1, 1, r_ignored, 0, "mtlsd writes no pid file" },
	{ "worker_rlimit_nofile", M, false, 1, 1, r_ignored, 0,
	    "mtlsd sizes its slots by the open file limit it is given" },
	{ "daemon", M, false, 1, 1, r_quiet, 0, NULL },
	{ "master_process", M, false, 1, 1, r_quiet, 0, NULL },
	{ "pcre_jit", M, false, 1, 1, r_quiet, 0, NULL },
	{ "worker_connections", E, false, 1, 1, r_ignored, 0,
	    "see mtlsd --max-conns" },
	{ "use", E, false, 1, 1, r_quiet, 0, NULL },
	{ "multi_accept", E, false, 1, 1, r_quiet, 0, NULL },
	{ "accept_mutex", E, false, 1, 1, r_quiet, 0, NULL },

	/* http: no effect on what is served */
	{ "include", M | H | S | L, false, 1, 1, r_include, 0, NULL },
	{ "default_type", H | S | L, false, 1, 1, r_default_type, 0, NULL },
	{ "sendfile", H | S | L, false, 1, 1, r_quiet, 0, NULL },
	{ "tcp_nopush", H | S | L, false, 1, 1, r_quiet, 0, NULL },
	{ "tcp_nodelay", H | S | L, false, 1, 1, r_quiet, 0, NULL },
	{ "types_hash_max_size", H, false, 1, 1, r_quiet, 0, NULL },
	{ "server_names_hash_bucket_size", H, false, 1, 1, r_quiet, 0, NULL },
	{ "autoindex", H | S | L, false, 1, 1, r_autoindex, 0, NULL },
	{ "server_tokens", H | S | L, false, 1, 1, r_flag, 1,
	    "mtlsd always sends \"mtlsd/VERSION\"" },
	{ "gzip", H | S | L, false, 1, 1, r_flag, 0,
	    "mtlsd does not compress" },
	{ "log_format", H, false, 2, -1, r_ignored, 0,
	    "mtlsd writes the combined format with the client certificate's CN as the user" },
};

#undef M
#undef E
#undef H
#undef S
#undef L

static int
apply_directive(struct parser *ps, const struct directive *d)
{
	const struct rule *r = NULL;
	size_t i;
	int args = d->argc - 1;

	for (i = 0; i < sizeof rules / sizeof rules[0]; i++)
		if (strcmp(rules[i].name, d->argv[0]) == 0) {
			r = &rules[i];
			break;
		}
	if (!r) {
		if (ps->ctx == CTX_EVENTS && !d->block)
			return r_quiet(ps, d, NULL);    /* event tuning only */
		return unsupported(ps, d, NULL);
	}
	if (!(r->contexts & ps->ctx))
		return fail(ps, d->line, "\"%s\" directive is not allowed here", r->name);
	if (r->block && !d->block)
		return fail(ps, d->line, "directive \"%s\" has no opening \"{\"", r->name);
	if (!r->block && d->block)
		return fail(ps, d->line, "\"%s\" directive is not terminated by \";\"", r->name);
	if (args < r->min_args || (r->max_args >= 0 && args > r->max_args))
		return fail(ps, d->line, "invalid number of arguments in \"%s\" directive",
		    r->name);
	return r->apply(ps, d, r);
}

/* Directives up to the closing '}' of ctx, or to the end of the text. */
static int
parse_block(struct parser *ps, enum context ctx)
{
	struct directive d;

	for (;;) {
		switch (read_directive(ps, &d)) {
		case 1:
			if (apply_directive(ps, &d) < 0)
				return -1;
			break;
		case 0:
			if (ctx == CTX_MAIN)
				return fail(ps, ps->line, "unexpected \"}\"");
			return 0;
		case -1:
			if (ctx != CTX_MAIN)
				return fail(ps, ps->line, "unexpected end of file, expecting \"}\"");
			return 0;
		default:
			return -1;
		}
	}
}

/* ---- the result ---- */

/* The deepest level's value, as nginx inherits http > server > location. */
static const char *
text_of(const struct parser *ps, int which, unsigned *line)
{
	int lv;

	for (lv = LV_LOCATION; lv >= LV_MAIN; lv--)
		if (ps->level[lv].text_line[which]) {
			if (line)
				*line = ps->level[lv].text_line[which];
			return ps->level[lv].text[which];
		}
	return NULL;
}

static bool
number_of(const struct parser *ps, int which, long *out)
{
	int lv;

	for (lv = LV_LOCATION; lv >= LV_MAIN; lv--)
		if (ps->level[lv].number_line[which]) {
			*out = ps->level[lv].number[which];
			return true;
		}
	return false;
}

/* A relative certificate path is read from the configuration file's directory, as nginx does. */
static const char *
file_path(struct parser *ps, const char *path)
{
	char *out;

	if (!path || path[0] == '/' || ps->dir_len == 0)
		return path;
	out = ps->store_next;
	if ((size_t)(ps->store_end - out) < ps->dir_len + strlen(path) + 2)
		return NULL;
	memcpy(out, ps->file, ps->dir_len);
	snprintf(out + ps->dir_len, strlen(path) + 2, "%s%s",
	    out[ps->dir_len - 1] == '/' ? "" : "/", path);
	ps->store_next += strlen(out) + 1;
	return out;
}

static int
finish(struct parser *ps, struct options *opt)
{
	const char *client_ca, *trusted, *v;
	unsigned line = 0, trusted_line = 0;
	long n;
	int i;
	bool ssl_on = number_of(ps, N_SSL_ON, &n);

	if (ps->servers == 0)
		return fail(ps, 0, "no \"server\" block: mtlsd reads one server { ... }, "
		    "bare or inside http { ... }");
	if (ps->listen_count == 0)
		return fail(ps, ps->server_line, "no \"listen ... ssl\" in the server block");
	for (i = 0; i < ps->listen_count; i++)
		if (!ps->listens[i].ssl && !ssl_on)
			return fail(ps, ps->listens[i].line, "\"listen %s\" without \"ssl\": "
			    "mtlsd serves TLS only", ps->listens[i].address);
	if (!number_of(ps, N_VERIFY_CLIENT, &n))
		return fail(ps, ps->server_line, "no \"ssl_verify_client on\": nginx would "
		    "serve clients without a certificate, mtlsd never does; add it to say so");
	if (!text_of(ps, T_CERT, NULL) || !text_of(ps, T_KEY, NULL))
		return fail(ps, ps->server_line, "no \"ssl_certificate\" and "
		    "\"ssl_certificate_key\" in the server block");
	client_ca = text_of(ps, T_CLIENT_CA, &line);
	trusted = text_of(ps, T_TRUSTED_CA, &trusted_line);
	if (client_ca && trusted && strcmp(client_ca, trusted) != 0)
		return fail(ps, trusted_line, "\"ssl_trusted_certificate\" and "
		    "\"ssl_client_certificate\" name different files: mtlsd pins the "
		    "CAs of one file; concatenate them (cat %s %s > both.pem) and name "
		    "that file in ssl_client_certificate", client_ca, trusted);
	if (!client_ca && !(client_ca = trusted))
		return fail(ps, ps->server_line, "no \"ssl_client_certificate\": "
		    "name the CA that client certificates must chain to");
	if (!text_of(ps, T_ROOT, NULL))
		return fail(ps, ps->server_line, "no \"root\": name the directory to serve "
		    "(nginx would use its built-in html directory)");

	opt->listen_count = 0;
	for (i = 0; i < ps->listen_count; i++)
		opt->listen[opt->listen_count++] = ps->listens[i].address;
	opt->root = text_of(ps, T_ROOT, NULL);
	if ((v = text_of(ps, T_INDEX, NULL)))
		opt->index = v;
	if ((v = text_of(ps, T_ACCESS_LOG, NULL)))
		opt->access_log = v;
	if ((v = text_of(ps, T_ERROR_LOG, NULL)))
		opt->error_log = v;
	opt->tls.cert_file = file_path(ps, text_of(ps, T_CERT, NULL));
	opt->tls.key_file = file_path(ps, text_of(ps, T_KEY, NULL));
	opt->tls.ca_file = file_path(ps, client_ca);
	if ((v = text_of(ps, T_CRL, NULL))) {
		opt->tls.crl_files[0] = file_path(ps, v);
		opt->tls.crl_file_count = 1;
		if (!opt->tls.crl_files[0])
			return fail(ps, 0, "out of room for file names");
	}
	if (!opt->tls.cert_file || !opt->tls.key_file || !opt->tls.ca_file)
		return fail(ps, 0, "out of room for file names");
	opt->tls.mode = VERIFY_ON;
	if (number_of(ps, N_VERIFY_DEPTH, &n))
		opt->tls.verify_depth = (int)n;
	if (number_of(ps, N_SECURITY_LEVEL, &n))
		opt->tls.security_level = (int)n;
	if (number_of(ps, N_SESSION_CACHE, &n))
		opt->tls.session_cache_size = (size_t)n;
	if (number_of(ps, N_SESSION_TIMEOUT, &n))
		opt->tls.session_timeout = n;
	if (number_of(ps, N_HEADER_TIMEOUT, &n))
		opt->header_timeout = n;
	if (number_of(ps, N_SEND_TIMEOUT, &n))
		opt->send_timeout = n;
	if (number_of(ps, N_KEEPALIVE_REQUESTS, &n))
		opt->max_requests = n;
	if (number_of(ps, N_OPEN_FILE_CACHE, &n))
		opt->open_file_cache = n;
	if (number_of(ps, N_OPEN_FILE_CACHE_INACTIVE, &n))
		opt->open_file_cache_inactive = n;
	if (number_of(ps, N_KEEPALIVE, &n)) {
		if (n == 0)
			opt->max_requests = 1;      /* nginx's "keepalive_timeout 0" */
		else
			opt->keepalive_timeout = n;
	}
	return 0;
}

int
nginx_conf_parse(const char *text, size_t len, const char *file_name,
    struct options *opt, char **strings, void (*warn_fn)(const char *message),
    char *why, size_t why_len)
{
	struct parser *ps;
	struct options out = *opt;
	const char *slash;
	size_t room;
	int rc;

	*strings = NULL;
	if (why_len)
		why[0] = '\0';
	if (len > NGINX_CONF_MAX_BYTES) {
		snprintf(why, why_len, "%s: larger than %d bytes", file_name,
		    NGINX_CONF_MAX_BYTES);
		return -1;
	}
	if (!(ps = calloc(1, sizeof *ps))) {
		snprintf(why, why_len, "%s: out of memory", file_name);
		return -1;
	}
	ps->p = text;
	ps->end = text + len;
	ps->line = 1;
	ps->file = file_name;
	slash = strrchr(file_name, '/');
	ps->dir_len = slash ? (size_t)(slash - file_name) : 0;
	if (slash == file_name)
		ps->dir_len = 1;            /* "/nginx.conf": the root directory */
	ps->warn = warn_fn;
	ps->why = why;
	ps->why_len = why_len;
	ps->ctx = CTX_MAIN;
	/*
	 * Words never take more room than the text (each is followed by a
	 * delimiter it can use for its NUL, but the last); then the listen
	 * addresses, and each file name once more with the directory before it.
	 */
	room = len + 1 + MAX_LISTENERS * LISTEN_TEXT + len
	    + (T_COUNT + 1) * (strlen(file_name) + 2);
	if (!(ps->store = malloc(room))) {
		free(ps);
		snprintf(why, why_len, "%s: out of memory", file_name);
		return -1;
	}
	ps->store_next = ps->store;
	ps->store_end = ps->store + room;
	rc = parse_block(ps, CTX_MAIN);
	if (rc == 0)
		rc = finish(ps, &out);
	if (rc == 0) {
		*opt = out;
		*strings = ps->store;
	} else {
		free(ps->store);
	}
	free(ps);
	return rc;
}
