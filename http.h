/*
 * http.h - HTTP/1.x requests and responses for a static file server.
 *
 * The parser works on the connection's head buffer and leaves views into
 * it; nothing is copied or allocated. A response is decided once
 * (http_prepare*) and its head written by one function (http_write_head).
 */
#ifndef MTLSD_HTTP_H
#define MTLSD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MTLSD_VERSION "0.1.0"
#define SERVER_TOKEN "mtlsd/" MTLSD_VERSION

/* Status codes are values; S_NONE means "no status decided yet". */
enum status {
	S_NONE = 0,
	S_OK = 200,
	S_NO_CONTENT = 204,
	S_PARTIAL_CONTENT = 206,
	S_MOVED_PERMANENTLY = 301,
	S_FOUND = 302,
	S_SEE_OTHER = 303,
	S_NOT_MODIFIED = 304,
	S_TEMPORARY_REDIRECT = 307,
	S_PERMANENT_REDIRECT = 308,
	S_BAD_REQUEST = 400,
	S_UNAUTHORIZED = 401,
	S_FORBIDDEN = 403,
	S_NOT_FOUND = 404,
	S_METHOD_NOT_ALLOWED = 405,
	S_NOT_ACCEPTABLE = 406,
	S_REQUEST_TIMEOUT = 408,
	S_CONFLICT = 409,
	S_GONE = 410,
	S_PRECONDITION_FAILED = 412,
	S_PAYLOAD_TOO_LARGE = 413,
	S_URI_TOO_LONG = 414,
	S_RANGE_NOT_SATISFIABLE = 416,
	S_TOO_MANY_REQUESTS = 429,
	S_INTERNAL_SERVER_ERROR = 500,
	S_NOT_IMPLEMENTED = 501,
	S_BAD_GATEWAY = 502,
	S_SERVICE_UNAVAILABLE = 503,
	S_GATEWAY_TIMEOUT = 504,
	S_VERSION_NOT_SUPPORTED = 505,
};

/* nginx's second line on its special 400 pages. */
#define DETAIL_NO_CERT "No required SSL certificate was sent"
#define DETAIL_CERT_ERROR "The SSL certificate error"
#define DETAIL_HEADER_TOO_LARGE "Request Header Or Cookie Too Large"

enum method { M_GET, M_HEAD, M_TRACE, M_OTHER };

struct text {
	const char *p;
	size_t len;
};

/* A parsed request head. Every text points into the parsed buffer. */
struct http_request {
	enum status error;        /* S_NONE, or why the head is unusable */
	const char *error_detail; /* NULL or a DETAIL_* line */
	struct text line;         /* the request line as received, for logs */
	enum method method;
	struct text target;       /* as received */
	struct text path;         /* target without scheme, host and query */
	struct text query;        /* after '?', empty if none */
	int version_major, version_minor;
	struct text host;         /* Host, or the absolute-form authority */
	struct text user_agent, referer;
	struct text range, if_range, if_none_match, if_modified_since;
	struct text if_match, if_unmodified_since;
	bool keep_alive;          /* what the client asked for */
	bool has_body;            /* Content-Length > 0 or Transfer-Encoding */
	bool chunked;             /* Transfer-Encoding: chunked */
	bool expects_continue;    /* Expect: 100-continue */
	uint64_t content_length;
};

/* Longest request path (before decoding) mtlsd looks up; longer is 414. */
#define HTTP_MAX_PATH 8192

/* Largest request body mtlsd reads (and throws away), as nginx's default. */
#define HTTP_MAX_BODY (1024 * 1024)

/* Skips a chunked request body as it arrives; see http_chunked_skip(). */
struct chunked_skipper {
	int state;
	uint64_t chunk_left;      /* data bytes left in the current chunk */
	uint64_t total;           /* data bytes so far */
	bool have_digit;
};

enum skip_result { SKIP_MORE, SKIP_DONE, SKIP_BAD, SKIP_TOO_LARGE };

struct file_cache;
struct file_cache_entry;

