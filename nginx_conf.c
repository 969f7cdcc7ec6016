/*
 * nginx_conf.c - reads the nginx configuration of the server mtlsd replaces
 * (--nginx-conf FILE) into the settings the command line fills.
 *
 * nginx_conf_parse() is a pure function over a buffer: it opens no file and
 * prints nothing, so a fuzzer can drive it (include is refused there).
 * nginx_conf_load() reads the file and follows its includes as nginx does.
 * What mtlsd can honour is taken; what it accepts without honouring is named
 * in a warning; everything else is refused with "FILE:LINE: ...", FILE being
 * the included file where the directive is, so that a configuration mtlsd
 * runs means what it meant to nginx, apart from what the warnings say.
 *
 * Several server blocks are read and then told apart (pick_server()): one
 * with TLS and client verification is served; plain-HTTP ones are taken
 * only when all they do is redirect (side.c answers them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

#define MAX_ARGS 32                 /* words in one directive, its name included */
#define LISTEN_TEXT 64              /* "[v6 address]:port" and its NUL */
#define MAX_SECONDS 86400           /* the command line's bound for timeouts */
#define MAX_SESSION_CACHE 1000000
#define MAX_OPEN_FILE_CACHE 1000000     /* the command line's bound */
#define NGINX_INACTIVE_SECONDS 60       /* open_file_cache's inactive= default */
#define SIZE_MAX_BYTES (1LL << 40)
#define TIME_MAX_MS 1000000000000000LL   /* 10^12 s: far past any timeout */
#define MAX_CONF_FILES 64               /* the main file and what it includes */
#define MAX_INCLUDE_DEPTH 8             /* nested includes */
#define MAX_SERVER_BLOCKS 16
#define MAX_RETURN_TEXT 1024
#define MAX_ADD_HEADER_BYTES 2048       /* of add_header lines at one level */
#define MAX_MAPS 8                      /* map blocks */
#define MAX_TYPES 1024                  /* types { } entries, all blocks together */

/*
 * A position is the file's index in parser.files above the line number:
 * every line recorded (d->line, text_line, ...) says which file it is in,
 * and 0 still means "nowhere". A 1 MiB configuration has fewer lines than
 * 2^24.
 */
#define POS_SHIFT 24
#define POS_LINE(pos) ((pos) & ((1u << POS_SHIFT) - 1))
#define POS_FILE(pos) ((pos) >> POS_SHIFT)

enum context {
	CTX_MAIN = 1,
	CTX_EVENTS = 2,
	CTX_HTTP = 4,
	CTX_SERVER = 8,
	CTX_LOCATION = 16,
	CTX_IF = 32,
};

/* Where a setting was made; a deeper level overrides, as nginx inherits. */
enum level { LV_MAIN, LV_HTTP, LV_SERVER, LV_LOCATION, LV_COUNT };

enum text_setting {
	T_ROOT, T_INDEX, T_ACCESS_LOG, T_ERROR_LOG, T_CERT, T_KEY, T_CLIENT_CA,
	T_TRUSTED_CA, T_CRL, T_CHARSET, T_COUNT
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
	/*
	 * Per-path settings made at this level; l.header_count,
	 * l.access_count: a level with any replaces the outer ones. The
	 * lines say which of the others were set here.
	 */
	struct http_location l;
	unsigned try_line, expires_line, type_line, types_line, alias_line;
	unsigned return_line, autoindex_line;
};

struct listen_entry {
	const char *address;            /* "0.0.0.0:443", "[::]:443" */
	unsigned line;
	bool ssl;
};

/* A location { } block, kept with the server's. */
struct location_block {
	struct settings s;
	unsigned line;
};