/* Settings shared by every response. */
struct http_site {
	int root_fd;              /* the document root, opened at start-up */
	const char *index;        /* file served for a directory */
	struct file_cache *cache; /* NULL: every request opens its file */
	/*
	 * --root-per-client: the client's CN, a plain name (tls_cn_is_plain);
	 * files are opened beneath root_fd/client_dir, and cached under
	 * "/client_dir/path", so no client's entry answers another. NULL: off.
	 */
	const char *client_dir;
	const char *subject;      /* the client's, RFC 4514; NULL: none */
	const char *client_addr;  /* the client's address as text, for allow/deny */
};

/* Where the client reached us, for the Location of redirects. */
struct http_endpoint {
	const char *host;         /* used when the request has no Host */
	unsigned port;
};

struct http_response {
	enum status status;
	const char *detail;
	bool keep_alive;
	bool head_only;           /* HEAD: headers, no body */
	bool send_continue;       /* "100 Continue" goes before the answer */
	bool has_range;           /* 206 or 416: Content-Range is sent */
	int fd;                   /* file to send, -1 if none */
	struct file_cache_entry *cached; /* fd's owner, or NULL: fd is ours */
	uint64_t size;            /* of the whole file */
	time_t mtime;
	const char *content_type;
	const struct http_location *loc;  /* whose headers the answer gets; NULL: table[0] */
	const char *text;         /* return CODE TEXT|URL, expanded when written */
	bool file_error;          /* an error_page file answers this error status */
	bool listing;             /* fd is an autoindex page: no dates, tags, ranges */
	const char *note;         /* NULL, or an error-log line about this answer (a
	                             static buffer, valid until the next http_prepare) */
	uint64_t first, last;     /* byte range of the file to send */
	uint64_t offset;          /* next file byte to send */
	uint64_t remaining;       /* file bytes still to send */
	uint64_t body_bytes;      /* body bytes sent, for the log */
};

/*
 * Looks for the end of a request head in buf[0..len). `scanned` is how far
 * a previous call already looked (0 at first). Returns the head's length
 * including its blank line, or 0 if it is not complete yet.
 */
size_t http_head_end(const char *buf, size_t len, size_t scanned);

/*
 * Parses a complete head of `len` bytes (from http_head_end). Never fails:
 * a malformed head is reported in req->error.
 */
void http_parse_head(const char *buf, size_t len, struct http_request *req);

/*
 * The error for a head that reached `max` bytes without ending: 414 while
 * still in the request line, nginx's 400 "too large" page after it.
 */
void http_head_too_large(const char *buf, size_t len, struct http_request *req);

/*
 * Decides the answer to a well-formed request from an authorised client,
 * opening the file when there is one to send, or taking it from
 * site->cache. `keep_alive_allowed` is the server's consent (request
 * limits, shutdown). Whatever the outcome, end the response with
 * http_response_end().
 */
void http_prepare(struct http_response *resp, const struct http_request *req,
    const struct http_site *site, bool keep_alive_allowed);

/* Prepares an error page; `req` may be NULL when no head was parsed. */
void http_prepare_error(struct http_response *resp, const struct http_request *req,
    enum status status, const char *detail, bool keep_alive_allowed);

/*
 * Writes the status line, headers and, for error pages, the body into
 * out[0..cap), counting an error page's body in resp->body_bytes.
 * Returns the length, or 0 if it does not fit. A redirect's Location
 * %-escapes the query's 8-bit bytes, unless only their raw form (nginx's)
 * fits.
 */
size_t http_write_head(struct http_response *resp,
    const struct http_request *req, const struct http_endpoint *endpoint,
    time_t now, char *out, size_t cap);

/*
 * Consumes up to `len` bytes of a chunked body (sizes, extensions, data,
 * trailers), storing how many in *used. The skipper starts zeroed.
 */
enum skip_result http_chunked_skip(struct chunked_skipper *k, const char *p,
    size_t len, size_t *used);

/*
 * Releases what the response holds: closes its file, or gives the cached
 * one back. Safe to call twice.
 */
void http_response_end(struct http_response *resp);

/* The reason phrase nginx uses for a status. */
const char *http_reason(enum status status);

/* Content-Type for a file name, by extension. */
const char *http_content_type(const char *name, size_t len);

/*
 * Decodes %XX escapes in a path, merges "//" and resolves "." and "..".
 * Returns the length written to out (always starting with '/'), or -1 for
 * a bad escape, an encoded NUL, or a path climbing above the root.
 */
long http_normalize_path(const char *in, size_t len, char *out, size_t cap);

/* A header of nginx's add_header with a constant value. */
struct http_header {
	const char *name, *value;
	bool always;              /* on every answer, not only 200/206/301/304 */
};

#define HTTP_MAX_ADD_HEADERS 16

/* ---- per-path settings: nginx's location blocks (--nginx-conf) ---- */

#define HTTP_MAX_ACCESS 16        /* allow/deny lines in one location */
#define HTTP_MAX_ID_RULES 8       /* identity conditions in one location */
#define HTTP_MAX_ID_BRANCHES 16   /* alternatives in one condition's pattern */
#define HTTP_MAX_MAP_ENTRIES 32
#define HTTP_MAX_TRY 8            /* try_files entries */
#define HTTP_MAX_ERROR_PAGES 16   /* codes given an error_page */
#define HTTP_MAX_LOCATIONS 64     /* the server level included */
#define HTTP_MAX_INDEX 7          /* index names after the first */

/* How a location's path matches: "location = P", "location P", "location ^~ P". */
enum http_match { HTTP_MATCH_PREFIX, HTTP_MATCH_EXACT, HTTP_MATCH_NOREGEX };

/* allow/deny ADDRESS[/BITS] | all; the first that matches decides. */
struct http_access_rule {
	bool allow;
	unsigned char family;     /* 0: all, 4 or 6 */
	unsigned char bits;       /* of the prefix */
	unsigned char addr[16];
};

/*
 * A regular expression mtlsd can follow exactly: alternatives ("|") of
 * literal text where '.' is any character, each optionally anchored by
 * '^' and '$', matched anywhere in the subject, as PCRE does.
 */
struct http_pattern {
	const char *branch[HTTP_MAX_ID_BRANCHES];   /* the text, anchors taken off */
	bool start[HTTP_MAX_ID_BRANCHES], end[HTTP_MAX_ID_BRANCHES];
	int count;
	bool caseless;            /* ~*: ASCII letters in any case */
};

/* The client certificate's values an identity condition may read. */
enum http_id_var {
	ID_SUBJECT,               /* $ssl_client_s_dn */
	ID_MAP,                   /* a map over it, or over such a map */
};

/*
 * A map entry ~LEADCN=(?<CN>[^STOP]+) with the value $CN: the first
 * "CN=" that LEAD allows ('a': anywhere, also after an optional [/,];
 * '^': at the start or after ','; '/': after '/') and a character not in
 * STOP after it; the value is what follows, up to a STOP character.
 * Or ~^.*=(?<CN>.*)$ ('='): all after the last '='.
 */
struct http_cn_capture {
	char lead;                /* 0: not a capture */
	const char *stop;
};

/* map $ssl_client_s_dn $NAME { default V; "DN" V; ~REGEX V; }, in nginx's order. */
struct http_map {
	const struct http_map *source;  /* NULL: $ssl_client_s_dn, else a map of it */
	const char *key[HTTP_MAX_MAP_ENTRIES];      /* exact keys; NULL: pattern[] */
	struct http_pattern pattern[HTTP_MAX_MAP_ENTRIES];
	struct http_cn_capture cn[HTTP_MAX_MAP_ENTRIES];  /* instead of pattern */
	const char *value[HTTP_MAX_MAP_ENTRIES];
	int count;
	const char *fallback;     /* default, "" when none */
};

enum http_id_op { ID_EQ, ID_NE, ID_MATCH, ID_NO_MATCH, ID_TRUE, ID_FALSE };