/* A server { } block, kept until all of them are read and told apart. */
struct server_block {
	struct settings server, location;     /* location: "location /"'s */
	int loc_first, loc_count;       /* in parser.locs */
	struct listen_entry listens[MAX_LISTENERS];
	int listen_count;
	unsigned line;
	const char *name;               /* the first server_name, NULL when none */
	unsigned name_line;
	int return_code;                /* return at server level or in location / */
	const char *return_text;
	unsigned return_line;
	bool return_in_server;
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
	const char *file;               /* the main file; the prefix is its directory */
	size_t dir_len;                 /* of file's directory, "" when none */
	const char *files[MAX_CONF_FILES];      /* by position, see POS_FILE */
	int file_count;
	bool follow_includes;           /* nginx_conf_load: includes are read */
	size_t total_bytes;             /* of every file read */
	struct { dev_t dev; ino_t ino; } reading[MAX_INCLUDE_DEPTH + 1];
	int depth;                      /* includes being read, the main file 0 */
	unsigned bare_http_line;        /* an http directive outside http { } */
	void (*warn)(const char *message);
	char *why;
	size_t why_len;
	enum context ctx;
	struct settings level[LV_COUNT];
	struct listen_entry listens[MAX_LISTENERS];     /* of the server being read */
	int listen_count;
	unsigned server_line, servers, https, events, locations;
	struct server_block cur;        /* name, return: of the server being read */
	struct server_block blocks[MAX_SERVER_BLOCKS];
	struct redirect redirects[MAX_LISTENERS];
	unsigned redirect_lines[MAX_LISTENERS];
	int redirect_count;
	struct location_block locs[HTTP_MAX_LOCATIONS];  /* of every server */
	int loc_count;
	bool in_root_location;          /* reading "location /" */
	struct http_map maps[MAX_MAPS];
	const char *map_names[MAX_MAPS];        /* "$name" */
	int map_count;
	struct http_type types[MAX_TYPES];
	int type_count;
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

/* FILE:LINE: message, control characters cleaned; line 0: the top file. */
static void
locate(const struct parser *ps, unsigned line, char *out, size_t out_len,
    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void
locate(const struct parser *ps, unsigned line, char *out, size_t out_len,
    const char *fmt, va_list ap)
{
	char msg[400];

	vsnprintf(msg, sizeof msg, fmt, ap);
	clean(msg);
	if (line)
		snprintf(out, out_len, "%s:%u: %s", ps->files[POS_FILE(line)],
		    POS_LINE(line), msg);
	else
		snprintf(out, out_len, "%s: %s", ps->file, msg);
}

static int
fail(struct parser *ps, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct parser *ps, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	locate(ps, line, ps->why, ps->why_len, fmt, ap);
	va_end(ap);
	return -1;
}

static void
warn(struct parser *ps, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
warn(struct parser *ps, unsigned line, const char *fmt, ...)
{
	char out[600];
	va_list ap;

	if (!ps->warn)
		return;
	va_start(ap, fmt);
	locate(ps, line, out, sizeof out, fmt, ap);
	va_end(ap);
	ps->warn(out);
}

/* "line 7" in the same file as `now`, else "FILE:7"; for one message at a time. */
static const char *
where(const struct parser *ps, unsigned pos, unsigned now)
{
	static char text[320];

	if (POS_FILE(pos) == POS_FILE(now))
		snprintf(text, sizeof text, "line %u", POS_LINE(pos));
	else
		snprintf(text, sizeof text, "%s:%u", ps->files[POS_FILE(pos)], POS_LINE(pos));
	return text;
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
		/* As nginx: ')' may follow, as in if ($v != "x"); it is a word of its own. */
		if (ps->p < ps->end && !is_space(*ps->p) && *ps->p != ';'
		    && *ps->p != '{' && *ps->p != ')') {
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
		return fail(ps, d->line, "\"%.64s\" directive is duplicate (first at %s)",
		    d->argv[0], where(ps, s->text_line[which], d->line));
	s->text[which] = value;
	s->text_line[which] = d->line;
	return 0;
}

static int
set_number(struct parser *ps, const struct directive *d, int which, long value)
{
	struct settings *s = here(ps);

	if (s->number_line[which])
		return fail(ps, d->line, "\"%.64s\" directive is duplicate (first at %s)",
		    d->argv[0], where(ps, s->number_line[which], d->line));
	s->number[which] = value;
	s->number_line[which] = d->line;
	return 0;
}

/* ---- directives ---- */

/* The next directive of a block: 1; 0 at its '}'; -1: an error, or the text ended first. */
static int
read_inside(struct parser *ps, struct directive *d)
{
	int rc = read_directive(ps, d);

	if (rc == -1)
		return fail(ps, ps->line, "unexpected end of file, expecting \"}\"");
	return rc < 0 ? -1 : rc;
}


static int parse_block(struct parser *ps, enum context ctx, bool whole_file);

/*
 * location [=|^~] PATH: prefix and exact locations, as nginx matches them
 * (see http_find_location()). Regular expressions are refused: nginx
 * tries them in order after the prefixes, with PCRE, which mtlsd does not
 * have.
 */
static int
begin_location(struct parser *ps, const struct directive *d)
{
	struct http_location *l = &ps->level[LV_LOCATION].l;
	const char *path = d->argv[d->argc - 1], *mod = d->argc == 3 ? d->argv[1] : "";
	enum http_match match = HTTP_MATCH_PREFIX;
	int i;

	if (ps->ctx == CTX_LOCATION)
		return unsupported(ps, d, "a location inside a location: mtlsd takes "
		    "locations directly in the server block; write it there");
	if (strcmp(mod, "~") == 0 || strcmp(mod, "~*") == 0 || (d->argc == 2
	    && path[0] == '~'))
		return unsupported(ps, d, "a regular-expression location: nginx tries "
		    "them with PCRE after the prefixes, which mtlsd cannot do exactly; "
		    "use prefix (location /dir/), exact (location = /file) or ^~ locations");
	if (path[0] == '@')
		return unsupported(ps, d, "a named location: mtlsd has no internal "
		    "redirects to named locations (they lead to proxies)");
	if (strcmp(mod, "=") == 0)
		match = HTTP_MATCH_EXACT;
	else if (strcmp(mod, "^~") == 0)
		match = HTTP_MATCH_NOREGEX;
	else if (*mod)
		return fail(ps, d->line, "invalid location modifier \"%.64s\"", mod);
	if (path[0] != '/')
		return unsupported(ps, d, "a location path must start with \"/\" for mtlsd");
	if (strchr(path, '$'))
		return fail(ps, d->line, "\"location %.64s\": mtlsd has no variables",
		    path);
	for (i = ps->cur.loc_first; i < ps->loc_count; i++) {
		const struct http_location *o = &ps->locs[i].s.l;

		if (strcmp(o->path, path) == 0 && (o->match == HTTP_MATCH_EXACT)
		    == (match == HTTP_MATCH_EXACT))
			return fail(ps, d->line, "duplicate location \"%.64s\" (first at %s)",
			    path, where(ps, ps->locs[i].line, d->line));
	}
	if (ps->loc_count == HTTP_MAX_LOCATIONS - 1)
		return fail(ps, d->line, "more than %d locations", HTTP_MAX_LOCATIONS - 1);
	memset(&ps->level[LV_LOCATION], 0, sizeof ps->level[LV_LOCATION]);
	l->path = path;
	l->path_len = strlen(path);
	l->match = match;
	ps->locs[ps->loc_count].line = d->line;
	ps->locs[ps->loc_count].s = ps->level[LV_LOCATION];
	ps->loc_count++;
	ps->in_root_location = match != HTTP_MATCH_EXACT && strcmp(path, "/") == 0;
	return 0;
}

static int
r_block(struct parser *ps, const struct directive *d, const struct rule *r)
{
	enum context outer = ps->ctx, inner = (enum context)r->setting;
	struct server_block *b;
	int rc;

	if ((inner == CTX_HTTP && ps->https++ > 0)
	    || (inner == CTX_EVENTS && ps->events++ > 0))
		return fail(ps, d->line, "\"%s\" directive is duplicate", d->argv[0]);
	if (inner == CTX_HTTP && ps->bare_http_line)
		return fail(ps, d->line, "an \"http\" block, and http directives outside "
		    "it (at %s)", where(ps, ps->bare_http_line, d->line));
	if (inner == CTX_SERVER) {
		if (ps->servers == MAX_SERVER_BLOCKS)
			return fail(ps, d->line, "more than %d server blocks",
			    MAX_SERVER_BLOCKS);
		memset(&ps->cur, 0, sizeof ps->cur);
		memset(&ps->level[LV_SERVER], 0, sizeof ps->level[LV_SERVER]);
		memset(&ps->level[LV_LOCATION], 0, sizeof ps->level[LV_LOCATION]);
		ps->cur.line = d->line;
		ps->cur.loc_first = ps->loc_count;
		ps->listen_count = 0;
	}
	if (inner == CTX_LOCATION && begin_location(ps, d) < 0)
		return -1;
	ps->ctx = inner;
	rc = parse_block(ps, inner, false);
	ps->ctx = outer;
	if (rc == 0 && inner == CTX_LOCATION) {
		ps->locs[ps->loc_count - 1].s = ps->level[LV_LOCATION];
		if (ps->in_root_location)
			ps->cur.location = ps->level[LV_LOCATION];
		ps->in_root_location = false;
	}
	if (rc == 0 && inner == CTX_SERVER) {
		/* Kept as read; finish() tells the servers apart. */
		b = &ps->blocks[ps->servers++];
		*b = ps->cur;
		b->server = ps->level[LV_SERVER];
		b->loc_count = ps->loc_count - b->loc_first;
		memcpy(b->listens, ps->listens, sizeof b->listens);
		b->listen_count = ps->listen_count;
	}
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
		    "certificate chain (first at %s)",
		    where(ps, here(ps)->text_line[T_CERT], d->line));
	if (r->setting == T_KEY && here(ps)->text_line[T_KEY])
		return fail(ps, d->line, "a second \"ssl_certificate_key\": mtlsd serves one "
		    "key (first at %s)",
		    where(ps, here(ps)->text_line[T_KEY], d->line));
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
	if (here(ps)->alias_line)
		return fail(ps, d->line, "\"root\" directive is duplicate, \"alias\" "
		    "directive was specified earlier");
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
	if (d->argc - 2 > HTTP_MAX_INDEX)
		return fail(ps, d->line, "\"index\": more than %d names", HTTP_MAX_INDEX + 1);
	for (i = 2; i < d->argc; i++) {
		v = d->argv[i];
		if (!*v || strchr(v, '/') || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
			return fail(ps, d->line, "\"index ... %.64s\": mtlsd takes a file "
			    "name in the directory", v);
		here(ps)->l.index_more[i - 2] = v;
	}
	here(ps)->l.index_more_count = d->argc - 2;
	return set_text(ps, d, T_INDEX, d->argv[1]);
}

static int
r_access_log(struct parser *ps, const struct directive *d, const struct rule *r)
{
	const char *v = d->argv[1];
	struct settings *s = here(ps);
	int i;

	(void)r;
	if (ps->ctx == CTX_LOCATION && !ps->in_root_location) {
		warn(ps, d->line, "\"access_log\" in location \"%s\" ignored: mtlsd "
		    "writes one access log, the server's", s->l.path);
		return 0;
	}
	if (s->text_line[T_ACCESS_LOG])
		return fail(ps, d->line, "a second \"access_log\": mtlsd writes one "
		    "access log (first at %s)",
		    where(ps, s->text_line[T_ACCESS_LOG], d->line));
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
		    "error log (first at %s)",
		    where(ps, s->text_line[T_ERROR_LOG], d->line));
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
	if (parse_long(d->argv[1], 0, 2147483647L, &depth) < 0)
		return fail(ps, d->line, "\"ssl_verify_depth %.64s\": expected a number",
		    d->argv[1]);
	if (depth > TLS_MAX_CLIENT_CHAIN - 1) {
		/* nginx takes any depth; BearSSL's chains here are shorter. */
		warn(ps, d->line, "\"ssl_verify_depth %s\" clamped to %d, mtlsd's "
		    "largest (a client chain of at most %d certificates)", d->argv[1],
		    TLS_MAX_CLIENT_CHAIN - 1, TLS_MAX_CLIENT_CHAIN);
		depth = TLS_MAX_CLIENT_CHAIN - 1;
	}
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

/*
 * Reads a whole file that is a regular file of at most `room` bytes into a
 * malloc'd buffer. Returns 0, or an errno value (EFBIG: too large, EAGAIN:
 * it grew while read, EINVAL: not a regular file).
 */
static int
read_whole(const char *path, size_t room, char **text, size_t *len, struct stat *st)
{
	ssize_t n;
	size_t got = 0;
	int fd, e;

	*text = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		e = S_ISDIR(st->st_mode) ? EISDIR : EINVAL;
		close(fd);
		return e;
	}
	if ((unsigned long long)st->st_size > room) {
		close(fd);
		return EFBIG;
	}
	if (!(*text = malloc((size_t)st->st_size + 1))) {
		close(fd);
		return ENOMEM;
	}
	while (got < (size_t)st->st_size + 1
	    && (n = read(fd, *text + got, (size_t)st->st_size + 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			close(fd);
			free(*text);
			*text = NULL;
			return e;
		}
		got += (size_t)n;
	}
	close(fd);
	if (got > (size_t)st->st_size) {
		free(*text);
		*text = NULL;
		return EAGAIN;
	}
	*len = got;
	return 0;
}

static const char *
read_error(int e)
{
	switch (e) {
	case EFBIG: return "the configuration files together are larger than 1 MiB";
	case EAGAIN: return "the file grew while it was read";
	case EINVAL: return "not a regular file";
	default: return strerror(e);
	}
}

/* Parses one included file in the context of the include directive. */
static int
include_file(struct parser *ps, const struct directive *d, const char *path)
{
	const char *p = ps->p, *end = ps->end;
	unsigned line = ps->line;
	struct stat st;
	char *text, *name;
	size_t len;
	int i, e, rc, index;

	if (ps->file_count == MAX_CONF_FILES)
		return fail(ps, d->line, "\"include\": more than %d configuration files",
		    MAX_CONF_FILES);
	if ((e = read_whole(path, NGINX_CONF_MAX_BYTES - ps->total_bytes, &text,
	    &len, &st)) != 0)
		return fail(ps, d->line, "\"include %.200s\": %.200s: %s", d->argv[1],
		    path, read_error(e));
	for (i = 0; i <= ps->depth; i++)
		if (ps->reading[i].dev == st.st_dev && ps->reading[i].ino == st.st_ino) {
			free(text);
			return fail(ps, d->line, "\"include %.200s\": %.200s is already "
			    "being read: an include loop", d->argv[1], path);
		}
	if (!(name = strdup(path))) {
		free(text);
		return fail(ps, d->line, "out of memory");
	}
	index = ps->file_count++;
	ps->files[index] = name;
	ps->total_bytes += len;
	ps->depth++;
	ps->reading[ps->depth].dev = st.st_dev;
	ps->reading[ps->depth].ino = st.st_ino;
	ps->p = text;
	ps->end = text + len;
	ps->line = ((unsigned)index << POS_SHIFT) | 1;
	rc = parse_block(ps, ps->ctx, true);
	ps->p = p;
	ps->end = end;
	ps->line = line;
	ps->depth--;
	free(text);
	return rc;
}

/*
 * include FILE | PATTERN, as nginx: a relative name is taken from the
 * directory of the main file (nginx's configuration prefix), a pattern
 * ("*", "?", "[") is expanded by glob(3) in its order and may match
 * nothing, and the files are read in the context of the directive.
 */
static int
r_include(struct parser *ps, const struct directive *d, const struct rule *r)
{
	const char *v = d->argv[1], *slash = strrchr(v, '/');
	char path[4096];
	glob_t g;
	size_t i;
	int rc;

	(void)r;
	if (strcmp(slash ? slash + 1 : v, "mime.types") == 0) {
		warn(ps, d->line, "\"include %s\" ignored: mtlsd has its own table of "
		    "content types (see mtlsd(8), HTTP)", v);
		return 0;
	}
	if (!ps->follow_includes)
		return unsupported(ps, d, "mtlsd follows no include but mime.types; "
		    "put the included directives in this file");
	if (no_variables(ps, d, v) < 0)
		return -1;
	if (ps->depth == MAX_INCLUDE_DEPTH)
		return fail(ps, d->line, "\"include %.200s\": includes nested more than "
		    "%d deep", v, MAX_INCLUDE_DEPTH);
	if (v[0] == '/' || ps->dir_len == 0)
		rc = snprintf(path, sizeof path, "%s", v);
	else
		rc = snprintf(path, sizeof path, "%.*s%s%s", (int)ps->dir_len, ps->file,
		    ps->file[ps->dir_len - 1] == '/' ? "" : "/", v);
	if (rc < 0 || (size_t)rc >= sizeof path)
		return fail(ps, d->line, "\"include\": the file name is too long");
	if (!strpbrk(path, "*?["))
		return include_file(ps, d, path);
	rc = glob(path, 0, NULL, &g);
	if (rc == GLOB_NOMATCH)
		return 0;
	if (rc != 0)
		return fail(ps, d->line, "\"include %.200s\": %s", v,
		    rc == GLOB_NOSPACE ? "out of memory" : "a directory could not be read");
	for (i = 0; i < g.gl_pathc && rc == 0; i++)
		rc = include_file(ps, d, g.gl_pathv[i]);
	globfree(&g);
	return rc;
}

/* The redirect codes nginx's return takes with a URL. */
static bool
is_redirect(long code)
{
	return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

static bool
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c == '_';
}

/* The variables a return's text may use: those mtlsd fills. */
static int
check_vars(struct parser *ps, unsigned line, long code, const char *text)
{
	static const char *const known[] = { "$host", "$server_name", "$request_uri",
		"$scheme" };
	const char *v;
	size_t k, n;

	for (v = strchr(text, '$'); v; v = strchr(v + 1, '$')) {
		for (k = 0; k < sizeof known / sizeof known[0]; k++) {
			n = strlen(known[k]);
			if (strncmp(v, known[k], n) == 0 && !is_name_char(v[n]))
				break;
		}
		if (k == sizeof known / sizeof known[0])
			return fail(ps, line, "\"return %ld %.200s\": mtlsd fills $host, "
			    "$server_name (on a plain-HTTP redirect server), $request_uri "
			    "and $scheme only", code, text);
	}
	if (is_redirect(code) && (strchr(text, '\r') || strchr(text, '\n')))
		return fail(ps, line, "\"return\": a line break in the URL");
	return 0;
}

/*
 * The codes mtlsd answers as nginx does (its reason phrases and pages);
 * in the server with client verification, $server_name is not filled.
 */
static int
check_return(struct parser *ps, unsigned line, long code, const char *text)
{
	if (code == 444)
		return fail(ps, line, "\"return 444\": mtlsd always answers; it does "
		    "not close without one");
	static const int codes[] = { S_OK, S_NO_CONTENT, S_MOVED_PERMANENTLY, S_FOUND,
		S_SEE_OTHER, S_TEMPORARY_REDIRECT, S_PERMANENT_REDIRECT, S_BAD_REQUEST,
		S_UNAUTHORIZED, S_FORBIDDEN, S_NOT_FOUND, S_METHOD_NOT_ALLOWED,
		S_NOT_ACCEPTABLE, S_REQUEST_TIMEOUT, S_CONFLICT, S_GONE,
		S_PRECONDITION_FAILED, S_PAYLOAD_TOO_LARGE, S_URI_TOO_LONG,
		S_TOO_MANY_REQUESTS, S_INTERNAL_SERVER_ERROR, S_NOT_IMPLEMENTED,
		S_BAD_GATEWAY, S_SERVICE_UNAVAILABLE, S_GATEWAY_TIMEOUT,
		S_VERSION_NOT_SUPPORTED };
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0] && codes[i] != code; i++)
		continue;
	if (i == sizeof codes / sizeof codes[0])
		return fail(ps, line, "\"return %ld\": mtlsd answers return with 200, "
		    "204, 301, 302, 303, 307, 308, 400, 401, 403-406, 408-410, "
		    "412-414, 429 or 500-505", code);
	if (text && check_vars(ps, line, code, text) < 0)
		return -1;
	return 0;
}

/*
 * A regular expression mtlsd follows exactly (struct http_pattern):
 * "^(a|b)$", or alternatives of literal text, '.', "\." and the like,
 * each with '^' and '$' at its ends. Anything else is refused.
 */
static int
compile_pattern(struct parser *ps, unsigned line, const char *re, bool caseless,
    struct http_pattern *p)
{
	char buf[1024], *b, *o;
	const char *c;
	size_t len = strlen(re);
	bool group = false, last;

	memset(p, 0, sizeof *p);
	p->caseless = caseless;
	if (len + 1 > sizeof buf || len == 0)
		return fail(ps, line, "the regular expression \"%.64s\" is empty or "
		    "too long for mtlsd", re);
	memcpy(buf, re, len + 1);
	b = buf;
	/* ^(a|b|c)$: the group is the whole expression. */
	if (len > 4 && strncmp(b, "^(", 2) == 0 && strcmp(b + len - 2, ")$") == 0) {
		b[len - 2] = '\0';
		if (!strpbrk(b + 2, "()\\")) {
			group = true;
			b += 2;
		} else {
			b[len - 2] = ')';
		}
	}
	for (;;) {
		char *bar = b, *start = b;
		bool escaped = false;

		/* The branch ends at an unescaped '|'. */
		for (; *bar && (escaped || *bar != '|'); bar++)
			escaped = !escaped && *bar == '\\';
		if (p->count == HTTP_MAX_ID_BRANCHES)
			return fail(ps, line, "\"%.64s\": more than %d alternatives",
			    re, HTTP_MAX_ID_BRANCHES);
		last = !*bar;
		p->start[p->count] = group;
		p->end[p->count] = group;
		if (*start == '^' && !group) {
			p->start[p->count] = true;
			start++;
		}
		o = start;
		for (c = start; c < bar; c++) {
			if (*c == '\\' && c + 1 < bar && strchr(".-_=,/:@ +*?()[]{}|^$\\\"'",
			    c[1])) {
				*o++ = *++c;
			} else if (*c == '$' && c + 1 == bar && !group) {
				p->end[p->count] = true;
			} else if (*c == '.') {
				*o++ = '\1';
			} else if (strchr("\\[](){}*+?|^$", *c) || (unsigned char)*c < 0x20
			    || (caseless && (unsigned char)*c >= 0x80)) {
				return fail(ps, line, "the regular expression \"%.64s\": mtlsd "
				    "follows literal text, '.', '^', '$' and alternatives "
				    "(a|b) only, which it can match exactly as nginx's PCRE", re);
			} else {
				*o++ = *c;
			}
		}
		*o = '\0';
		if (!(p->branch[p->count] = store_word(ps, start, (size_t)(o - start))))
			return -1;
		p->count++;
		if (last)
			break;
		b = bar + 1;
	}
	return 0;
}

static int
find_map(const struct parser *ps, const char *name)
{
	int i;

	for (i = 0; i < ps->map_count; i++)
		if (strcmp(ps->map_names[i], name) == 0)
			return i;
	return -1;
}

/* The capture forms struct http_cn_capture describes, as configurations write them. */
static int
cn_capture(const char *re, struct http_cn_capture *c)
{
	static const struct { const char *lead_text; char lead; } leads[] = {
		{ "(^|,)", '^' }, { "[/,]?", 'a' }, { "[,/]?", 'a' }, { "/", '/' },
		{ "", 'a' },
	};
	static const char *const stops[] = { ",", "/,", ",/", "/" };
	char form[64];
	size_t i, k;

	/* ~^.*=(?<CN>.*)$: all after the last '=' */
	if (strcmp(re, "^.*=(?<CN>.*)$") == 0 || strcmp(re, "^.*=(?P<CN>.*)$") == 0) {
		c->lead = '=';
		c->stop = "";
		return 0;
	}

	for (i = 0; i < sizeof leads / sizeof leads[0]; i++)
		for (k = 0; k < sizeof stops / sizeof stops[0]; k++) {
			snprintf(form, sizeof form, "%sCN=(?<CN>[^%s]+)", leads[i].lead_text,
			    stops[k]);
			if (strcmp(re, form) == 0) {
				c->lead = leads[i].lead;
				c->stop = stops[k];
				return 0;
			}
			snprintf(form, sizeof form, "%sCN=(?P<CN>[^%s]+)", leads[i].lead_text,
			    stops[k]);
			if (strcmp(re, form) == 0) {
				c->lead = leads[i].lead;
				c->stop = stops[k];
				return 0;
			}
		}
	return -1;
}

/*
 * map $ssl_client_s_dn $NAME { ... } (or a map of such a map): the
 * values an identity condition may test. Exact keys, default, and
 * regular expressions compile_pattern() takes, or the usual CN capture
 * ~(^|,)CN=(?<CN>[^,]+) with the value $CN.
 */
static int
r_map(struct parser *ps, const struct directive *d, const struct rule *r)
{
	struct directive e;
	struct http_map *m;
	const char *key, *value;
	int rc, src;

	(void)r;
	src = find_map(ps, d->argv[1]);
	if (strcmp(d->argv[1], "$ssl_client_s_dn") != 0
	    && (src < 0 || ps->maps[src].source))
		return unsupported(ps, d, "mtlsd takes map only over the client "
		    "certificate's subject, map $ssl_client_s_dn $NAME { ... }, or over "
		    "such a map");
	if (d->argv[2][0] != '$' || !d->argv[2][1])
		return fail(ps, d->line, "invalid variable name \"%.64s\"", d->argv[2]);
	if (find_map(ps, d->argv[2]) >= 0)
		return fail(ps, d->line, "the variable \"%.64s\" is mapped twice",
		    d->argv[2]);
	if (ps->map_count == MAX_MAPS)
		return fail(ps, d->line, "more than %d map blocks", MAX_MAPS);
	m = &ps->maps[ps->map_count];
	memset(m, 0, sizeof *m);
	m->source = src >= 0 ? &ps->maps[src] : NULL;
	m->fallback = "";
	while ((rc = read_inside(ps, &e)) > 0) {
		if (e.block)
			return fail(ps, e.line, "unexpected \"{\" in map");
		if (e.argc == 1 && strcmp(e.argv[0], "volatile") == 0)
			continue;
		if (e.argc != 2)
			return unsupported(ps, &e, "in a map mtlsd takes \"KEY VALUE;\" "
			    "and \"default VALUE;\"");
		key = e.argv[0];
		value = e.argv[1];
		if (strcmp(key, "hostnames") == 0 || strcmp(key, "include") == 0)
			return unsupported(ps, &e, "in a map mtlsd takes \"KEY VALUE;\" "
			    "and \"default VALUE;\"");
		if (strcmp(key, "default") == 0) {
			if (strchr(value, '$'))
				return fail(ps, e.line, "map: mtlsd takes constant values");
			m->fallback = value;
			continue;
		}
		if (m->count == HTTP_MAX_MAP_ENTRIES)
			return fail(ps, e.line, "more than %d entries in a map",
			    HTTP_MAX_MAP_ENTRIES);
		if (key[0] == '~' && strcmp(value, "$CN") == 0) {
			if (cn_capture(key + 1, &m->cn[m->count]) < 0)
				return unsupported(ps, &e, "mtlsd takes $CN after "
				    "~CN=(?<CN>[^,]+), ~(^|,)CN=..., ~[/,]?CN=(?<CN>[^/,]+), "
				    "~/CN=(?<CN>[^/]+) or ~^.*=(?<CN>.*)$ only");
			m->value[m->count] = "";
			m->key[m->count] = NULL;
			m->count++;
			continue;
		}
		if (strchr(value, '$'))
			return fail(ps, e.line, "map: mtlsd takes constant values, and $CN "
			    "after ~(^|,)CN=(?<CN>[^,]+)");
		if (key[0] == '~') {
			bool caseless = key[1] == '*';

			if (compile_pattern(ps, e.line, key + 1 + caseless, caseless,
			    &m->pattern[m->count]) < 0)
				return -1;
			m->key[m->count] = NULL;
		} else {
			m->key[m->count] = key[0] == '\\' ? key + 1 : key;
		}
		m->value[m->count] = value;
		m->count++;
	}
	if (rc < 0)
		return -1;
	ps->map_names[ps->map_count++] = d->argv[2];
	return 0;
}

/*
 * if (COND) { return CODE; }. Taken:
 * - $ssl_client_verify != SUCCESS, which "ssl_verify_client on" already
 *   makes impossible (such a client gets the 400 page first, in nginx too),
 *   so its block is never run;
 * - conditions on the client certificate's subject: $ssl_client_s_dn, or
 *   a map of it, with =, !=, ~, ~*, !~, !~* (regular expressions as
 *   compile_pattern() takes them), or a map's variable alone; its return
 *   runs, in order with the level's other if and return, before allow/deny.
 */
static int
r_if(struct parser *ps, const struct directive *d, const struct rule *r)
{
	char *w[MAX_ARGS];
	struct directive inner;
	struct settings *s = here(ps);
	struct http_id_rule rule;
	const char *op, *text = NULL;
	int n = 0, i, rc, code = 0, m = -1;
	long c = 0;
	size_t len;
	bool verify;

	(void)r;
	for (i = 1; i < d->argc; i++)
		w[n++] = d->argv[i];
	if (n > 0 && strcmp(w[0], "(") == 0) {
		for (i = 1; i < n; i++)
			w[i - 1] = w[i];
		n--;
	} else if (n > 0 && w[0][0] == '(') {
		w[0]++;
	} else {
		return fail(ps, d->line, "invalid condition \"%.64s\"", n ? w[0] : "");
	}
	if (n > 0 && strcmp(w[n - 1], ")") == 0)
		n--;
	else if (n > 0 && (len = strlen(w[n - 1])) > 0 && w[n - 1][len - 1] == ')')
		w[n - 1][len - 1] = '\0';
	else
		return fail(ps, d->line, "invalid condition \"%.64s\"", n ? w[n - 1] : "");
	verify = n == 3 && strcmp(w[0], "$ssl_client_verify") == 0
	    && strcmp(w[1], "!=") == 0 && strcmp(w[2], "SUCCESS") == 0;
	memset(&rule, 0, sizeof rule);
	if (!verify) {
		if (n >= 1)
			m = find_map(ps, w[0]);
		if (n < 1 || (strcmp(w[0], "$ssl_client_s_dn") != 0 && m < 0)
		    || (n != 1 && n != 3) || (n == 1 && m < 0))
			return unsupported(ps, d, "mtlsd takes \"if\" only on the client "
			    "certificate: if ($ssl_client_s_dn OP VALUE), OP one of = != ~ "
			    "~* !~ !~*, or the same on a map of $ssl_client_s_dn, "
			    "with { return CODE; } inside");
		rule.var = m >= 0 ? ID_MAP : ID_SUBJECT;
		rule.map = m >= 0 ? &ps->maps[m] : NULL;
		if (n == 1) {
			rule.op = ID_TRUE;
		} else {
			op = w[1];
			if (strcmp(op, "=") == 0 || strcmp(op, "!=") == 0) {
				if (strchr(w[2], '$'))
					return fail(ps, d->line, "\"if\": mtlsd compares with "
					    "constant values only");
				rule.op = op[0] == '=' ? ID_EQ : ID_NE;
				rule.value = w[2];
			} else if (strcmp(op, "~") == 0 || strcmp(op, "~*") == 0
			    || strcmp(op, "!~") == 0 || strcmp(op, "!~*") == 0) {
				rule.op = op[0] == '!' ? ID_NO_MATCH : ID_MATCH;
				if (compile_pattern(ps, d->line, w[2], op[strlen(op) - 1] == '*',
				    &rule.pattern) < 0)
					return -1;
			} else {
				return fail(ps, d->line, "invalid condition \"%.64s\"", op);
			}
		}
	}
	while ((rc = read_inside(ps, &inner)) > 0) {
		if (strcmp(inner.argv[0], "return") != 0 || inner.block
		    || inner.argc < 2 || inner.argc > 3)
			return unsupported(ps, &inner, verify ? "inside \"if "
			    "($ssl_client_verify != SUCCESS)\" mtlsd takes \"return\" only"
			    : "inside an \"if\" on the client certificate mtlsd takes "
			    "\"return\" only");
		if (!verify && code == 0) {
			text = inner.argc == 3 ? inner.argv[2] : NULL;
			if (inner.argc == 2 && parse_long(inner.argv[1], 0, 999, &c) < 0) {
				text = inner.argv[1];
				if (strncmp(text, "http://", 7) != 0
				    && strncmp(text, "https://", 8) != 0
				    && strncmp(text, "$scheme", 7) != 0)
					return fail(ps, inner.line, "invalid return code \"%.64s\"",
					    text);
				c = 302;
			} else if (inner.argc == 3 && parse_long(inner.argv[1], 0, 999, &c) < 0) {
				return fail(ps, inner.line, "invalid return code \"%.64s\"",
				    inner.argv[1]);
			}
			if (check_return(ps, inner.line, c, text) < 0)
				return -1;
			if (text && strstr(text, "$server_name"))
				return fail(ps, inner.line, "\"return\": mtlsd fills "
				    "$server_name only on a plain-HTTP redirect server");
			code = (int)c;
		}
	}
	if (rc < 0)
		return -1;
	if (verify || code == 0)
		return 0;
	/* After a return at this level, never run. */
	if (s->return_line)
		return 0;
	if (s->l.ident_count == HTTP_MAX_ID_RULES)
		return fail(ps, d->line, "more than %d \"if\" at one level",
		    HTTP_MAX_ID_RULES);
	rule.code = code;
	rule.text = text;
	s->l.ident[s->l.ident_count++] = rule;
	return 0;
}

/*
 * return CODE [TEXT] | return URL. Honoured on a plain-HTTP server that
 * only redirects (see finish()); refused elsewhere there.
 */
static int
r_return(struct parser *ps, const struct directive *d, const struct rule *r)
{
	const char *text = NULL;
	long code = 0;

	(void)r;
	if (d->argc == 2 && parse_long(d->argv[1], 0, 999, &code) < 0) {
		text = d->argv[1];
		if (strncmp(text, "http://", 7) != 0 && strncmp(text, "https://", 8) != 0
		    && strncmp(text, "$scheme", 7) != 0)
			return fail(ps, d->line, "invalid return code \"%.64s\"", text);
		code = 302;
	} else if (d->argc == 3) {
		if (parse_long(d->argv[1], 0, 999, &code) < 0)
			return fail(ps, d->line, "invalid return code \"%.64s\"", d->argv[1]);
		text = d->argv[2];
	}
	if (text && strlen(text) > MAX_RETURN_TEXT)
		return fail(ps, d->line, "\"return\": a text of more than %d bytes",
		    MAX_RETURN_TEXT);
	if (check_return(ps, d->line, code, text) < 0)
		return -1;
	/* The first runs; what follows it at that level never does. */
	if (!here(ps)->return_line) {
		here(ps)->return_line = d->line;
		here(ps)->l.return_code = (int)code;
		here(ps)->l.return_text = text;
	}
	/* The first one runs, and the server's own before any location's. */
	if (ps->cur.return_line && (ps->cur.return_in_server || ps->ctx != CTX_SERVER))
		return 0;
	ps->cur.return_code = (int)code;
	ps->cur.return_text = text;
	ps->cur.return_line = d->line;
	ps->cur.return_in_server = ps->ctx == CTX_SERVER;
	return 0;
}

/*
 * rewrite REGEX URL [permanent|redirect]: taken where it is a redirect of
 * every request, the old spelling of return: a regex that matches any URI,
 * no captures, a URL (http://, https://) ending in "?" so that nginx adds
 * no arguments of its own. Then it is "return 301|302 URL" without the "?".
 */
static int
r_rewrite(struct parser *ps, const struct directive *d, const struct rule *r)
{
	static char code_301[] = "301", code_302[] = "302";
	static const char *const every[] = { "^", "^.*$", "^(.*)$", "^(.*)", ".*",
		"(.*)", "^/.*$", "^/(.*)$", "^/(.*)", "^/" };
	const char *url = d->argv[2], *flag = d->argc > 3 ? d->argv[3] : "";
	struct directive as_return = *d;
	char *text;
	size_t i, len = strlen(url);

	(void)r;
	for (i = 0; i < sizeof every / sizeof every[0]; i++)
		if (strcmp(d->argv[1], every[i]) == 0)
			break;
	if (i == sizeof every / sizeof every[0] || len < 2 || url[len - 1] != '?'
	    || strchr(url, '?') != url + len - 1
	    || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
	    || (*flag && strcmp(flag, "permanent") != 0 && strcmp(flag, "redirect") != 0))
		return unsupported(ps, d, "mtlsd has no regular expressions; it takes "
		    "rewrite only as a redirect of every request, like "
		    "\"rewrite ^ https://$host$request_uri? permanent;\"");
	/* The URL without its "?", in the store. */
	if (!(text = store_word(ps, url, len - 1)))
		return -1;
	as_return.argv[1] = strcmp(flag, "permanent") == 0 ? code_301 : code_302;
	as_return.argv[2] = text;
	as_return.argc = 3;
	return r_return(ps, &as_return, NULL);
}

static int
r_server_name(struct parser *ps, const struct directive *d, const struct rule *r)
{
	(void)r;
	if (!ps->cur.name_line) {
		ps->cur.name = d->argv[1];
		ps->cur.name_line = d->line;
	}
	return 0;
}

/*
 * add_header NAME VALUE [always], with a constant value. Headers that
 * frame the answer are refused: a second one would make it ambiguous.
 */
static int
r_add_header(struct parser *ps, const struct directive *d, const struct rule *r)
{
	static const char *const framing[] = { "Content-Length", "Transfer-Encoding",
		"Connection", "Keep-Alive", "Content-Range" };
	const char *name = d->argv[1], *value = d->argv[2], *c;
	struct settings *s = here(ps);
	size_t k, bytes;

	(void)r;
	if (d->argc == 4 && strcmp(d->argv[3], "always") != 0)
		return fail(ps, d->line, "\"add_header\": invalid parameter \"%.64s\"",
		    d->argv[3]);
	if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789!#$%&'*+-.^_`|~") != strlen(name) || strchr(name, '$'))
		return fail(ps, d->line, "\"add_header %.64s\": not a header name", name);
	for (k = 0; k < sizeof framing / sizeof framing[0]; k++)
		if (strcasecmp(name, framing[k]) == 0)
			return fail(ps, d->line, "\"add_header %s\": mtlsd writes that header "
			    "itself, and a second one would make the answer ambiguous", name);
	if (no_variables(ps, d, value) < 0)
		return -1;
	for (c = value; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return fail(ps, d->line, "\"add_header %s\": a control character "
			    "in the value", name);
	if (!*value)
		return 0;           /* nginx adds no header with an empty value */
	if (s->l.header_count == HTTP_MAX_ADD_HEADERS)
		return fail(ps, d->line, "more than %d \"add_header\" at one level",
		    HTTP_MAX_ADD_HEADERS);
	/* The head of an answer must fit one TLS record with the rest. */
	for (k = 0, bytes = 0; k < (size_t)s->l.header_count; k++)
		bytes += strlen(s->l.headers[k].name) + strlen(s->l.headers[k].value) + 4;
	if (bytes + strlen(name) + strlen(value) + 4 > MAX_ADD_HEADER_BYTES)
		return fail(ps, d->line, "\"add_header\": more than %d bytes of headers "
		    "at one level", MAX_ADD_HEADER_BYTES);
	s->l.headers[s->l.header_count].name = name;
	s->l.headers[s->l.header_count].value = value;
	s->l.headers[s->l.header_count].always = d->argc == 4;
	s->l.header_count++;
	return 0;
}

/* charset NAME | off: added to the Content-Type of text types, as nginx. */
static int
r_charset(struct parser *ps, const struct directive *d, const struct rule *r)
{
	const char *v = d->argv[1];

	(void)r;
	if (!*v || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != strlen(v))
		return fail(ps, d->line, "\"charset %.64s\": not a charset name", v);
	return set_text(ps, d, T_CHARSET, v);
}

/*
 * try_files ENTRY... LAST: entries are URIs where $uri may stand, a
 * trailing '/' testing for a directory; LAST is =CODE or a URI looked up
 * again (its ?$args dropped: mtlsd serves files, arguments change nothing).
 */
static int
r_try_files(struct parser *ps, const struct directive *d, const struct rule *r)
{
	struct settings *s = here(ps);
	const char *e, *v;
	char *last;
	long code;
	int i;

	(void)r;
	if (s->try_line)
		return fail(ps, d->line, "\"try_files\" directive is duplicate");
	if (d->argc - 1 > HTTP_MAX_TRY)
		return fail(ps, d->line, "\"try_files\": more than %d entries", HTTP_MAX_TRY);
	if (s->alias_line)
		return unsupported(ps, d, "try_files with alias: nginx's has known quirks "
		    "there (trac #97) that mtlsd does not copy; use root");
	for (i = 1; i < d->argc; i++) {
		e = d->argv[i];
		if (i == d->argc - 1 && e[0] == '=') {
			if (parse_long(e + 1, 0, 999, &code) < 0)
				return fail(ps, d->line, "invalid code \"%.64s\"", e);
			if (check_return(ps, d->line, code, NULL) < 0)
				return -1;
			s->l.try_files[i - 1] = e;
			continue;
		}
		if (e[0] == '@')
			return unsupported(ps, d, "a named location: mtlsd has no internal "
			    "redirects to named locations (they lead to proxies)");
		if (i == d->argc - 1 && (v = strchr(e, '?'))
		    && (strcmp(v, "?$args") == 0 || strcmp(v, "?$query_string") == 0
		    || strcmp(v, "?$is_args$args") == 0)) {
			if (!(last = store_word(ps, e, (size_t)(v - e))))
				return -1;
			e = last;
		}
		if (i == d->argc - 1 && strncmp(e, "$is_args", 8) != 0 && (v = strstr(e, "$is_args$args"))
		    && strcmp(v, "$is_args$args") == 0) {
			if (!(last = store_word(ps, e, (size_t)(v - e))))
				return -1;
			e = last;
		}
		for (v = strchr(e, '$'); v; v = strchr(v + 1, '$'))
			if (strncmp(v, "$uri", 4) != 0 || is_name_char(v[4]))
				return fail(ps, d->line, "\"try_files ... %.64s\": mtlsd fills "
				    "$uri only", d->argv[i]);
		if (strchr(e, '?'))
			return fail(ps, d->line, "\"try_files ... %.64s\": mtlsd takes "
			    "no arguments there but ?$args", d->argv[i]);
		if (e[0] != '/' && strncmp(e, "$uri", 4) != 0)
			return fail(ps, d->line, "\"try_files ... %.64s\": a URI starts "
			    "with \"/\" or $uri", e);
		s->l.try_files[i - 1] = e;
	}
	s->l.try_count = d->argc - 1;
	s->try_line = d->line;
	return 0;
}

/*
 * error_page CODE... [=[CODE]] URI|URL: the error's answer is the URI's
 * file (looked up once, as nginx's recursive_error_pages off), with the
 * error's code or the one after "="; a URL is a redirect (302, or "=CODE").
 */
static int
r_error_page(struct parser *ps, const struct directive *d, const struct rule *r)
{
	struct settings *s = here(ps);
	const char *uri = d->argv[d->argc - 1], *eq = NULL;
	long code, answer = 0;
	int i, last = d->argc - 1;

	(void)r;
	if (d->argc > 2 && d->argv[last - 1][0] == '=') {
		eq = d->argv[--last];
		if (eq[1] && (parse_long(eq + 1, 200, 599, &answer) < 0
		    || check_return(ps, d->line, answer, NULL) < 0))
			return fail(ps, d->line, "invalid value \"%.64s\"", eq);
		if (!eq[1])
			answer = -1;    /* the status of the page's own answer */
	}
	if (last < 2)
		return fail(ps, d->line, "invalid number of arguments in \"error_page\"");
	if (uri[0] == '@')
		return unsupported(ps, d, "a named location: mtlsd has no internal "
		    "redirects to named locations (they lead to proxies)");
	if (strchr(uri, '$') || strchr(uri, '?'))
		return fail(ps, d->line, "\"error_page ... %.64s\": mtlsd takes a constant "
		    "URI without arguments", uri);
	if (uri[0] != '/' && strncmp(uri, "http://", 7) != 0
	    && strncmp(uri, "https://", 8) != 0)
		return fail(ps, d->line, "\"error_page ... %.64s\": a URI starts with \"/\", "
		    "a URL with http:// or https://", uri);
	if (uri[0] != '/' && answer && !is_redirect(answer))
		return fail(ps, d->line, "\"error_page ... %s %.64s\": a URL is answered "
		    "with a redirect (301, 302, 303, 307, 308)", eq, uri);
	if (uri[0] != '/' && check_vars(ps, d->line, 302, uri) < 0)
		return -1;
	for (i = 1; i < last; i++) {
		if (parse_long(d->argv[i], 300, 599, &code) < 0)
			return fail(ps, d->line, "value \"%.64s\" must be between 300 and 599",
			    d->argv[i]);
		if (s->l.error_page_count == HTTP_MAX_ERROR_PAGES)
			return fail(ps, d->line, "more than %d codes with an error_page at "
			    "one level", HTTP_MAX_ERROR_PAGES);
		s->l.error_pages[s->l.error_page_count].code = (int)code;
		s->l.error_pages[s->l.error_page_count].answer = (int)answer;
		s->l.error_pages[s->l.error_page_count].uri = uri;
		s->l.error_page_count++;
	}
	return 0;
}

/* internal: the location answers internal redirects only (404 otherwise). */
static int
r_internal(struct parser *ps, const struct directive *d, const struct rule *r)
{
	(void)d;
	(void)r;
	here(ps)->l.internal = true;
	return 0;
}

/* allow | deny ADDRESS[/BITS] | all, in order. */
static int
r_access(struct parser *ps, const struct directive *d, const struct rule *r)
{
	struct settings *s = here(ps);
	struct http_access_rule a;
	char text[64], *slash;
	long bits;
	int k;

	(void)r;
	memset(&a, 0, sizeof a);
	a.allow = d->argv[0][0] == 'a';
	if (s->l.access_count == HTTP_MAX_ACCESS)
		return fail(ps, d->line, "more than %d allow and deny at one level",
		    HTTP_MAX_ACCESS);
	if (strcmp(d->argv[1], "all") != 0) {
		if (strncmp(d->argv[1], "unix:", 5) == 0)
			return unsupported(ps, d, "mtlsd listens on TCP only");
		snprintf(text, sizeof text, "%s", d->argv[1]);
		if ((slash = strchr(text, '/')))
			*slash = '\0';
		if (inet_pton(AF_INET, text, a.addr) == 1)
			a.family = 4;
		else if (inet_pton(AF_INET6, text, a.addr) == 1)
			a.family = 6;
		else
			return fail(ps, d->line, "invalid parameter \"%.64s\"", d->argv[1]);
		bits = a.family == 4 ? 32 : 128;
		if (slash && parse_long(slash + 1, 0, bits, &bits) < 0)
			return fail(ps, d->line, "invalid parameter \"%.64s\"", d->argv[1]);
		a.bits = (unsigned char)bits;
		for (k = 0; k < 16; k++) {
			int keep = bits >= 8 * (k + 1) ? 8 : bits > 8 * k ? (int)bits - 8 * k : 0;
			unsigned char mask = (unsigned char)(0xff00 >> keep);

			if (a.addr[k] & ~mask) {
				warn(ps, d->line, "low address bits of %s are meaningless",
				    d->argv[1]);
				break;
			}
		}
		for (k = 0; k < 16; k++) {
			int keep = bits >= 8 * (k + 1) ? 8 : bits > 8 * k ? (int)bits - 8 * k : 0;

			a.addr[k] &= (unsigned char)(0xff00 >> keep);
		}
	}
	s->l.access[s->l.access_count++] = a;
	return 0;
}

/* expires off | epoch | max | [-]TIME */
static int
r_expires(struct parser *ps, const struct directive *d, const struct rule *r)
{
	struct settings *s = here(ps);
	const char *v = d->argv[1];
	long long ms;
	bool minus = v[0] == '-';

	(void)r;
	if (s->expires_line)
		return fail(ps, d->line, "\"expires\" directive is duplicate");
	if (d->argc > 2 || v[0] == '@' || strcmp(v, "modified") == 0 || strchr(v, '$'))
		return unsupported(ps, d, "mtlsd takes expires off, epoch, max or a time "
		    "from now");
	s->l.expires_kind = 1;
	if (strcmp(v, "off") == 0)
		s->l.expires_kind = 0;
	else if (strcmp(v, "epoch") == 0)
		s->l.expires_kind = 2;
	else if (strcmp(v, "max") == 0)
		s->l.expires_kind = 3;
	else if ((ms = parse_time_ms(v + (minus || v[0] == '+'), false)) < 0
	    || ms / 1000 > 10L * 365 * 86400)
		return fail(ps, d->line, "\"expires\": invalid value \"%.64s\"", v);
	else
		s->l.expires = minus ? -(long)(ms / 1000) : (long)(ms / 1000);
	s->expires_line = d->line;
	return 0;
}

static bool
is_type(const char *t)
{
	const char *slash = strchr(t, '/');

	return slash && slash != t && slash[1] && !strchr(slash + 1, '/')
	    && strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789!#$&^_.+-/=;") == strlen(t) && !strchr(t, '$');
}

static int
r_default_type(struct parser *ps, const struct directive *d, const struct rule *r)
{
	struct settings *s = here(ps);

	(void)r;
	if (s->type_line)
		return fail(ps, d->line, "\"default_type\" directive is duplicate");
	if (!is_type(d->argv[1]))
		return fail(ps, d->line, "\"default_type %.64s\": not a media type",
		    d->argv[1]);
	s->l.default_type = d->argv[1];
	s->type_line = d->line;
	return 0;
}

/* types { TYPE EXT...; }: replaces the table of types at this level. */
static int
r_types(struct parser *ps, const struct directive *d, const struct rule *r)
{
	struct settings *s = here(ps);
	struct directive e;
	int rc, i;

	(void)r;
	if (s->types_line)
		return fail(ps, d->line, "\"types\" directive is duplicate");
	s->types_line = d->line;
	s->l.types = &ps->types[ps->type_count];
	s->l.type_count = 0;
	while ((rc = read_inside(ps, &e)) > 0) {
		if (e.block || e.argc < 2)
			return fail(ps, e.line, "invalid number of arguments in \"types\"");
		if (strcmp(e.argv[0], "include") == 0)
			return unsupported(ps, &e, "write the types in the block");
		if (!is_type(e.argv[0]))
			return fail(ps, e.line, "\"%.64s\": not a media type", e.argv[0]);
		for (i = 1; i < e.argc; i++) {
			if (ps->type_count == MAX_TYPES)
				return fail(ps, e.line, "more than %d types", MAX_TYPES);
			ps->types[ps->type_count].type = e.argv[0];
			ps->types[ps->type_count].ext = e.argv[i];
			ps->type_count++;
			s->l.type_count++;
		}
	}
	return rc;
}

/*
 * alias DIR: in a location whose path ends with '/', DIR ending with '/'
 * too; in an exact location, DIR may name a file. Other forms let nginx
 * open names beside the directory ("location /img" + "alias /srv/img":
 * /imgX opens /srv/imgX), which mtlsd, opening beneath the directory,
 * cannot follow.
 */
static int
r_alias(struct parser *ps, const struct directive *d, const struct rule *r)
{
	struct settings *s = here(ps);
	const char *v = d->argv[1], *path = s->l.path;
	size_t vl = strlen(v), pl = strlen(path);
	const char *slash;
	char *dir;

	(void)r;
	if (no_variables(ps, d, v) < 0)
		return -1;
	if (s->alias_line)
		return fail(ps, d->line, "\"alias\" directive is duplicate");
	if (s->text_line[T_ROOT])
		return fail(ps, d->line, "\"alias\" directive is duplicate, \"root\" "
		    "directive was specified earlier");
	if (s->try_line)
		return unsupported(ps, d, "alias with try_files: nginx's has known quirks "
		    "there (trac #97) that mtlsd does not copy; use root");
	if (v[0] != '/')
		return fail(ps, d->line, "\"alias %.64s\": write the full path", v);
	s->alias_line = d->line;
	s->l.alias = true;
	if (s->l.match == HTTP_MATCH_EXACT && path[pl - 1] != '/' && v[vl - 1] != '/') {
		/* An exact location aliasing a file: its directory and name. */
		slash = strrchr(v, '/');
		if (!(dir = store_word(ps, v, slash == v ? 1 : (size_t)(slash - v))))
			return -1;
		s->l.dir = dir;
		s->l.alias_file = slash + 1;
		return 0;
	}
	if (path[pl - 1] != '/' || v[vl - 1] != '/')
		return unsupported(ps, d, "alias where the location and the alias do "
		    "not both end with \"/\": nginx would open names beside the "
		    "directory (location /img + alias /srv/img: /imgX opens /srv/imgX); "
		    "write location /img/ { alias /srv/img/; }");
	s->l.dir = v;
	return 0;
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

/* Refused, with the reason. */
static int
r_refused(struct parser *ps, const struct directive *d, const struct rule *r)
{
	return unsupported(ps, d, r->note);
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

/* autoindex on | off: a directory without its index is listed, as nginx. */
static int
r_autoindex(struct parser *ps, const struct directive *d, const struct rule *r)
{
	struct settings *s = here(ps);
	const char *v = d->argv[1];

	(void)r;
	if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
		return fail(ps, d->line, "invalid value \"%.64s\" in \"autoindex\" "
		    "directive, it must be \"on\" or \"off\"", v);
	if (s->autoindex_line)
		return fail(ps, d->line, "\"autoindex\" directive is duplicate (first "
		    "at %s)", where(ps, s->autoindex_line, d->line));
	s->l.autoindex = strcmp(v, "on") == 0;
	s->autoindex_line = d->line;
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
	{ "location", S | L, true, 1, 2, r_block, CTX_LOCATION, NULL },
	{ "map", H, true, 2, 2, r_map, 0, NULL },
	{ "types", H | S | L, true, 0, 0, r_types, 0, NULL },

	/* the server */
	{ "listen", S, false, 1, -1, r_listen, 0, NULL },
	{ "server_name", S, false, 1, -1, r_server_name, 0, NULL },
	{ "return", S | L, false, 1, 2, r_return, 0, NULL },
	{ "if", S | L, true, 1, -1, r_if, 0, NULL },
	{ "try_files", S | L, false, 2, -1, r_try_files, 0, NULL },
	{ "alias", L, false, 1, 1, r_alias, 0, NULL },
	{ "error_page", H | S | L, false, 2, -1, r_error_page, 0, NULL },
	{ "allow", H | S | L, false, 1, 1, r_access, 0, NULL },
	{ "deny", H | S | L, false, 1, 1, r_access, 0, NULL },
	{ "expires", H | S | L, false, 1, 2, r_expires, 0, NULL },
	{ "log_not_found", H | S | L, false, 1, 1, r_quiet, 0, NULL },
	{ "internal", L, false, 0, 0, r_internal, 0, NULL },
	{ "rewrite", S | L, false, 2, 3, r_rewrite, 0, NULL },
	{ "add_header", H | S | L, false, 2, 3, r_add_header, 0, NULL },
	{ "charset", H | S | L, false, 1, 1, r_charset, 0, NULL },
	{ "ssl_password_file", H | S, false, 1, 1, r_refused, 0,
	    "mtlsd reads unencrypted keys only; decrypt the key "
	    "(openssl pkey -in KEY -out PLAIN) and keep it readable by mtlsd alone" },
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
	{ "include", M | E | H | S | L, false, 1, 1, r_include, 0, NULL },
	{ "load_module", M, false, 1, 1, r_ignored, 0,
	    "mtlsd loads no modules (the module's directives are refused where used)" },
	{ "fastcgi_param", H | S | L, false, 2, 3, r_ignored, 0,
	    "no effect without fastcgi_pass, which mtlsd, a static file server, "
	    "does not take" },
	{ "default_type", H | S | L, false, 1, 1, r_default_type, 0, NULL },
	{ "sendfile", H | S | L, false, 1, 1, r_quiet, 0, NULL },
	{ "tcp_nopush", H | S | L, false, 1, 1, r_quiet, 0, NULL },
	{ "tcp_nodelay", H | S | L, false, 1, 1, r_quiet, 0, NULL },
	{ "types_hash_max_size", H, false, 1, 1, r_quiet, 0, NULL },
	{ "server_names_hash_bucket_size", H, false, 1, 1, r_quiet, 0, NULL },
	{ "autoindex", H | S | L, false, 1, 1, r_autoindex, 0, NULL },
	{ "proxy_pass", L, false, 1, 1, r_refused, 0, "mtlsd is a static file "
	    "server: it does not proxy (keep nginx, or another proxy, for that)" },
	{ "fastcgi_pass", L, false, 1, 1, r_refused, 0, "mtlsd is a static file "
	    "server: it runs no application (keep nginx, or another server, for that)" },
	{ "uwsgi_pass", L, false, 1, 1, r_refused, 0, "mtlsd is a static file "
	    "server: it runs no application (keep nginx, or another server, for that)" },
	{ "grpc_pass", L, false, 1, 1, r_refused, 0, "mtlsd is a static file "
	    "server: it does not proxy (keep nginx, or another proxy, for that)" },
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
	if (!(r->contexts & ps->ctx)) {
		/*
		 * A conf.d-style file (server blocks with no http { } around
		 * them) is read as the inside of http { }, as nginx includes it.
		 */
		if (ps->ctx != CTX_MAIN || !(r->contexts & CTX_HTTP) || ps->https)
			return fail(ps, d->line, "\"%s\" directive is not allowed here",
			    r->name);
		if (!ps->bare_http_line)
			ps->bare_http_line = d->line;
	}
	if (r->block && !d->block)
		return fail(ps, d->line, "directive \"%s\" has no opening \"{\"", r->name);
	if (!r->block && d->block)
		return fail(ps, d->line, "\"%s\" directive is not terminated by \";\"", r->name);
	if (args < r->min_args || (r->max_args >= 0 && args > r->max_args))
		return fail(ps, d->line, "invalid number of arguments in \"%s\" directive",
		    r->name);
	return r->apply(ps, d, r);
}

/* Directives up to the closing '}' of ctx, or to the end of a whole file's text. */
static int
parse_block(struct parser *ps, enum context ctx, bool whole_file)
{
	struct directive d;

	(void)ctx;
	for (;;) {
		switch (read_directive(ps, &d)) {
		case 1:
			if (apply_directive(ps, &d) < 0)
				return -1;
			break;
		case 0:
			if (whole_file)
				return fail(ps, ps->line, "unexpected \"}\"");
			return 0;
		case -1:
			if (!whole_file)
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

/* Where each file the options name came from, for nginx_conf_check_files(). */
static struct {
	const char *value;              /* the pointer put in the options */
	const char *directive;
	char where[320];                /* "FILE:LINE" */
} origins[3 + 1];
static int origin_count;

static void
remember_origin(const struct parser *ps, const char *value, const char *directive,
    unsigned pos)
{
	if (!value || !pos || origin_count == (int)(sizeof origins / sizeof origins[0]))
		return;
	origins[origin_count].value = value;
	origins[origin_count].directive = directive;
	snprintf(origins[origin_count].where, sizeof origins[origin_count].where,
	    "%s:%u", ps->files[POS_FILE(pos)], POS_LINE(pos));
	origin_count++;
}

/* Set in the server block, its location, or above them. */
static bool
block_has(const struct parser *ps, const struct server_block *b, int which)
{
	return b->server.number_line[which] || b->location.number_line[which]
	    || ps->level[LV_HTTP].number_line[which]
	    || ps->level[LV_MAIN].number_line[which];
}

/* The variables a redirect server's target may use: those mtlsd fills. */
static int
check_target(struct parser *ps, const struct server_block *b)
{
	static const char *const known[] = { "$host", "$server_name", "$request_uri",
		"$scheme" };
	const char *v;
	size_t k, n;

	for (v = strchr(b->return_text, '$'); v; v = strchr(v + 1, '$')) {
		for (k = 0; k < sizeof known / sizeof known[0]; k++) {
			n = strlen(known[k]);
			if (strncmp(v, known[k], n) == 0 && !is_name_char(v[n]))
				break;
		}
		if (k == sizeof known / sizeof known[0])
			return fail(ps, b->return_line, "\"return %d %.200s\": in a "
			    "redirect mtlsd fills $host, $server_name, $request_uri and "
			    "$scheme only", b->return_code, b->return_text);
	}
	if (strchr(b->return_text, '\r') || strchr(b->return_text, '\n'))
		return fail(ps, b->return_line, "\"return\": a line break in the URL");
	return 0;
}

/* A plain-HTTP server: taken only when all it does is redirect. */
static int
add_redirects(struct parser *ps, struct server_block *b)
{
	int i, j;

	if (b->listen_count == 0)
		return fail(ps, b->line, "no \"listen ... ssl\" in the server block");
	if (!b->return_line || !is_redirect(b->return_code) || !b->return_text)
		return fail(ps, b->listens[0].line, "\"listen %s\" without \"ssl\": "
		    "mtlsd serves TLS only; it takes a plain-HTTP server only when all it "
		    "does is redirect (return 301 https://$host$request_uri;)",
		    b->listens[0].address);
	if (check_target(ps, b) < 0)
		return -1;
	/* nginx's $server_name without server_name is "" (kept in the store too). */
	if (!b->name && !(b->name = store_word(ps, "", 0)))
		return -1;
	for (i = 0; i < b->listen_count; i++) {
		for (j = 0; j < ps->redirect_count; j++)
			if (strcmp(ps->redirects[j].listen, b->listens[i].address) == 0)
				return fail(ps, b->listens[i].line, "a second plain-HTTP server "
				    "on %s: mtlsd does not tell servers apart by Host; "
				    "keep one", b->listens[i].address);
		if (ps->redirect_count == MAX_LISTENERS)
			return fail(ps, b->listens[i].line, "more than %d plain-HTTP "
			    "listen directives", MAX_LISTENERS);
		ps->redirects[ps->redirect_count].listen = b->listens[i].address;
		ps->redirects[ps->redirect_count].code = b->return_code;
		ps->redirects[ps->redirect_count].target = b->return_text;
		ps->redirects[ps->redirect_count].server_name = b->name;
		ps->redirect_lines[ps->redirect_count] = b->listens[i].line;
		ps->redirect_count++;
	}
	return 0;
}

static const char *
port_of(const char *address)
{
	return strrchr(address, ':') + 1;
}

/*
 * Tells the server blocks apart: plain-HTTP ones must only redirect, TLS
 * ones must verify clients, and exactly one of those is served; it becomes
 * the server level the rest of finish() reads.
 */
static int
pick_server(struct parser *ps)
{
	struct server_block *b, *tls = NULL;
	int i, j, k;
	bool ssl, same_port;

	for (i = 0; i < (int)ps->servers; i++) {
		b = &ps->blocks[i];
		ssl = block_has(ps, b, N_SSL_ON);
		for (j = 0; j < b->listen_count; j++)
			ssl = ssl || b->listens[j].ssl;
		if (!ssl) {
			if (add_redirects(ps, b) < 0)
				return -1;
			continue;
		}
		if (!block_has(ps, b, N_VERIFY_CLIENT))
			return fail(ps, b->line, "no \"ssl_verify_client on\": nginx would "
			    "serve clients without a certificate, mtlsd never does; add it "
			    "to say so");
		if (tls) {
			same_port = false;
			for (j = 0; j < b->listen_count; j++)
				for (k = 0; k < tls->listen_count; k++)
					if (strcmp(port_of(b->listens[j].address),
					    port_of(tls->listens[k].address)) == 0)
						same_port = true;
			if (same_port)
				return fail(ps, b->line, "a second server block with client "
				    "verification on the same port (the first at %s): mtlsd "
				    "does not tell them apart by SNI (server_name); merge them",
				    where(ps, tls->line, b->line));
			return fail(ps, b->line, "a second server block with client "
			    "verification (the first at %s): mtlsd serves one site; "
			    "merge them", where(ps, tls->line, b->line));
		}
		tls = b;
	}
	if (!tls)
		return fail(ps, ps->blocks[0].line, "no server block with "
		    "\"listen ... ssl\" and \"ssl_verify_client on\": mtlsd serves "
		    "files over mutual TLS only");
	for (i = 0; i < ps->redirect_count; i++)
		for (j = 0; j < tls->listen_count; j++)
			if (strcmp(port_of(ps->redirects[i].listen),
			    port_of(tls->listens[j].address)) == 0)
				return fail(ps, ps->redirect_lines[i], "port %s is both the "
				    "plain-HTTP redirect's and the TLS server's (at %s)",
				    port_of(tls->listens[j].address),
				    where(ps, tls->listens[j].line, ps->redirect_lines[i]));
	ps->level[LV_SERVER] = tls->server;
	ps->level[LV_LOCATION] = tls->location;
	memcpy(ps->listens, tls->listens, sizeof ps->listens);
	ps->listen_count = tls->listen_count;
	ps->server_line = tls->line;
	ps->cur = *tls;
	return 0;
}

/*
 * One entry of the table: the server level (loc NULL) or a location, with
 * the values nginx's inheritance gives it (main, http, server, location).
 */
static int
build_entry(struct parser *ps, struct http_location *out, const struct settings *loc,
    unsigned line, const char *site_root, const char *site_index)
{
	const struct settings *lv[4] = { &ps->level[LV_MAIN], &ps->level[LV_HTTP],
		&ps->level[LV_SERVER], loc };
	const struct settings *own = loc ? loc : &ps->level[LV_SERVER];
	const char *root = NULL, *v;
	int k, n = loc ? 4 : 3;
	char here_text[320];

	*out = own->l;
	if (!loc) {
		out->path = "";
		out->path_len = 0;
		out->alias = false;
		out->dir = NULL;
	}
	out->dir_fd = -1;
	snprintf(here_text, sizeof here_text, "%s:%u", ps->files[POS_FILE(line)],
	    POS_LINE(line));
	if (!(out->where = store_word(ps, here_text, strlen(here_text))))
		return -1;
	if (out->return_text && strstr(out->return_text, "$server_name"))
		return fail(ps, own->return_line, "\"return\": mtlsd fills "
		    "$server_name only on a plain-HTTP redirect server");
	/* Arrays: from the deepest level that has any, as nginx. */
	for (k = n - 1; k >= 0; k--)
		if (lv[k] && lv[k]->l.header_count) {
			memcpy(out->headers, lv[k]->l.headers, sizeof out->headers);
			out->header_count = lv[k]->l.header_count;
			break;
		}
	for (k = n - 1; k >= 0; k--)
		if (lv[k] && lv[k]->l.access_count) {
			memcpy(out->access, lv[k]->l.access, sizeof out->access);
			out->access_count = lv[k]->l.access_count;
			break;
		}
	for (k = n - 1; k >= 0; k--)
		if (lv[k] && lv[k]->l.error_page_count) {
			memcpy(out->error_pages, lv[k]->l.error_pages, sizeof out->error_pages);
			out->error_page_count = lv[k]->l.error_page_count;
			break;
		}
	for (k = n - 1; k >= 0; k--)
		if (lv[k] && lv[k]->try_line) {
			memcpy(out->try_files, lv[k]->l.try_files, sizeof out->try_files);
			out->try_count = lv[k]->l.try_count;
			break;
		}
	for (k = n - 1; k >= 0; k--)
		if (lv[k] && lv[k]->expires_line) {
			out->expires_kind = lv[k]->l.expires_kind;
			out->expires = lv[k]->l.expires;
			break;
		}
	for (k = n - 1; k >= 0; k--)
		if (lv[k] && lv[k]->type_line) {
			out->default_type = lv[k]->l.default_type;
			break;
		}
	out->autoindex = false;
	for (k = n - 1; k >= 0; k--)
		if (lv[k] && lv[k]->autoindex_line) {
			out->autoindex = lv[k]->l.autoindex;
			break;
		}
	for (k = n - 1; k >= 0; k--)
		if (lv[k] && lv[k]->types_line) {
			out->types = lv[k]->l.types;
			out->type_count = lv[k]->l.type_count;
			break;
		}
	out->index = NULL;
	out->charset = NULL;
	for (k = n - 1; k >= 0; k--)
		if (lv[k] && lv[k]->text_line[T_INDEX]) {
			out->index = lv[k]->text[T_INDEX];
			memcpy(out->index_more, lv[k]->l.index_more, sizeof out->index_more);
			out->index_more_count = lv[k]->l.index_more_count;
			break;
		}
	for (k = n - 1; k >= 0; k--)
		if (lv[k] && lv[k]->text_line[T_CHARSET]) {
			v = lv[k]->text[T_CHARSET];
			out->charset = strcmp(v, "off") == 0 ? NULL : v;
			break;
		}
	if (!out->index)
		out->index = "index.html";      /* nginx's default */
	/* The site's (--index may override it), as a root equal to the site's. */
	if (site_index && strcmp(out->index, site_index) == 0 && !out->index_more_count)
		out->index = NULL;
	if (out->alias)
		return 0;
	for (k = n - 1; k >= 0; k--)
		if (lv[k] && lv[k]->text_line[T_ROOT]) {
			root = lv[k]->text[T_ROOT];
			break;
		}
	if (!root && loc && !out->return_code)
		return fail(ps, line, "location \"%s\" has no \"root\" (nor its server): "
		    "nginx would use its built-in html directory; name the directory",
		    out->path);
	out->dir = !root || strcmp(root, site_root) == 0 ? NULL : root;
	return 0;
}

/* Room in the store, aligned for any of the table's structures. */
static void *
store_alloc(struct parser *ps, size_t size)
{
	size_t align = 16;
	char *p = ps->store_next;

	p += (align - (size_t)(uintptr_t)p % align) % align;
	if ((size_t)(ps->store_end - p) < size) {
		fail(ps, 0, "out of room for locations");
		return NULL;
	}
	ps->store_next = p + size;
	return p;
}

/* The table of the served server: its level first, then its locations. */
static int
build_table(struct parser *ps, struct options *opt)
{
	struct http_location *t;
	struct http_map *maps = NULL;
	struct http_type *types = NULL;
	int i, k, n = 1 + ps->cur.loc_count;

	if (!(t = store_alloc(ps, (size_t)n * sizeof *t))
	    || (ps->map_count && !(maps = store_alloc(ps, (size_t)ps->map_count
	    * sizeof *maps)))
	    || (ps->type_count && !(types = store_alloc(ps, (size_t)ps->type_count
	    * sizeof *types))))
		return -1;
	/* The maps and types move from the parser, freed after, to the store. */
	if (maps)
		memcpy(maps, ps->maps, (size_t)ps->map_count * sizeof *maps);
	if (types)
		memcpy(types, ps->types, (size_t)ps->type_count * sizeof *types);
	if (build_entry(ps, &t[0], NULL, ps->server_line, opt->root, opt->index) < 0)
		return -1;
	for (i = 0; i < ps->cur.loc_count; i++)
		if (build_entry(ps, &t[1 + i], &ps->locs[ps->cur.loc_first + i].s,
		    ps->locs[ps->cur.loc_first + i].line, opt->root, opt->index) < 0)
			return -1;
	for (i = 0; i < ps->map_count; i++)
		if (maps[i].source)
			maps[i].source = maps + (maps[i].source - ps->maps);
	for (i = 0; i < n; i++) {
		for (k = 0; k < t[i].ident_count; k++)
			if (t[i].ident[k].map)
				t[i].ident[k].map = maps + (t[i].ident[k].map - ps->maps);
		if (t[i].types)
			t[i].types = types + (t[i].types - ps->types);
	}
	opt->locations = t;
	opt->location_count = n;
	return 0;
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
	if (pick_server(ps) < 0)
		return -1;
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
	origin_count = 0;
	text_of(ps, T_CERT, &line);
	remember_origin(ps, opt->tls.cert_file, "ssl_certificate", line);
	text_of(ps, T_KEY, &line);
	remember_origin(ps, opt->tls.key_file, "ssl_certificate_key", line);
	if (text_of(ps, T_CLIENT_CA, &line))
		remember_origin(ps, opt->tls.ca_file, "ssl_client_certificate", line);
	else if (text_of(ps, T_TRUSTED_CA, &line))
		remember_origin(ps, opt->tls.ca_file, "ssl_trusted_certificate", line);
	if (text_of(ps, T_CRL, &line))
		remember_origin(ps, opt->tls.crl_files[0], "ssl_crl", line);
	if (build_table(ps, opt) < 0)
		return -1;
	memcpy(opt->redirect, ps->redirects, sizeof opt->redirect);
	opt->redirect_count = ps->redirect_count;
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

/* nginx_conf_parse(), and nginx_conf_load() when st (the file's) is given. */
static int
parse_text(const char *text, size_t len, const char *file_name,
    struct options *opt, char **strings, void (*warn_fn)(const char *message),
    char *why, size_t why_len, const struct stat *st)
{
	struct parser *ps;
	struct options out = *opt;
	const char *slash;
	size_t room, budget = st ? NGINX_CONF_MAX_BYTES : len;
	int rc, i;

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
	ps->files[0] = file_name;
	ps->file_count = 1;
	ps->total_bytes = len;
	if (st) {
		ps->follow_includes = true;
		ps->reading[0].dev = st->st_dev;
		ps->reading[0].ino = st->st_ino;
	}
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
	 * delimiter it can use for its NUL, but the last, and one per file);
	 * then the listen addresses, and each file name once more with the
	 * directory before it. With includes, the text is any up to the limit.
	 */
	room = budget + MAX_CONF_FILES + MAX_SERVER_BLOCKS + MAX_LISTENERS * LISTEN_TEXT + budget
	    + (T_COUNT + 1) * (strlen(file_name) + 2)
	    + HTTP_MAX_LOCATIONS * (sizeof(struct http_location) + 320) + 16
	    + sizeof ps->maps + 16 + sizeof ps->types + 16;
	if (!(ps->store = malloc(room))) {
		free(ps);
		snprintf(why, why_len, "%s: out of memory", file_name);
		return -1;
	}
	ps->store_next = ps->store;
	ps->store_end = ps->store + room;
	rc = parse_block(ps, CTX_MAIN, true);
	if (rc == 0)
		rc = finish(ps, &out);
	if (rc == 0) {
		*opt = out;
		*strings = ps->store;
	} else {
		free(ps->store);
	}
	for (i = 1; i < ps->file_count; i++)
		free((char *)ps->files[i]);
	free(ps);
	return rc;
}

int
nginx_conf_parse(const char *text, size_t len, const char *file_name,
    struct options *opt, char **strings, void (*warn_fn)(const char *message),
    char *why, size_t why_len)
{
	return parse_text(text, len, file_name, opt, strings, warn_fn, why, why_len,
	    NULL);
}

int
nginx_conf_load(const char *path, struct options *opt, char **strings,
    void (*warn_fn)(const char *message), char *why, size_t why_len)
{
	struct stat st;
	char *text;
	size_t len;
	int e, rc;

	*strings = NULL;
	if ((e = read_whole(path, NGINX_CONF_MAX_BYTES, &text, &len, &st)) != 0) {
		snprintf(why, why_len, "--nginx-conf %s: %s", path, e == EFBIG
		    ? "larger than 1048576 bytes" : read_error(e));
		return -1;
	}
	rc = parse_text(text, len, path, opt, strings, warn_fn, why, why_len, &st);
	free(text);
	return rc;
}

int
nginx_conf_check_files(const struct options *opt, char *why, size_t why_len)
{
	const char *const now[] = { opt->tls.cert_file, opt->tls.key_file,
		opt->tls.ca_file, opt->tls.crl_files[0] };
	int i, k, fd;

	for (i = 0; i < origin_count; i++) {
		for (k = 0; k < 4; k++)
			if (now[k] == origins[i].value)
				break;
		if (k == 4)
			continue;       /* the command line named another file */
		if ((fd = open(origins[i].value, O_RDONLY | O_CLOEXEC)) < 0) {
			snprintf(why, why_len, "%s: \"%s %s\": %s", origins[i].where,
			    origins[i].directive, origins[i].value, strerror(errno));
			return -1;
		}
		close(fd);
	}
	/* The directories of locations with their own root or alias. */
	for (i = 0; opt->locations && i < opt->location_count; i++) {
		const struct http_location *l = &opt->locations[i];

		if (!l->dir)
			continue;
		if ((fd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			snprintf(why, why_len, "%s: \"%s %s\": %s", l->where ? l->where : "?",
			    l->alias ? "alias" : "root", l->dir, strerror(errno));
			return -1;
		}
		close(fd);
	}
	return 0;
}