/* if (VAR OP VALUE) { return CODE; } on the client certificate. */
struct http_id_rule {
	enum http_id_var var;
	const struct http_map *map;   /* ID_MAP */
	enum http_id_op op;
	const char *value;        /* ID_EQ, ID_NE */
	struct http_pattern pattern;  /* ID_MATCH, ID_NO_MATCH */
	int code;                 /* return CODE [TEXT|URL] inside */
	const char *text;
};

/* A types { } entry: the extension (any case) and its type. */
struct http_type {
	const char *ext, *type;
};

struct http_error_page {
	int code;
	int answer;               /* "=CODE": answered with it; 0: code itself */
	const char *uri;
};

/*
 * One location, or (the table's first entry) the server level that
 * requests matching none of them use. Every value is the one nginx's
 * inheritance gives the location; NULL/0 fields keep mtlsd's defaults.
 * Built at start-up, never changed while serving (but a reload opens
 * dir again, into dir_fd).
 */
struct http_location {
	const char *path;         /* "" for the server level */
	const char *where;        /* "FILE:LINE" of its block, for messages; may be NULL */
	size_t path_len;
	enum http_match match;
	const char *dir;          /* root, or alias, directory; NULL: the site's */
	bool alias;               /* dir stands for path, not for "/" */
	const char *alias_file;   /* an exact location aliasing a file: its name */
	int dir_fd;               /* dir opened by http_set_locations() */
	const char *index;        /* NULL: the site's */
	const char *index_more[HTTP_MAX_INDEX];     /* tried after it, in order */
	int index_more_count;
	const char *try_files[HTTP_MAX_TRY];  /* the last: "=CODE" or a URI */
	int try_count;
	int return_code;          /* 0: none */
	const char *return_text;  /* body or URL, with $host, $request_uri, $scheme */
	struct http_access_rule access[HTTP_MAX_ACCESS];
	int access_count;
	struct http_id_rule ident[HTTP_MAX_ID_RULES];   /* before access, in order */
	int ident_count;
	struct http_header headers[HTTP_MAX_ADD_HEADERS];
	int header_count;
	const char *charset;      /* NULL: none */
	int expires_kind;         /* 0: off, 1: seconds, 2: epoch, 3: max */
	long expires;             /* seconds from now, may be negative */
	const char *default_type; /* NULL: application/octet-stream */
	const struct http_type *types;        /* NULL: the built-in table */
	int type_count;
	struct http_error_page error_pages[HTTP_MAX_ERROR_PAGES];
	int error_page_count;
	bool internal;            /* reached by internal redirects only, else 404 */
	bool autoindex;           /* a directory without its index is listed */
};

/*
 * Start-up: the table requests are answered by; table[0] is the server
 * level, the others are tried by nginx's rules (exact match, then the
 * longest prefix). Opens each entry's dir. The table must outlive the
 * server. Without a call, every request is the server level's with
 * mtlsd's defaults. Returns 0, or -1 with the reason in why.
 */
int http_set_locations(struct http_location *table, size_t count, char *why,
    size_t why_len);

/*
 * Entries an autoindex listing holds at most (dotfiles not counted): a
 * bigger directory is answered 500 with resp->note saying so. The space is
 * allocated by http_set_locations() when a location lists directories.
 */
#define HTTP_LISTING_MAX 4096

/*
 * The directory descriptor of the table's entry i (for --sandbox): -1 when
 * it reads the site's root, -2 past the end.
 */
int http_location_dir(size_t i);

/* The entry of table[1..) a normalised path selects, or table[0]. */
const struct http_location *http_find_location(const char *path, size_t len);

/* Does the regular expression p (as in struct http_pattern) match s? */
bool http_pattern_match(const struct http_pattern *p, const char *s);

#define HTTP_DATE_SIZE 80

/* Formats an HTTP date (RFC 1123, GMT) into out[HTTP_DATE_SIZE]. */
void http_format_date(time_t t, char *out);

/* Parses an HTTP date; returns -1 when it is not one. */
time_t http_parse_date(const char *s, size_t len);

#endif
