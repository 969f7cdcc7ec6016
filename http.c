/*
 * http.c - request parsing, path resolution and responses for mtlsd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/openat2.h>
#endif

#include "filecache.h"
#include "http.h"
#include "x509.h"

#define MAX_PATH_BYTES HTTP_MAX_PATH

static const struct {
	enum status status;
	const char *reason;
} reasons[] = {
	{ S_OK, "OK" },
	{ S_NO_CONTENT, "No Content" },
	{ S_PARTIAL_CONTENT, "Partial Content" },
	{ S_MOVED_PERMANENTLY, "Moved Permanently" },
	{ S_FOUND, "Moved Temporarily" },
	{ S_SEE_OTHER, "See Other" },
	{ S_NOT_MODIFIED, "Not Modified" },
	{ S_TEMPORARY_REDIRECT, "Temporary Redirect" },
	{ S_PERMANENT_REDIRECT, "Permanent Redirect" },
	{ S_BAD_REQUEST, "Bad Request" },
	{ S_UNAUTHORIZED, "Unauthorized" },
	{ S_FORBIDDEN, "Forbidden" },
	{ S_NOT_FOUND, "Not Found" },
	{ S_METHOD_NOT_ALLOWED, "Not Allowed" },
	{ S_NOT_ACCEPTABLE, "Not Acceptable" },
	{ S_REQUEST_TIMEOUT, "Request Time-out" },
	{ S_CONFLICT, "Conflict" },
	{ S_GONE, "Gone" },
	{ S_PRECONDITION_FAILED, "Precondition Failed" },
	{ S_PAYLOAD_TOO_LARGE, "Request Entity Too Large" },
	{ S_URI_TOO_LONG, "Request-URI Too Large" },
	{ S_RANGE_NOT_SATISFIABLE, "Requested Range Not Satisfiable" },
	{ S_TOO_MANY_REQUESTS, "Too Many Requests" },
	{ S_INTERNAL_SERVER_ERROR, "Internal Server Error" },
	{ S_NOT_IMPLEMENTED, "Not Implemented" },
	{ S_BAD_GATEWAY, "Bad Gateway" },
	{ S_SERVICE_UNAVAILABLE, "Service Temporarily Unavailable" },
	{ S_GATEWAY_TIMEOUT, "Gateway Time-out" },
	{ S_VERSION_NOT_SUPPORTED, "HTTP Version Not Supported" },
};

/*
 * nginx 1.22's mime.types, and the types the issue asks for that it lacks.
 * Extensions are compared in any case.
 */
static const struct {
	const char *type;
	const char *exts;     /* space-separated */
} mime_types[] = {
	{ "text/html", "html htm shtml" },
	{ "text/css", "css" },
	{ "text/xml", "xml" },
	{ "image/gif", "gif" },
	{ "image/jpeg", "jpeg jpg" },
	{ "application/javascript", "js" },
	{ "application/atom+xml", "atom" },
	{ "application/rss+xml", "rss" },
	{ "text/mathml", "mml" },
	{ "text/plain", "txt" },
	{ "text/vnd.sun.j2me.app-descriptor", "jad" },
	{ "text/vnd.wap.wml", "wml" },
	{ "text/x-component", "htc" },
	{ "image/avif", "avif" },
	{ "image/png", "png" },
	{ "image/svg+xml", "svg svgz" },
	{ "image/tiff", "tif tiff" },
	{ "image/vnd.wap.wbmp", "wbmp" },
	{ "image/webp", "webp" },
	{ "image/x-icon", "ico" },
	{ "image/x-jng", "jng" },
	{ "image/x-ms-bmp", "bmp" },
	{ "font/woff", "woff" },
	{ "font/woff2", "woff2" },
	{ "application/java-archive", "jar war ear" },
	{ "application/json", "json" },
	{ "application/mac-binhex40", "hqx" },
	{ "application/msword", "doc" },
	{ "application/pdf", "pdf" },
	{ "application/postscript", "ps eps ai" },
	{ "application/rtf", "rtf" },
	{ "application/vnd.apple.mpegurl", "m3u8" },
	{ "application/vnd.google-earth.kml+xml", "kml" },
	{ "application/vnd.google-earth.kmz", "kmz" },
	{ "application/vnd.ms-excel", "xls" },
	{ "application/vnd.ms-fontobject", "eot" },
	{ "application/vnd.ms-powerpoint", "ppt" },
	{ "application/vnd.oasis.opendocument.graphics", "odg" },
	{ "application/vnd.oasis.opendocument.presentation", "odp" },
	{ "application/vnd.oasis.opendocument.spreadsheet", "ods" },
	{ "application/vnd.oasis.opendocument.text", "odt" },
	{ "application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx" },
	{ "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx" },
	{ "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx" },
	{ "application/vnd.wap.wmlc", "wmlc" },
	{ "application/wasm", "wasm" },
	{ "application/x-7z-compressed", "7z" },
	{ "application/x-cocoa", "cco" },
	{ "application/x-java-archive-diff", "jardiff" },
	{ "application/x-java-jnlp-file", "jnlp" },
	{ "application/x-makeself", "run" },
	{ "application/x-perl", "pl pm" },
	{ "application/x-pilot", "prc pdb" },
	{ "application/x-rar-compressed", "rar" },
	{ "application/x-redhat-package-manager", "rpm" },
	{ "application/x-sea", "sea" },
	{ "application/x-shockwave-flash", "swf" },
	{ "application/x-stuffit", "sit" },
	{ "application/x-tcl", "tcl tk" },
	{ "application/x-x509-ca-cert", "der pem crt" },
	{ "application/x-xpinstall", "xpi" },
	{ "application/xhtml+xml", "xhtml" },
	{ "application/xspf+xml", "xspf" },
	{ "application/zip", "zip" },
	{ "audio/midi", "mid midi kar" },
	{ "audio/mpeg", "mp3" },
	{ "audio/ogg", "ogg" },
	{ "audio/x-m4a", "m4a" },
	{ "audio/x-realaudio", "ra" },
	{ "video/3gpp", "3gpp 3gp" },
	{ "video/mp2t", "ts" },
	{ "video/mp4", "mp4" },
	{ "video/mpeg", "mpeg mpg" },
	{ "video/quicktime", "mov" },
	{ "video/webm", "webm" },
	{ "video/x-flv", "flv" },
	{ "video/x-m4v", "m4v" },
	{ "video/x-mng", "mng" },
	{ "video/x-ms-asf", "asx asf" },
	{ "video/x-ms-wmv", "wmv" },
	{ "video/x-msvideo", "avi" },
	{ "application/octet-stream", "bin exe dll deb dmg iso img msi msp msm" },
	/* not in nginx 1.22's mime.types */
	{ "application/javascript", "mjs" },
	{ "font/ttf", "ttf" },
	{ "application/gzip", "gz" },
	{ "application/x-tar", "tar" },
};

const char *
http_reason(enum status status)
{
	size_t i;

	for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

/* Is `ext` (ext_len bytes) one of the space-separated words of `list`? */
static bool
ext_in_list(const char *list, const char *ext, size_t ext_len)
{
	while (*list) {
		size_t n = strcspn(list, " ");

		if (n == ext_len && strncasecmp(list, ext, n) == 0)
			return true;
		list += n;
		list += *list == ' ';
	}
	return false;
}

/*
 * The extension is what follows the last dot of the last segment, as for
 * nginx, which does not see one when only dots come before that dot
 * ("/.txt"). Returns NULL when there is none.
 */
static const char *
file_extension(const char *name, size_t len, size_t *ext_len)
{
	const char *dot = NULL, *seg = name;
	size_t i;

	for (i = len; i > 0; i--) {
		if (name[i - 1] == '/') {
			seg = name + i;
			break;
		}
		if (name[i - 1] == '.' && !dot)
			dot = name + i;
	}
	if (dot) {
		while (seg < dot - 1 && *seg == '.')
			seg++;
		if (seg == dot - 1)
			dot = NULL;
	}
	if (dot)
		*ext_len = (size_t)(name + len - dot);
	return dot;
}

/* The built-in table's type, or NULL. */
static const char *
builtin_type(const char *name, size_t len)
{
	size_t i, ext_len = 0;
	const char *dot = file_extension(name, len, &ext_len);

	if (dot)
		for (i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
			if (ext_len > 0 && ext_in_list(mime_types[i].exts, dot, ext_len))
				return mime_types[i].type;
	return NULL;
}

const char *
http_content_type(const char *name, size_t len)
{
	const char *type = builtin_type(name, len);

	return type ? type : "application/octet-stream";
}

/* The type a location gives a file: its types { } or the built-in table, then its default_type. */
static const char *
location_type(const struct http_location *loc, const char *name, size_t len)
{
	size_t i, ext_len = 0;
	const char *dot, *type = NULL;

	if (!loc->types) {
		type = builtin_type(name, len);
	} else if ((dot = file_extension(name, len, &ext_len)) && ext_len > 0) {
		for (i = 0; i < (size_t)loc->type_count && !type; i++)
			if (strlen(loc->types[i].ext) == ext_len
			    && strncasecmp(loc->types[i].ext, dot, ext_len) == 0)
				type = loc->types[i].type;
	}
	if (type)
		return type;
	return loc->default_type ? loc->default_type : "application/octet-stream";
}

/* ---- dates ---- */

static const char day_names[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char month_names[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

void
http_format_date(time_t t, char *out)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, HTTP_DATE_SIZE, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int
month_index(const char *s)
{
	int i;

	for (i = 0; i < 12; i++)
		if (strncmp(s, month_names[i], 3) == 0)
			return i;
	return -1;
}

time_t
http_parse_date(const char *s, size_t len)
{
	char buf[64];
	char wday[16], mon[4];
	int day, year, hour, min, sec, m, n = 0;

	if (len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	/* RFC 1123, RFC 850, then asctime, as HTTP/1.1 requires. */
	if (sscanf(buf, "%15[A-Za-z], %2d %3s %4d %2d:%2d:%2d GMT%n",
	        wday, &day, mon, &year, &hour, &min, &sec, &n) == 7 && n == (int)len) {
	} else if (n = 0, sscanf(buf, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n",
	        wday, &day, mon, &year, &hour, &min, &sec, &n) == 7 && n == (int)len) {
		year += year < 70 ? 2000 : 1900;
	} else if (n = 0, sscanf(buf, "%15[A-Za-z] %3s %2d %2d:%2d:%2d %4d%n",
	        wday, mon, &day, &hour, &min, &sec, &year, &n) == 7 && n == (int)len) {
	} else {
		return -1;
	}
	if ((m = month_index(mon)) < 0 || day < 1 || day > 31 || hour > 23
	    || min > 59 || sec > 60 || year < 1970)
		return -1;
	return (time_t)(days_since_epoch(year, m + 1, day) * 86400LL
	    + hour * 3600 + min * 60 + sec);
}

/* ---- request heads ---- */

size_t
http_head_end(const char *buf, size_t len, size_t scanned)
{
	size_t i = scanned > 2 ? scanned - 2 : 0;
	const char *nl;

	while (i < len && (nl = memchr(buf + i, '\n', len - i))) {
		size_t after = (size_t)(nl - buf) + 1;

		if (after < len && buf[after] == '\n')
			return after + 1;
		if (after + 1 < len && buf[after] == '\r' && buf[after + 1] == '\n')
			return after + 2;
		i = after;
	}
	return 0;
}

/* Header names nginx understands; a line with other printable bytes in
 * its name is ignored, as nginx's ignore_invalid_headers does. */
static bool
is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c == '-';
}

static bool
text_is(struct text t, const char *s)
{
	return t.len == strlen(s) && strncasecmp(t.p, s, t.len) == 0;
}

/* Reads one line; returns its content length, sets *next past its end. */
static bool
next_line(const char *buf, size_t len, size_t *pos, struct text *line)
{
	const char *nl = memchr(buf + *pos, '\n', len - *pos);
	size_t end;

	if (!nl)
		return false;
	end = (size_t)(nl - buf);
	line->p = buf + *pos;
	line->len = end - *pos;
	if (line->len > 0 && line->p[line->len - 1] == '\r')
		line->len--;
	*pos = end + 1;
	return true;
}

static void
set_error(struct http_request *req, enum status status, const char *detail)
{
	if (req->error == S_NONE) {
		req->error = status;
		req->error_detail = detail;
	}
}

static bool
parse_number(const char *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 18)
		return false;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * "HTTP/" MAJOR "." MINOR, read as nginx does: a major version that starts
 * with 0 is 400, one past 1 is 505 as soon as it shows (even with no minor
 * version after it), a minor version has at most three digits.
 */
static void
parse_version(struct http_request *req, struct text v)
{
	const char *p = v.p + 5, *end = v.p + v.len;
	int major, minor;

	if (v.len < 6 || strncmp(v.p, "HTTP/", 5) != 0 || *p < '1' || *p > '9') {
		set_error(req, S_BAD_REQUEST, NULL);
		return;
	}
	major = *p++ - '0';
	for (;;) {
		if (major > 1) {
			req->version_major = major;
			set_error(req, S_VERSION_NOT_SUPPORTED, NULL);
			return;
		}
		if (p == end || *p < '0' || *p > '9')
			break;
		major = major * 10 + (*p++ - '0');
	}
	if (p == end || *p++ != '.' || p == end) {
		set_error(req, S_BAD_REQUEST, NULL);
		return;
	}
	for (minor = 0; p < end; p++) {
		if (*p < '0' || *p > '9' || minor > 99) {
			set_error(req, S_BAD_REQUEST, NULL);
			return;
		}
		minor = minor * 10 + (*p - '0');
	}
	req->version_major = major;
	req->version_minor = minor;
}

/*
 * nginx's Host check: no "..", '/', space or control byte; the port and a
 * trailing dot are not part of the name. Returns the name's length, 0 for
 * a host nginx refuses.
 */
static size_t
host_name_length(struct text h)
{
	size_t i, name_len = h.len, last_dot = h.len;
	enum { H_NAME, H_LITERAL, H_PORT } state = H_NAME;

	for (i = 0; i < h.len; i++) {
		unsigned char c = (unsigned char)h.p[i];

		switch (c) {
		case '.':
			if (i > 0 && last_dot == i - 1)
				return 0;
			last_dot = i;
			break;
		case ':':
			if (state == H_NAME) {
				name_len = i;
				state = H_PORT;
			}
			break;
		case '[':
			if (i == 0)
				state = H_LITERAL;
			break;
		case ']':
			if (state == H_LITERAL) {
				name_len = i + 1;
				state = H_PORT;
			}
			break;
		default:
			if (c == '/' || c <= 0x20 || c == 0x7f)
				return 0;
			break;
		}
	}
	if (name_len > 0 && last_dot == name_len - 1)
		name_len--;
	return name_len;
}

/* Length of an absolute-form target's "scheme://", any scheme as nginx; or 0. */
static size_t
scheme_length(struct text t)
{
	size_t i;

	for (i = 0; i < t.len; i++) {
		char c = t.p[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			continue;
		if (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
			continue;
		break;
	}
	if (i == 0 || t.len - i < 3 || memcmp(t.p + i, "://", 3) != 0)
		return 0;
	return i + 3;
}

/*
 * Splits an origin-form or absolute-form target into host, path and query.
 * The path ends at '?' or '#', the query at '#': a fragment is dropped, as
 * nginx does.
 */
static void
parse_target(struct http_request *req)
{
	struct text t = req->target;
	const char *slash;
	size_t skip, i;

	if ((skip = scheme_length(t)) > 0) {
		t.p += skip;
		t.len -= skip;
		slash = memchr(t.p, '/', t.len);
		req->host.p = t.p;
		req->host.len = slash ? (size_t)(slash - t.p) : t.len;
		if (host_name_length(req->host) == 0) {
			set_error(req, S_BAD_REQUEST, NULL);
			return;
		}
		if (!slash) {
			req->path.p = "/";
			req->path.len = 1;
			return;
		}
		t.len -= (size_t)(slash - t.p);
		t.p = slash;
	}
	if (t.len == 0 || t.p[0] != '/') {
		set_error(req, S_BAD_REQUEST, NULL);
		return;
	}
	req->path = t;
	for (i = 0; i < t.len && t.p[i] != '?' && t.p[i] != '#'; i++)
		;
	req->path.len = i;
	if (i < t.len && t.p[i] == '?') {
		req->query.p = t.p + i + 1;
		while (i < t.len && t.p[i] != '#')
			i++;
		req->query.len = (size_t)(t.p + i - req->query.p);
	}
}

static void
parse_request_line(struct http_request *req, struct text line)
{
	const char *p = line.p, *end = line.p + line.len, *sp;
	struct text method, version;
	size_t i;

	req->line = line;
	if (!(sp = memchr(p, ' ', line.len))) {
		set_error(req, S_BAD_REQUEST, NULL);
		return;
	}
	method.p = p;
	method.len = (size_t)(sp - p);
	for (i = 0; i < method.len; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || p[i] == '_' || p[i] == '-'))
			break;
	if (method.len == 0 || i != method.len) {
		set_error(req, S_BAD_REQUEST, NULL);
		return;
	}
	if (method.len == 3 && memcmp(method.p, "GET", 3) == 0)
		req->method = M_GET;
	else if (method.len == 4 && memcmp(method.p, "HEAD", 4) == 0)
		req->method = M_HEAD;
	else if (method.len == 5 && memcmp(method.p, "TRACE", 5) == 0)
		req->method = M_TRACE;
	else
		req->method = M_OTHER;
	for (p = sp; p < end && *p == ' '; p++)
		;
	req->target.p = p;
	while (p < end && *p != ' ') {
		if ((unsigned char)*p < 0x21 || *p == 0x7f) {
			set_error(req, S_BAD_REQUEST, NULL);
			return;
		}
		p++;
	}
	req->target.len = (size_t)(p - req->target.p);
	while (p < end && *p == ' ')
		p++;
	version.p = p;
	version.len = (size_t)(end - p);
	while (version.len > 0 && version.p[version.len - 1] == ' ')
		version.len--;
	if (req->target.len == 0 || version.len == 0) {
		set_error(req, S_BAD_REQUEST, NULL);
		return;
	}
	parse_version(req, version);
	if (req->error == S_NONE)
		parse_target(req);
}

/* Connection: a comma-separated list of tokens. */
static void
parse_connection(struct text v, bool *close, bool *keep)
{
	size_t i = 0;

	while (i < v.len) {
		struct text tok;

		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
			i++;
		tok.p = v.p + i;
		while (i < v.len && v.p[i] != ',' && v.p[i] != ' ' && v.p[i] != '\t')
			i++;
		tok.len = (size_t)(v.p + i - tok.p);
		if (text_is(tok, "close"))
			*close = true;
		else if (text_is(tok, "keep-alive"))
			*keep = true;
	}
}

struct header_state {
	bool seen_host, seen_length, seen_te, te_chunked;
	bool conn_close, conn_keep;
};

static void
parse_header(struct http_request *req, struct header_state *hs, struct text line)
{
	const char *colon;
	struct text name, value;
	size_t i;
	uint64_t length = 0;
	bool ignored;

	if (line.p[0] == ' ' || line.p[0] == '\t') {
		set_error(req, S_BAD_REQUEST, NULL);   /* obsolete folding */
		return;
	}
	if (!(colon = memchr(line.p, ':', line.len))) {
		set_error(req, S_BAD_REQUEST, NULL);
		return;
	}
	name.p = line.p;
	name.len = (size_t)(colon - line.p);
	if (name.len == 0) {
		set_error(req, S_BAD_REQUEST, NULL);
		return;
	}
	ignored = false;
	for (i = 0; i < name.len; i++) {
		unsigned char c = (unsigned char)name.p[i];

		if (c <= 0x20 || c == 0x7f) {
			set_error(req, S_BAD_REQUEST, NULL);
			return;
		}
		if (!is_name_char(c))
			ignored = true;
	}
	if (ignored)
		return;
	/*
	 * Values may hold any byte but NUL and CR (refused for the line). As
	 * nginx, only spaces around a value are dropped: a tab is part of it,
	 * so "Transfer-Encoding:<TAB>chunked" is an unknown coding (501).
	 */
	value.p = colon + 1;
	value.len = line.len - name.len - 1;
	while (value.len > 0 && value.p[0] == ' ') {
		value.p++;
		value.len--;
	}
	while (value.len > 0 && value.p[value.len - 1] == ' ')
		value.len--;

	if (text_is(name, "Host")) {
		if (hs->seen_host || host_name_length(value) == 0)
			set_error(req, S_BAD_REQUEST, NULL);
		hs->seen_host = true;
		if (req->host.len == 0)
			req->host = value;
	} else if (text_is(name, "Connection")) {
		parse_connection(value, &hs->conn_close, &hs->conn_keep);
	} else if (text_is(name, "User-Agent")) {
		req->user_agent = value;
	} else if (text_is(name, "Referer")) {
		req->referer = value;
	} else if (text_is(name, "Range")) {
		req->range = value;
	} else if (text_is(name, "If-Range")) {
		req->if_range = value;
	} else if (text_is(name, "If-None-Match")) {
		req->if_none_match = value;
	} else if (text_is(name, "If-Modified-Since")) {
		req->if_modified_since = value;
	} else if (text_is(name, "If-Match")) {
		req->if_match = value;
	} else if (text_is(name, "If-Unmodified-Since")) {
		req->if_unmodified_since = value;
	} else if (text_is(name, "Content-Length")) {
		if (hs->seen_length || !parse_number(value.p, value.len, &length))
			set_error(req, S_BAD_REQUEST, NULL);
		else if (length > 0)
			req->has_body = true;
		req->content_length = length;
		hs->seen_length = true;
	} else if (text_is(name, "Transfer-Encoding")) {
		if (hs->seen_te)
			set_error(req, S_BAD_REQUEST, NULL);   /* nginx: duplicate */
		hs->seen_te = true;
		hs->te_chunked = text_is(value, "chunked");
		req->has_body = true;
		req->chunked = true;
	} else if (text_is(name, "Expect")) {
		/* An HTTP/1.0 client's expectation is ignored (RFC 9110, 10.1.1). */
		req->expects_continue = req->version_minor >= 1
		    && text_is(value, "100-continue");
	}
}

void
http_parse_head(const char *buf, size_t len, struct http_request *req)
{
	struct header_state hs = { 0 };
	struct text line;
	size_t pos = 0;

	memset(req, 0, sizeof *req);
	/* Empty lines before a request are tolerated, as nginx does. */
	while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n'))
		pos++;
	if (!next_line(buf, len, &pos, &line) || line.len == 0) {
		set_error(req, S_BAD_REQUEST, NULL);
		return;
	}
	if (memchr(line.p, '\r', line.len) || memchr(line.p, '\0', line.len)) {
		req->line = line;
		set_error(req, S_BAD_REQUEST, NULL);
		return;
	}
	parse_request_line(req, line);
	while (next_line(buf, len, &pos, &line) && line.len > 0) {
		if (memchr(line.p, '\0', line.len) || memchr(line.p, '\r', line.len))
			set_error(req, S_BAD_REQUEST, NULL);
		else if (req->error == S_NONE)
			parse_header(req, &hs, line);
	}
	if (req->error != S_NONE)
		return;
	/* nginx's order: Host, then Transfer-Encoding. */
	if (req->version_minor >= 1 && !hs.seen_host)
		set_error(req, S_BAD_REQUEST, NULL);
	if (hs.seen_te) {
		if (req->version_minor < 1)
			set_error(req, S_BAD_REQUEST, NULL);
		else if (!hs.te_chunked)
			set_error(req, S_NOT_IMPLEMENTED, NULL);
		else if (hs.seen_length)
			set_error(req, S_BAD_REQUEST, NULL);   /* request smuggling */
	}
	if (req->version_minor >= 1)
		req->keep_alive = !hs.conn_close;
	else
		req->keep_alive = hs.conn_keep && !hs.conn_close;
}

void
http_head_too_large(const char *buf, size_t len, struct http_request *req)
{
	size_t pos = 0;

	memset(req, 0, sizeof *req);
	while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n'))
		pos++;
	/* The method is known: a HEAD gets the error's headers only. */
	if (len - pos > 5 && memcmp(buf + pos, "HEAD ", 5) == 0)
		req->method = M_HEAD;
	if (!memchr(buf + pos, '\n', len - pos)) {
		req->line.p = buf + pos;
		req->line.len = 0;
		set_error(req, S_URI_TOO_LONG, NULL);
	} else {
		struct text line;

		next_line(buf, len, &pos, &line);
		req->line = line;
		set_error(req, S_BAD_REQUEST, DETAIL_HEADER_TOO_LARGE);
	}
}

/* ---- paths ---- */

long
http_normalize_path(const char *in, size_t len, char *out, size_t cap)
{
	size_t i, n = 0, o;

	if (len == 0 || in[0] != '/' || len + 1 > cap)
		return -1;
	/* Decode first: "%2e%2e" must climb exactly like "..". */
	for (i = 0; i < len; i++) {
		char c = in[i];

		if (c == '%') {
			int hi = i + 2 < len ? hex_digit(in[i + 1]) : -1;
			int lo = hi >= 0 ? hex_digit(in[i + 2]) : -1;

			if (lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			return -1;
		out[n++] = c;
	}
	/* Then resolve segments in place: output never outruns input. */
	o = 1;
	i = 0;
	while (i < n) {
		size_t start, seg_len;

		while (i < n && out[i] == '/')
			i++;
		start = i;
		while (i < n && out[i] != '/')
			i++;
		seg_len = i - start;
		if (seg_len == 0 || (seg_len == 1 && out[start] == '.'))
			continue;
		if (seg_len == 2 && out[start] == '.' && out[start + 1] == '.') {
			if (o == 1)
				return -1;
			o--;
			while (out[o - 1] != '/')
				o--;
			continue;
		}
		memmove(out + o, out + start, seg_len);
		o += seg_len;
		if (i < n)
			out[o++] = '/';
	}
	out[o] = '\0';
	return (long)o;
}

/* ---- opening files beneath the root ---- */

/*
 * Opens `rel` (normalised, no "." or ".." segments) under root_fd without
 * ever leaving it. openat2(RESOLVE_BENEATH) lets symlinks inside the root
 * work; where the kernel lacks it, every symlink is refused instead.
 */
static int
open_walk(int root_fd, const char *rel, int flags)
{
	char buf[MAX_PATH_BYTES + 256];
	char *comp, *slash;
	int dir = root_fd, fd;
	size_t len = strlen(rel);

	if (len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, rel, len + 1);
	if (len > 1 && buf[len - 1] == '/') {
		buf[len - 1] = '\0';
		flags |= O_DIRECTORY;
	}
	comp = buf;
	while ((slash = strchr(comp, '/'))) {
		*slash = '\0';
		fd = openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dir != root_fd)
			close(dir);
		if (fd < 0)
			return -1;
		dir = fd;
		comp = slash + 1;
	}
	fd = openat(dir, comp, flags | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP)
		errno = EXDEV;  /* a refused symlink, not a loop: 404 like the others */
	if (dir != root_fd) {
		int saved = errno;

		close(dir);
		errno = saved;
	}
	return fd;
}

static int
open_beneath(int root_fd, const char *rel, int flags)
{
#if defined(__linux__) && defined(SYS_openat2)
	static bool openat2_missing;

	if (!openat2_missing) {
		struct open_how how;
		int fd;

		memset(&how, 0, sizeof how);
		how.flags = (uint64_t)flags;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
		fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		openat2_missing = true;
	}
#endif
	return open_walk(root_fd, rel, flags);
}

static enum status
status_for_errno(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
	case ELOOP:     /* a symlink loop: nginx's 403 */
		return S_FORBIDDEN;
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG:
	case EXDEV:     /* a path that would leave the root */
	case ENXIO:     /* a unix socket: not a file to serve */
	case ENODEV:
		return S_NOT_FOUND;
	default:
		return S_INTERNAL_SERVER_ERROR;
	}
}

/* ---- conditional requests and ranges ---- */

struct writer {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void
put(struct writer *w, const char *s, size_t len)
{
	if (w->overflow || len > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	memcpy(w->p + w->len, s, len);
	w->len += len;
}

/* A number in base 10 or 16, without printf. */
static void
put_number(struct writer *w, uint64_t v, unsigned base)
{
	char digits[24];
	size_t i = sizeof digits;

	do {
		digits[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v > 0);
	put(w, digits + i, sizeof digits - i);
}

static size_t
format_etag(const struct http_response *r, char *out, size_t cap)
{
	struct writer w = { out, 0, cap, false };

	put(&w, "\"", 1);
	put_number(&w, (uint64_t)r->mtime, 16);
	put(&w, "-", 1);
	put_number(&w, r->size, 16);
	put(&w, "\"", 1);
	return w.overflow ? 0 : w.len;
}

/*
 * If-None-Match (weak comparison) and If-Match (strong), as nginx reads
 * them: "*" alone, or a list of tags, each optionally W/ when weak.
 */
static bool
etag_list_matches(struct text list, const char *etag, size_t etag_len, bool weak)
{
	const char *p = list.p, *end = list.p + list.len;

	if (list.len == 1 && list.p[0] == '*')
		return true;
	while (p < end) {
		if (weak && end - p > 2 && p[0] == 'W' && p[1] == '/')
			p += 2;
		if ((size_t)(end - p) < etag_len)
			return false;
		if (memcmp(p, etag, etag_len) == 0) {
			p += etag_len;
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			if (p == end || *p == ',')
				return true;
		}
		while (p < end && *p != ',')
			p++;
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
	}
	return false;
}

/* If-Unmodified-Since and If-Match: false means 412, as nginx. */
static bool
preconditions_hold(const struct http_response *r, const struct http_request *req)
{
	char etag[48];
	size_t etag_len = format_etag(r, etag, sizeof etag);

	/* An unreadable date is -1, earlier than any file: 412, as nginx. */
	if (req->if_unmodified_since.len > 0 && http_parse_date(req->if_unmodified_since.p,
	    req->if_unmodified_since.len) < r->mtime)
		return false;
	if (req->if_match.len > 0 && !etag_list_matches(req->if_match, etag, etag_len, false))
		return false;
	return true;
}

static bool
not_modified(const struct http_response *r, const struct http_request *req)
{
	char etag[48];
	size_t etag_len = format_etag(r, etag, sizeof etag);

	if (req->if_none_match.len == 0 && req->if_modified_since.len == 0)
		return false;
	if (req->if_modified_since.len > 0 && http_parse_date(req->if_modified_since.p,
	    req->if_modified_since.len) != r->mtime)
		return false;
	if (req->if_none_match.len > 0 && !etag_list_matches(req->if_none_match,
	    etag, etag_len, true))
		return false;
	return true;
}

/* If-Range: the range applies only to the representation the client has. */
static bool
if_range_holds(const struct http_response *r, const struct http_request *req)
{
	char etag[48];
	size_t etag_len;

	if (req->if_range.len == 0)
		return true;
	if (req->if_range.p[0] == '"') {
		etag_len = format_etag(r, etag, sizeof etag);
		return req->if_range.len == etag_len
		    && memcmp(req->if_range.p, etag, etag_len) == 0;
	}
	return http_parse_date(req->if_range.p, req->if_range.len) == r->mtime;
}

/* Reads decimal digits into *v; false past INT64_MAX (nginx's off_t). */
static bool
range_number(const char **p, const char *end, uint64_t *v)
{
	*v = 0;
	while (*p < end && **p >= '0' && **p <= '9') {
		uint64_t d = (uint64_t)(**p - '0');

		if (*v > ((uint64_t)INT64_MAX - d) / 10)
			return false;
		*v = *v * 10 + d;
		(*p)++;
	}
	return true;
}

/*
 * Applies a Range header to a 200 answer by nginx's rules: "bytes=" in any
 * case; ranges whose start is past their end are skipped; none left is
 * 416, unless one started at 0 (an empty file) which gives 200. One range
 * gives 206; several get the whole file (nginx sends multipart/byteranges).
 */
static void
apply_range(struct http_response *r, struct text range)
{
	const char *p = range.p + 6, *end = range.p + range.len;
	uint64_t size = r->size, total = 0, first = 0, last = 0;
	unsigned count = 0;

	if (range.len < 7 || strncasecmp(range.p, "bytes=", 6) != 0)
		return;
	for (;;) {
		uint64_t start = 0, stop = 0;   /* stop is exclusive */
		bool suffix = false, open_end = false;

		while (p < end && *p == ' ')
			p++;
		if (p < end && *p == '-') {
			suffix = true;
			p++;
		} else {
			if (p == end || *p < '0' || *p > '9' || !range_number(&p, end, &start))
				goto unsatisfiable;
			while (p < end && *p == ' ')
				p++;
			if (p == end || *p++ != '-')
				goto unsatisfiable;
			while (p < end && *p == ' ')
				p++;
			open_end = p == end || *p == ',';
		}
		if (open_end) {
			stop = size;
		} else {
			if (p == end || *p < '0' || *p > '9' || !range_number(&p, end, &stop))
				goto unsatisfiable;
			while (p < end && *p == ' ')
				p++;
			if (p < end && *p != ',')
				goto unsatisfiable;
			if (suffix) {
				start = stop < size ? size - stop : 0;
				stop = size;
			} else {
				stop = stop >= size ? size : stop + 1;
			}
		}
		if (start < stop) {
			if (count++ == 0) {
				first = start;
				last = stop - 1;
			}
			total += stop - start;
		} else if (start == 0) {
			return;
		}
		if (p == end)
			break;
		p++;    /* the comma */
	}
	if (count == 0)
		goto unsatisfiable;
	if (count > 1 || total > size)
		return;
	r->status = S_PARTIAL_CONTENT;
	r->has_range = true;
	r->first = first;
	r->last = last;
	return;
unsatisfiable:
	r->status = S_RANGE_NOT_SATISFIABLE;
	r->has_range = true;
}

/* ---- deciding a response ---- */

static void
set_status(struct http_response *r, enum status status, const char *detail)
{
	r->status = status;
	r->detail = detail;
	/* nginx closes after these; the stream may be out of step. */
	switch (status) {
	case S_BAD_REQUEST:
	case S_REQUEST_TIMEOUT:
	case S_PRECONDITION_FAILED:     /* nginx closes, though it says keep-alive */
	case S_PAYLOAD_TOO_LARGE:
	case S_URI_TOO_LONG:
	case S_INTERNAL_SERVER_ERROR:
	case S_NOT_IMPLEMENTED:
	case S_VERSION_NOT_SUPPORTED:
		r->keep_alive = false;
		break;
	default:
		break;
	}
}

static void
reset_response(struct http_response *r, const struct http_request *req,
    bool keep_alive_allowed)
{
	memset(r, 0, sizeof *r);
	r->fd = -1;
	/*
	 * A body is skipped after the answer so the next request can follow,
	 * unless the client waits for "100 Continue" before sending it and
	 * does not get it (http_prepare sends it with a file).
	 */
	r->keep_alive = req && req->keep_alive && keep_alive_allowed
	    && !(req->has_body && req->expects_continue);
	r->head_only = req && req->method == M_HEAD;
}

void
http_prepare_error(struct http_response *resp, const struct http_request *req,
    enum status status, const char *detail, bool keep_alive_allowed)
{
	reset_response(resp, req, keep_alive_allowed);
	set_status(resp, status, detail);
}

/* ---- directory listings: nginx's autoindex ---- */

/* The width of the names' column in nginx's page. */
#define LISTING_COLUMN 50

#define PUT_LIT(w, s) put((w), (s), sizeof(s) - 1)

struct listing_entry {
	const char *name;
	size_t len;
	bool dir;
	time_t mtime;
	int64_t size;
};

/*
 * Room for HTTP_LISTING_MAX entries and their names, allocated once by
 * http_set_locations() when a location lists directories; a listing is
 * made in one go, so one area serves every request.
 */
static struct listing_entry *listing_entries;
static char (*listing_names)[256];
static char listing_note[600];

/* What a listing is made for. */
struct listing_ask {
	const char *uri;          /* its title: the URI, decoded, with its '/' */
	size_t uri_len;
	bool utf8;                /* charset utf-8: names are cut by characters */
};

/*
 * The length of the UTF-8 character at s[0..n) (its first byte 0x80 or
 * above) as nginx decodes one, or 0 when it is not one: a lead byte from
 * 0xc2, continuation bytes from 0x80, no overlong form, at most U+10FFFF.
 */
static size_t
listing_utf8_char(const unsigned char *s, size_t n)
{
	uint32_t u = s[0], min;
	size_t len, i;

	if (u >= 0xf0) {
		u &= 0x07;
		min = 0x10000;
		len = 4;
	} else if (u >= 0xe0) {
		u &= 0x0f;
		min = 0x800;
		len = 3;
	} else if (u >= 0xc2) {
		u &= 0x1f;
		min = 0x80;
		len = 2;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if (s[i] < 0x80)
			return 0;
		u = (u << 6) | (s[i] & 0x3f);
	}
	return u >= min && u <= 0x10ffff ? len : 0;
}

/* Characters in s[0..n), or n when it is not all UTF-8 (nginx's rule). */
static size_t
listing_utf8_length(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, chars = 0, k;

	while (i < n) {
		k = u[i] < 0x80 ? 1 : listing_utf8_char(u + i, n - i);
		if (k == 0)
			return n;
		i += k;
		chars++;
	}
	return chars;
}

/* <, >, & and " as HTML entities, as nginx's ngx_escape_html. */
static void
put_html(struct writer *w, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '<': PUT_LIT(w, "&lt;"); break;
		case '>': PUT_LIT(w, "&gt;"); break;
		case '&': PUT_LIT(w, "&amp;"); break;
		case '"': PUT_LIT(w, "&quot;"); break;
		default: put(w, s + i, 1); break;
		}
	}
}

/* All but letters, digits, "-", ".", "_" and "~" as %XX (nginx's URI component). */
static void
put_uri_component(struct writer *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char esc[3] = { '%', 0, 0 };
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
		    || c == '~') {
			put(w, s + i, 1);
		} else {
			esc[1] = hex[c >> 4];
			esc[2] = hex[c & 15];
			put(w, esc, 3);
		}
	}
}

/* A number right-aligned in `width` columns. */
static void
put_padded(struct writer *w, uint64_t v, size_t width, char pad)
{
	char digits[24];
	size_t i = sizeof digits;

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (width > sizeof digits - i && width-- > 0)
		put(w, &pad, 1);
	put(w, digits + i, sizeof digits - i);
}

/*
 * One line of nginx's page: the name %-escaped in the link and
 * HTML-escaped in the text, which is cut to 47 columns and "..>" when
 * longer than 50 (columns are characters with charset utf-8, else bytes;
 * a directory gets a '/' where it fits) and padded to 50; then the date
 * (GMT) and the size, or "-" for a directory.
 */
static void
put_listing_line(struct writer *w, const struct listing_entry *e, bool utf8)
{
	size_t cols = utf8 ? listing_utf8_length(e->name, e->len) : e->len;
	size_t shown, want, k;
	struct tm tm;

	PUT_LIT(w, "<a href=\"");
	put_uri_component(w, e->name, e->len);
	put(w, e->dir ? "/\">" : "\">", e->dir ? 3 : 2);
	want = cols > LISTING_COLUMN ? LISTING_COLUMN - 3 : cols;
	if (cols != e->len) {
		for (shown = 0, k = 0; k < want && shown < e->len; k++)
			shown += (unsigned char)e->name[shown] < 0x80 ? 1
			    : listing_utf8_char((const unsigned char *)e->name + shown,
			    e->len - shown);
	} else {
		shown = want;
	}
	put_html(w, e->name, shown);
	if (cols > LISTING_COLUMN) {
		PUT_LIT(w, "..&gt;</a>");
	} else {
		if (e->dir && cols < LISTING_COLUMN) {
			PUT_LIT(w, "/");
			cols++;
		}
		PUT_LIT(w, "</a>");
		for (; cols < LISTING_COLUMN; cols++)
			PUT_LIT(w, " ");
	}
	PUT_LIT(w, " ");
	gmtime_r(&e->mtime, &tm);
	put_padded(w, (uint64_t)tm.tm_mday, 2, '0');
	PUT_LIT(w, "-");
	put(w, month_names[tm.tm_mon], 3);
	PUT_LIT(w, "-");
	put_padded(w, (uint64_t)(tm.tm_year + 1900), 0, ' ');
	PUT_LIT(w, " ");
	put_padded(w, (uint64_t)tm.tm_hour, 2, '0');
	PUT_LIT(w, ":");
	put_padded(w, (uint64_t)tm.tm_min, 2, '0');
	PUT_LIT(w, " ");
	if (e->dir)
		PUT_LIT(w, "                  -");
	else
		put_padded(w, (uint64_t)(e->size < 0 ? 0 : e->size), 19, ' ');
	PUT_LIT(w, "\r\n");
}

/* nginx's order: directories first, then by name, byte by byte. */
static bool
listing_before(const struct listing_entry *a, const struct listing_entry *b)
{
	if (a->dir != b->dir)
		return a->dir;
	return strcmp(a->name, b->name) < 0;
}

/* Heap sort: no allocation (qsort may allocate), n log n at worst. */
static void
listing_sort(struct listing_entry *e, size_t n)
{
	struct listing_entry t;
	size_t start = n / 2, end = n, root, child;

	while (end > 1) {
		if (start > 0) {
			start--;
		} else {
			end--;
			t = e[0];
			e[0] = e[end];
			e[end] = t;
		}
		for (root = start; (child = 2 * root + 1) < end; root = child) {
			if (child + 1 < end && listing_before(&e[child], &e[child + 1]))
				child++;
			if (!listing_before(&e[root], &e[child]))
				break;
			t = e[root];
			e[root] = e[child];
			e[child] = t;
		}
	}
}

/* Writes out what w holds to fd; false on a failed write. */
static bool
listing_flush(int fd, struct writer *w, uint64_t *total)
{
	size_t done = 0;
	ssize_t n;

	while (done < w->len) {
		n = write(fd, w->p + done, w->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	*total += w->len;
	w->len = 0;
	return !w->overflow;
}

static bool
listing_failed(struct http_response *resp, enum status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The answer when a listing cannot be made, with its error-log line (the
 * URI in it is the client's: control characters become '?').
 */
static bool
listing_failed(struct http_response *resp, enum status status, const char *fmt, ...)
{
	va_list ap;
	char *c;

	va_start(ap, fmt);
	vsnprintf(listing_note, sizeof listing_note, fmt, ap);
	va_end(ap);
	for (c = listing_note; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	resp->note = listing_note;
	set_status(resp, status, NULL);
	return false;
}

/* A struct linux_dirent64's fixed part, as getdents64 fills it. */
struct dirent64_head {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/*
 * Reads directory `dir` (an open descriptor of "." or "DIR/", `rel`, beneath
 * site->root_fd) into the listing area: dotfiles skipped; a symlink's
 * target stat'ed as the request would open it (beneath the root), else
 * the link itself; entries that cannot be stat'ed (EACCES) skipped, as
 * nginx. Returns the count, or -1 with resp decided.
 */
static long
listing_read(struct http_response *resp, const struct http_site *site, int dir,
    const char *rel, const char *uri)
{
	static uint64_t dents[2048];
	char target[MAX_PATH_BYTES + 256 + 256];
	size_t rel_len = strcmp(rel, ".") == 0 ? 0 : strlen(rel), count = 0, len;
	struct stat st, to;
	long n, off;
	int fd;

	for (;;) {
		n = syscall(SYS_getdents64, dir, dents, sizeof dents);
		if (n < 0) {
			listing_failed(resp, S_INTERNAL_SERVER_ERROR, "autoindex: "
			    "reading the directory of \"%s\": %s", uri, strerror(errno));
			return -1;
		}
		if (n == 0)
			return (long)count;
		for (off = 0; off < n; off += ((struct dirent64_head *)((char *)dents
		    + off))->reclen) {
			const struct dirent64_head *d = (const struct dirent64_head *)
			    ((const char *)dents + off);

			if (d->name[0] == '.')
				continue;
			if (count == HTTP_LISTING_MAX) {
				listing_failed(resp, S_INTERNAL_SERVER_ERROR,
				    "autoindex: the directory of \"%s\" has more than %d "
				    "entries, the most mtlsd lists", uri, HTTP_LISTING_MAX);
				return -1;
			}
			if (fstatat(dir, d->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == EACCES || errno == ENOENT)
					continue;
				listing_failed(resp, S_INTERNAL_SERVER_ERROR, "autoindex: "
				    "stat of an entry in \"%s\": %s", uri, strerror(errno));
				return -1;
			}
			len = strlen(d->name);
			if (S_ISLNK(st.st_mode) && rel_len + len < sizeof target) {
				memcpy(target, rel, rel_len);
				memcpy(target + rel_len, d->name, len + 1);
				fd = open_beneath(site->root_fd, target, O_PATH | O_CLOEXEC);
				if (fd >= 0) {
					if (fstat(fd, &to) == 0)
						st = to;
					close(fd);
				} else if (errno == EACCES) {
					continue;
				} else if (errno == EMFILE || errno == ENFILE) {
					listing_failed(resp, S_INTERNAL_SERVER_ERROR,
					    "autoindex: a link in \"%s\": %s", uri,
					    strerror(errno));
					return -1;
				}
			}
			memcpy(listing_names[count], d->name, len + 1);
			listing_entries[count].name = listing_names[count];
			listing_entries[count].len = len;
			listing_entries[count].dir = S_ISDIR(st.st_mode);
			listing_entries[count].mtime = st.st_mtime;
			listing_entries[count].size = (int64_t)st.st_size;
			count++;
		}
	}
}

/*
 * nginx's autoindex page for directory `dir` (see listing_read), written
 * into a memory file that becomes resp's body. Returns false with resp
 * decided (500 with resp->note when the listing cannot be made).
 */
static bool
make_listing(struct http_response *resp, const struct http_site *site, int dir,
    const char *rel, const struct listing_ask *ask)
{
	static char out[16384];
	struct writer w = { out, 0, sizeof out, false };
	uint64_t total = 0;
	long count, i;
	size_t at, part;
	int fd;

	if (!listing_entries)
		return listing_failed(resp, S_INTERNAL_SERVER_ERROR, "autoindex: "
		    "no room for listings");
	if ((count = listing_read(resp, site, dir, rel, ask->uri)) < 0)
		return false;
	listing_sort(listing_entries, (size_t)count);
	fd = memfd_create("mtlsd-autoindex", MFD_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && site->cache
	    && file_cache_shed(site->cache) > 0)
		fd = memfd_create("mtlsd-autoindex", MFD_CLOEXEC);
	if (fd < 0)
		return listing_failed(resp, S_INTERNAL_SERVER_ERROR, "autoindex: "
		    "memfd_create: %s", strerror(errno));
	PUT_LIT(&w, "<html>\r\n<head><title>Index of ");
	/* The URI may be longer than the buffer: in parts, flushed between. */
	for (i = 0; i < 2; i++) {
		for (at = 0; at < ask->uri_len; at += part) {
			part = ask->uri_len - at < 1024 ? ask->uri_len - at : 1024;
			if (w.cap - w.len < 6 * 1024 && !listing_flush(fd, &w, &total))
				goto failed;
			put_html(&w, ask->uri + at, part);
		}
		if (i == 0)
			PUT_LIT(&w, "</title></head>\r\n<body>\r\n<h1>Index of ");
	}
	PUT_LIT(&w, "</h1><hr><pre><a href=\"../\">../</a>\r\n");
	for (i = 0; i < count; i++) {
		/* A line is at most 255 * 3 + 50 * 6 + 60 bytes. */
		if (w.cap - w.len < 2048 && !listing_flush(fd, &w, &total))
			goto failed;
		put_listing_line(&w, &listing_entries[i], ask->utf8);
	}
	PUT_LIT(&w, "</pre><hr></body>\r\n</html>\r\n");
	if (!listing_flush(fd, &w, &total))
		goto failed;
	resp->fd = fd;
	resp->cached = NULL;
	resp->size = total;
	resp->mtime = 0;
	resp->content_type = "text/html";
	resp->listing = true;
	return true;
failed:
	close(fd);
	return listing_failed(resp, S_INTERNAL_SERVER_ERROR, "autoindex: writing the "
	    "listing of \"%s\": %s", ask->uri, strerror(errno));
}

/*
 * open_beneath() the root; when descriptors ran out, once more after
 * closing the idle ones the cache holds.
 */
static int
open_in_site(const struct http_site *site, const char *rel, int flags)
{
	int fd = open_beneath(site->root_fd, rel, flags);

	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && site->cache
	    && file_cache_shed(site->cache) > 0)
		fd = open_beneath(site->root_fd, rel, flags);
	return fd;
}

/*
 * Opens the file a normalised path names, or takes it from the cache; sets
 * resp->status on failure. Headers come from the fstat made here, on the
 * cached descriptor too.
 */
static bool
open_target(struct http_response *resp, const struct http_site *site,
    char *path, size_t path_len, size_t path_cap, int key_root, const char *key,
    size_t key_len, const struct listing_ask *ask)
{
	const char *rel = path_len > 1 ? path + 1 : ".";
	int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	size_t index_len = strlen(site->index);
	struct file_cache_entry *e;
	struct stat st;
	int fd, dir;
	bool listed;

	if (site->cache && key && (e = file_cache_get(site->cache, key_root, key,
	    key_len, &st))) {
		resp->fd = e->fd;
		resp->cached = e;
		resp->size = (uint64_t)st.st_size;
		resp->mtime = st.st_mtime;
		resp->content_type = e->content_type;
		return true;
	}
	if ((fd = open_in_site(site, rel, flags)) < 0) {
		set_status(resp, status_for_errno(errno), NULL);
		return false;
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		set_status(resp, S_INTERNAL_SERVER_ERROR, NULL);
		return false;
	}
	if (S_ISDIR(st.st_mode)) {
		dir = fd;
		if (path[path_len - 1] != '/') {
			close(dir);
			set_status(resp, S_MOVED_PERMANENTLY, NULL);
			return false;
		}
		if (path_len + index_len + 1 > path_cap) {
			close(dir);
			set_status(resp, S_NOT_FOUND, NULL);
			return false;
		}
		memcpy(path + path_len, site->index, index_len + 1);
		rel = path + 1;
		if ((fd = open_in_site(site, rel, flags)) < 0) {
			/*
			 * A directory without its index is forbidden, as in
			 * nginx, unless autoindex lists it.
			 */
			if (errno == ENOENT && ask) {
				path[path_len] = '\0';
				listed = make_listing(resp, site, dir, path_len > 1
				    ? path + 1 : ".", ask);
				close(dir);
				return listed;
			}
			close(dir);
			set_status(resp, errno == ENOENT ? S_FORBIDDEN
			    : status_for_errno(errno), NULL);
			return false;
		}
		close(dir);
		path_len += index_len;
		if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
			close(fd);
			set_status(resp, S_FORBIDDEN, NULL);
			return false;
		}
	}
	if (!S_ISREG(st.st_mode)) {
		/* fifos, devices, sockets: never read. */
		close(fd);
		set_status(resp, S_NOT_FOUND, NULL);
		return false;
	}
	resp->fd = fd;
	resp->size = (uint64_t)st.st_size;
	resp->mtime = st.st_mtime;
	resp->content_type = http_content_type(path, path_len);
	/* Keyed by the path asked for: "/dir/", not "/dir/index.html". */
	if (site->cache && key)
		resp->cached = file_cache_put(site->cache, key_root, key,
		    key_len, fd, &st, resp->content_type);
	return true;
}

/*
 * --root-per-client: opens the path beneath the client's own directory,
 * a real directory (not a symlink) right under the root, for this request
 * only. The cache key starts with the client's name, so that an entry
 * made for one client is never found for another, whatever the fd
 * numbers of their directories were.
 */
static bool
open_client_target(struct http_response *resp, const struct http_site *site,
    char *path, size_t path_len, size_t path_cap, const struct listing_ask *ask)
{
	char key[FILE_CACHE_PATH_MAX + 1];
	size_t dir_len = strlen(site->client_dir);
	struct http_site mine = *site;
	bool ok, cacheable = 1 + dir_len + path_len < sizeof key;
	int dir;

	if (cacheable) {
		key[0] = '/';
		memcpy(key + 1, site->client_dir, dir_len);
		memcpy(key + 1 + dir_len, path, path_len);
	}
	dir = openat(site->root_fd, site->client_dir,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0) {
		set_status(resp, errno == ELOOP ? S_NOT_FOUND : status_for_errno(errno), NULL);
		return false;
	}
	mine.root_fd = dir;
	ok = open_target(resp, &mine, path, path_len, path_cap, site->root_fd,
	    cacheable ? key : NULL, 1 + dir_len + path_len, ask);
	close(dir);
	return ok;
}

static void
release_file(struct http_response *resp)
{
	if (resp->cached) {
		file_cache_release(resp->cached);
		resp->cached = NULL;
	} else if (resp->fd >= 0) {
		close(resp->fd);
	}
	resp->fd = -1;
}

/* ---- the location table ---- */

static struct http_location server_level = { .path = "", .dir_fd = -1 };
static const struct http_location *locations = &server_level;
static size_t location_count = 1;

int
http_set_locations(struct http_location *table, size_t count, char *why,
    size_t why_len)
{
	size_t i;
	int fd;

	for (i = 0; i < count; i++)
		table[i].dir_fd = -1;
	for (i = 0; i < count && !listing_entries; i++)
		if (table[i].autoindex && (!(listing_entries = calloc(HTTP_LISTING_MAX,
		    sizeof *listing_entries)) || !(listing_names = calloc(HTTP_LISTING_MAX,
		    sizeof *listing_names)))) {
			free(listing_entries);
			listing_entries = NULL;
			snprintf(why, why_len, "autoindex: no memory for %d entries",
			    HTTP_LISTING_MAX);
			return -1;
		}
	for (i = 0; i < count; i++) {
		if (!table[i].dir)
			continue;
		if ((fd = open(table[i].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			snprintf(why, why_len, "%s%s\"%s %s\": %s", table[i].where
			    ? table[i].where : "", table[i].where ? ": " : "",
			    table[i].alias ? "alias" : "root", table[i].dir, strerror(errno));
			while (i-- > 0)
				if (table[i].dir_fd >= 0)
					close(table[i].dir_fd);
			return -1;
		}
		table[i].dir_fd = fd;
	}
	if (count > 0) {
		locations = table;
		location_count = count;
	}
	return 0;
}

int
http_location_dir(size_t i)
{
	return i < location_count ? locations[i].dir_fd : -2;
}

const struct http_location *
http_find_location(const char *path, size_t len)
{
	const struct http_location *best = &locations[0];
	size_t i;

	/* An exact match wins; else the longest prefix (no regex to try after). */
	for (i = 1; i < location_count; i++) {
		const struct http_location *l = &locations[i];

		if (l->match == HTTP_MATCH_EXACT) {
			if (l->path_len == len && memcmp(l->path, path, len) == 0)
				return l;
		} else if (l->path_len <= len && memcmp(l->path, path, l->path_len) == 0
		    && (best == &locations[0] || l->path_len > best->path_len)) {
			best = l;
		}
	}
	return best;
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Does branch b (with '\1' for '.') match at s, and up to its end if `end`? */
static bool
branch_at(const char *b, const char *s, bool caseless, bool end)
{
	for (; *b; b++, s++) {
		if (!*s)
			return false;
		if (*b == '\1')
			continue;
		if (caseless ? lower(*b) != lower(*s) : *b != *s)
			return false;
	}
	return !end || !*s;
}

bool
http_pattern_match(const struct http_pattern *p, const char *s)
{
	const char *t;
	int i;

	for (i = 0; i < p->count; i++) {
		if (p->start[i]) {
			if (branch_at(p->branch[i], s, p->caseless, p->end[i]))
				return true;
			continue;
		}
		for (t = s; ; t++) {
			if (branch_at(p->branch[i], t, p->caseless, p->end[i]))
				return true;
			if (!*t)
				break;
		}
	}
	return false;
}

/* A CN captured as struct http_cn_capture says, into out[cap]; NULL: no match. */
static const char *
capture_cn(const struct http_cn_capture *c, const char *s, char *out, size_t cap)
{
	const char *q;
	size_t n;

	if (c->lead == '=') {
		if (!(q = strrchr(s, '=')))
			return NULL;
		snprintf(out, cap, "%s", q + 1);
		return out;
	}
	for (q = strstr(s, "CN="); q; q = strstr(q + 1, "CN=")) {
		if (c->lead == '^' && q != s && q[-1] != ',')
			continue;
		if (c->lead == '/' && (q == s || q[-1] != '/'))
			continue;
		if (!q[3] || strchr(c->stop, q[3]))
			continue;
		n = strcspn(q + 3, c->stop);
		if (n >= cap)
			n = cap - 1;
		memcpy(out, q + 3, n);
		out[n] = '\0';
		return out;
	}
	return NULL;
}

#define ID_VALUE_MAX 160

/*
 * A map's value for the subject; `buf` holds ID_VALUE_MAX bytes for each
 * level of maps (two).
 */
static const char *
map_value(const struct http_map *map, const char *subject, char *buf)
{
	const char *src = map->source ? map_value(map->source, subject,
	    buf + ID_VALUE_MAX) : subject;
	int i;

	/* nginx's map: the exact keys first, then the expressions in order. */
	for (i = 0; i < map->count; i++)
		if (map->key[i] && strcmp(map->key[i], src) == 0)
			return map->value[i];
	for (i = 0; i < map->count; i++) {
		if (map->key[i])
			continue;
		if (map->cn[i].lead) {
			if (capture_cn(&map->cn[i], src, buf, ID_VALUE_MAX))
				return buf;
		} else if (http_pattern_match(&map->pattern[i], src)) {
			return map->value[i];
		}
	}
	return map->fallback;
}

static bool
id_rule_holds(const struct http_id_rule *r, const char *subject)
{
	char buf[2 * ID_VALUE_MAX];
	const char *v = r->var == ID_MAP ? map_value(r->map, subject ? subject : "", buf)
	    : subject ? subject : "";

	switch (r->op) {
	case ID_EQ: return strcmp(v, r->value) == 0;
	case ID_NE: return strcmp(v, r->value) != 0;
	case ID_MATCH: return http_pattern_match(&r->pattern, v);
	case ID_NO_MATCH: return !http_pattern_match(&r->pattern, v);
	case ID_TRUE: return *v && strcmp(v, "0") != 0;
	case ID_FALSE: return !*v || strcmp(v, "0") == 0;
	}
	return true;
}

/* return CODE [TEXT]: the answer, its text expanded when written. */
static void
answer_return(struct http_response *resp, int code, const char *text)
{
	set_status(resp, (enum status)code, NULL);
	/* Without a text, a code below 300 has an empty body. */
	resp->text = text ? text : code < 300 && code != S_NO_CONTENT ? "" : NULL;
}

/* nginx's rewrite phase of one level: its if () { return } and return. */
static bool
rewrite_phase(struct http_response *resp, const struct http_location *level,
    const struct http_site *site)
{
	int i;

	for (i = 0; i < level->ident_count; i++)
		if (id_rule_holds(&level->ident[i], site->subject)) {
			answer_return(resp, level->ident[i].code, level->ident[i].text);
			return false;
		}
	if (level->return_code) {
		answer_return(resp, level->return_code, level->return_text);
		return false;
	}
	return true;
}

/* allow/deny: the first rule matching the client decides; none: allowed. */
static bool
access_phase(struct http_response *resp, const struct http_location *loc,
    const struct http_site *site)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned char addr[16];
	int family = 0, i;
	unsigned bits, k;

	if (loc->access_count == 0)
		return true;
	if (site->client_addr && inet_pton(AF_INET, site->client_addr, addr) == 1) {
		family = 4;
	} else if (site->client_addr && inet_pton(AF_INET6, site->client_addr, addr) == 1) {
		family = 6;
		if (memcmp(addr, mapped, sizeof mapped) == 0) {
			memmove(addr, addr + 12, 4);    /* as nginx: checked as IPv4 */
			family = 4;
		}
	}
	for (i = 0; i < loc->access_count; i++) {
		const struct http_access_rule *r = &loc->access[i];

		if (r->family != 0) {
			if (r->family != family)
				continue;
			for (bits = r->bits, k = 0; bits >= 8; bits -= 8, k++)
				if (addr[k] != r->addr[k])
					break;
			if (bits >= 8 || (bits > 0
			    && ((addr[k] ^ r->addr[k]) & (0xff00 >> bits) & 0xff)))
				continue;
		}
		if (r->allow)
			return true;
		set_status(resp, S_FORBIDDEN, NULL);
		return false;
	}
	return true;
}

/* The directory a location reads from. */
static int
location_fd(const struct http_location *loc, const struct http_site *site)
{
	return loc->dir ? loc->dir_fd : site->root_fd;
}

/*
 * The path under location_fd() that a URI names: the URI itself under a
 * root, the part after the location's path under an alias. Returns its
 * length, or -1 when the URI is not under the alias (try_files' doing).
 */
static long
location_path(const struct http_location *loc, const char *uri, size_t len,
    char *out, size_t cap)
{
	const char *p = uri;

	if (loc->alias) {
		if (len < loc->path_len || memcmp(uri, loc->path, loc->path_len) != 0)
			return -1;
		if (loc->alias_file) {
			if (len != loc->path_len || strlen(loc->alias_file) + 2 > cap)
				return -1;
			out[0] = '/';
			memcpy(out + 1, loc->alias_file, strlen(loc->alias_file) + 1);
			return (long)strlen(out);
		} else {
			/* The location's path ends with '/' (nginx_conf checks it). */
			p = uri + loc->path_len - 1;
			len -= loc->path_len - 1;
		}
	}
	if (len + 1 > cap)
		return -1;
	memmove(out, p, len);
	out[len] = '\0';
	return (long)len;
}

/* Is there a directory (`dir`) or something else at URI in the location? */
static bool
exists_as(const struct http_location *loc, const struct http_site *site,
    const char *uri, size_t len, bool dir)
{
	char rel[MAX_PATH_BYTES + 256];
	long n = location_path(loc, uri, len, rel, sizeof rel);
	struct stat st;
	int fd;

	if (n < 0)
		return false;
	if (n > 1 && rel[n - 1] == '/')
		rel[n - 1] = '\0';
	fd = open_beneath(location_fd(loc, site), n > 1 ? rel + 1 : ".",
	    O_PATH | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	return dir ? S_ISDIR(st.st_mode) : !S_ISDIR(st.st_mode);
}

/*
 * A URI try_files made: "//" merged (the file system would), and -1 when
 * a segment is "." or "..", which nothing below the directory may climb.
 */
static long
tidy_uri(char *u, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (u[i] == '/' && o > 0 && u[o - 1] == '/')
			continue;
		u[o++] = u[i];
	}
	u[o] = '\0';
	for (i = 0; i < o; i++)
		if (u[i] == '/' && u[i + 1] == '.' && (u[i + 2] == '/' || u[i + 2] == '\0'
		    || (u[i + 2] == '.' && (u[i + 3] == '/' || u[i + 3] == '\0'))))
			return -1;
	return (long)o;
}

/* try_files' entry with $uri put in; returns the length or -1. */
static long
try_entry(const char *entry, const char *uri, size_t uri_len, char *out, size_t cap,
    bool drop_last)
{
	size_t n = 0, k;

	while (*entry) {
		if (strncmp(entry, "$uri", 4) == 0) {
			if (n + uri_len >= cap)
				return -1;
			memcpy(out + n, uri, uri_len);
			n += uri_len;
			entry += 4;
			continue;
		}
		k = strcspn(entry + 1, "$") + 1;
		if (n + k >= cap)
			return -1;
		memcpy(out + n, entry, k);
		n += k;
		entry += k;
	}
	if (drop_last && n > 0)
		n--;
	out[n] = '\0';
	return (long)tidy_uri(out, n);
}

enum try_result { TRY_FOUND, TRY_REDIRECT, TRY_ANSWERED };

/*
 * try_files: the first entry that exists becomes the URI (a directory
 * entry without its last '/'); else the last entry's =CODE, or its URI, which is
 * looked up again from the start (an internal redirect).
 */
static enum try_result
try_files(struct http_response *resp, const struct http_location *loc,
    const struct http_site *site, char *uri, long *uri_len, size_t cap)
{
	char cand[MAX_PATH_BYTES + 256];
	long n;
	int i;
	bool dir;

	for (i = 0; i < loc->try_count; i++) {
		const char *e = loc->try_files[i];

		if (i == loc->try_count - 1 && e[0] == '=') {
			set_status(resp, (enum status)atoi(e + 1), NULL);
			return TRY_ANSWERED;
		}
		/*
		 * An entry ending in '/' tests for a directory, and becomes the
		 * URI without that '/', as nginx ("$uri/" on "/d" is "/d": 301).
		 */
		dir = i < loc->try_count - 1 && e[strlen(e) - 1] == '/';
		n = try_entry(e, uri, (size_t)*uri_len, cand, sizeof cand, dir);
		if (i == loc->try_count - 1) {
			if (n <= 0 || cand[0] != '/' || (size_t)n + 1 > cap) {
				set_status(resp, S_NOT_FOUND, NULL);
				return TRY_ANSWERED;
			}
			memcpy(uri, cand, (size_t)n + 1);
			*uri_len = n;
			return TRY_REDIRECT;
		}
		if (n <= 0 || cand[0] != '/')
			continue;
		if (exists_as(loc, site, cand, (size_t)n, dir)) {
			if ((size_t)n + 1 > cap)
				continue;
			memcpy(uri, cand, (size_t)n + 1);
			*uri_len = n;
			return TRY_FOUND;
		}
	}
	set_status(resp, S_NOT_FOUND, NULL);
	return TRY_ANSWERED;
}

/* nginx gives up after this many internal redirects (500). */
#define MAX_INTERNAL_REDIRECTS 10

/*
 * Finds what path names, through the table: the location, its rewrite
 * and access phases, try_files and the index's internal redirects; opens
 * the file. Returns true with the file in resp, or false with the answer
 * decided (resp->loc says whose it is, for error_page and headers).
 */
static bool
lookup(struct http_response *resp, const struct http_site *site, char *path,
    long path_len, size_t cap, bool internal)
{
	char rel[MAX_PATH_BYTES + 256];
	const struct http_location *loc = &locations[0];
	struct http_site mine = *site;
	struct listing_ask ask;
	const char *type_name;
	long rel_len;
	size_t index_len;
	int redirects, i;

	for (redirects = 0; ; redirects++) {
		if (redirects > MAX_INTERNAL_REDIRECTS) {
			set_status(resp, S_INTERNAL_SERVER_ERROR, NULL);
			return false;
		}
		loc = http_find_location(path, (size_t)path_len);
		resp->loc = loc;
		mine.index = loc->index ? loc->index : site->index;
		if (loc->internal && !internal && redirects == 0) {
			set_status(resp, S_NOT_FOUND, NULL);
			return false;
		}
		/* The server's rewrite phase, then the location's; then access. */
		if (!rewrite_phase(resp, &locations[0], site)
		    || (loc != &locations[0] && !rewrite_phase(resp, loc, site))
		    || !access_phase(resp, loc, site))
			return false;
		if (loc->try_count) {
			enum try_result t = try_files(resp, loc, site, path, &path_len, cap);

			if (t == TRY_ANSWERED)
				return false;
			if (t == TRY_REDIRECT)
				continue;
		}
		/*
		 * The index module redirects internally to DIR/INDEX: looked up
		 * again when another location takes it, or this one's try_files
		 * would see it (else the lookup would give the same answer).
		 */
		/* nginx takes the first of the index names that exists. */
		if (path[path_len - 1] == '/' && loc->index_more_count > 0) {
			for (i = 0; i <= loc->index_more_count; i++) {
				const char *name = i == 0 ? mine.index : loc->index_more[i - 1];

				index_len = strlen(name);
				if ((size_t)path_len + index_len >= cap)
					break;
				memcpy(path + path_len, name, index_len + 1);
				if (exists_as(loc, site, path, (size_t)path_len + index_len,
				    false)) {
					mine.index = name;
					break;
				}
			}
		}
		path[path_len] = '\0';
		index_len = strlen(mine.index);
		if (path[path_len - 1] == '/' && (size_t)path_len + index_len < cap) {
			memcpy(path + path_len, mine.index, index_len + 1);
			if ((loc->try_count || http_find_location(path, (size_t)path_len
			    + index_len) != loc)
			    && exists_as(loc, site, path, (size_t)path_len + index_len, false)) {
				path_len += (long)index_len;
				continue;
			}
			path[path_len] = '\0';
		}
		break;
	}
	rel_len = location_path(loc, path, (size_t)path_len, rel, sizeof rel);
	if (rel_len <= 0) {
		set_status(resp, S_NOT_FOUND, NULL);
		return false;
	}
	mine.root_fd = location_fd(loc, site);
	ask.uri = path;
	ask.uri_len = (size_t)path_len;
	ask.utf8 = loc->charset && strcasecmp(loc->charset, "utf-8") == 0;
	if (site->client_dir ? !open_client_target(resp, &mine, rel, (size_t)rel_len,
	    sizeof rel, loc->autoindex ? &ask : NULL) : !open_target(resp, &mine, rel,
	    (size_t)rel_len, sizeof rel, mine.root_fd, rel, (size_t)rel_len,
	    loc->autoindex ? &ask : NULL))
		return false;
	if ((loc->types || loc->default_type) && !resp->listing) {
		type_name = rel[rel_len - 1] == '/' ? mine.index : rel;
		resp->content_type = location_type(loc, type_name, strlen(type_name));
	}
	return true;
}

static const struct http_error_page *
error_page_for(const struct http_location *loc, enum status status)
{
	int i;

	for (i = 0; loc && i < loc->error_page_count; i++)
		if (loc->error_pages[i].code == (int)status)
			return &loc->error_pages[i];
	return NULL;
}

/*
 * nginx's error_page: the error's URI is looked up as a GET, once
 * (recursive_error_pages off), and answered with the error's code, or
 * "=CODE"'s; a URL is a redirect. Returns true when a file answers with
 * a 200 (the normal path follows), false when resp is decided.
 */
static bool
error_page(struct http_response *resp, const struct http_site *site, char *path,
    size_t cap)
{
	const struct http_error_page *ep = error_page_for(resp->loc, resp->status);
	enum status code = resp->status;
	long len;

	if (!ep || resp->text || code < 300 || code == S_NOT_MODIFIED)
		return false;
	if (ep->uri[0] != '/') {
		answer_return(resp, ep->answer > 0 ? ep->answer : S_FOUND, ep->uri);
		return false;
	}
	if ((len = http_normalize_path(ep->uri, strlen(ep->uri), path, cap)) < 0
	    || !lookup(resp, site, path, len, cap, true))
		return false;
	if (ep->answer == 0 || (ep->answer > 0 && ep->answer != S_OK)) {
		resp->status = ep->answer > 0 ? (enum status)ep->answer : code;
		resp->file_error = true;
		return false;
	}
	return true;
}

void
http_prepare(struct http_response *resp, const struct http_request *req,
    const struct http_site *site, bool keep_alive_allowed)
{
	char path[MAX_PATH_BYTES + 256];
	long path_len;

	reset_response(resp, req, keep_alive_allowed);
	resp->loc = &locations[0];
	if (req->content_length > HTTP_MAX_BODY) {
		set_status(resp, S_PAYLOAD_TOO_LARGE, NULL);
		return;
	}
	if (req->method == M_OTHER || req->method == M_TRACE) {
		set_status(resp, S_METHOD_NOT_ALLOWED, NULL);
		/* nginx ends the connection after refusing a TRACE. */
		if (req->method == M_TRACE)
			resp->keep_alive = false;
		return;
	}
	if (req->path.len > MAX_PATH_BYTES) {
		set_status(resp, S_URI_TOO_LONG, NULL);
		return;
	}
	path_len = http_normalize_path(req->path.p, req->path.len, path, sizeof path);
	if (path_len < 0) {
		set_status(resp, S_BAD_REQUEST, NULL);
		return;
	}
	if (!lookup(resp, site, path, path_len, sizeof path, false)
	    && !error_page(resp, site, path, sizeof path)) {
		if (resp->file_error) {
			/* The whole page, whatever the request's ranges and conditions. */
			resp->offset = 0;
			resp->remaining = resp->head_only ? 0 : resp->size;
			if (resp->remaining == 0)
				release_file(resp);
		}
		return;
	}
	/*
	 * As nginx: once the file is found, a client waiting for "100
	 * Continue" gets it, so its body will come and can be skipped.
	 */
	if (req->expects_continue && req->version_minor >= 1) {
		resp->send_continue = true;
		resp->keep_alive = req->keep_alive && keep_alive_allowed;
	}
	resp->status = S_OK;
	if (resp->listing) {
		/* No date or tag to compare: nginx's answers without them. */
		if (req->if_unmodified_since.len > 0 || (req->if_match.len > 0
		    && !(req->if_match.len == 1 && req->if_match.p[0] == '*')))
			set_status(resp, S_PRECONDITION_FAILED, NULL);
		else if (req->if_modified_since.len == 0 && req->if_none_match.len == 1
		    && req->if_none_match.p[0] == '*')
			set_status(resp, S_NOT_MODIFIED, NULL);
	} else if (!preconditions_hold(resp, req)) {
		set_status(resp, S_PRECONDITION_FAILED, NULL);
	} else if (not_modified(resp, req)) {
		set_status(resp, S_NOT_MODIFIED, NULL);
	} else if (req->range.len > 0 && if_range_holds(resp, req)) {
		apply_range(resp, req->range);
	}
	if (resp->status == S_PARTIAL_CONTENT) {
		resp->offset = resp->first;
		resp->remaining = resp->last - resp->first + 1;
	} else if (resp->status == S_OK) {
		resp->offset = 0;
		resp->remaining = resp->size;
	}
	if (resp->head_only || (resp->status != S_OK
	    && resp->status != S_PARTIAL_CONTENT))
		resp->remaining = 0;
	if (resp->remaining == 0)
		release_file(resp);
}

void
http_response_end(struct http_response *resp)
{
	release_file(resp);
	resp->remaining = 0;
}

/* ---- writing the head ---- */

static void
puts_(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void
putf(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
putf(struct writer *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->cap - w->len)
		w->overflow = true;
	else
		w->len += (size_t)n;
}

/* Bytes safe in a Location header as they are; others are %-escaped. */
static void
put_escaped_path(struct writer *w, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '%' || c == '?' || c == '#')
			putf(w, "%%%02X", c);
		else
			put(w, (const char *)&c, 1);
	}
}

/*
 * `raw_query`: the query's 8-bit bytes as the client sent them, as nginx
 * does, for when their escaped form would not fit a TLS record.
 */
static void
put_location(struct writer *w, const struct http_request *req,
    const struct http_endpoint *endpoint, bool raw_query)
{
	char path[MAX_PATH_BYTES + 256];
	long path_len = http_normalize_path(req->path.p, req->path.len, path,
	    sizeof path);
	struct text host = req->host;
	size_t i;

	if (path_len < 0)
		path_len = 0;
	if (host.len > 0) {
		/* Without the port and a trailing dot, in lower case, as nginx. */
		host.len = host_name_length(host);
	} else {
		host.p = endpoint->host;
		host.len = strlen(endpoint->host);
	}
	puts_(w, "Location: https://");
	for (i = 0; i < host.len; i++) {
		char c = host.p[i];

		c = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		put_escaped_path(w, &c, 1);
	}
	if (endpoint->port != 443)
		putf(w, ":%u", endpoint->port);
	put_escaped_path(w, path, (size_t)path_len);
	puts_(w, "/");
	if (req->query.len > 0) {
		puts_(w, "?");
		for (i = 0; i < req->query.len; i++) {
			unsigned char c = (unsigned char)req->query.p[i];

			if (c <= 0x20 || c == 0x7f || (c > 0x7f && !raw_query))
				putf(w, "%%%02X", c);
			else
				put(w, (const char *)&c, 1);
		}
	}
	puts_(w, "\r\n");
}

/* nginx's error page; returns its length when `w` is NULL. */
static size_t
put_error_page(struct writer *w, const struct http_response *r)
{
	char page[512];
	const char *reason = r->status == S_FOUND ? "Found"
	    : r->status == S_UNAUTHORIZED ? "Authorization Required"
	    : http_reason(r->status);
	int n;

	if (r->detail)
		n = snprintf(page, sizeof page, "<html>\r\n<head><title>%d %s</title></head>\r\n"
		    "<body>\r\n<center><h1>%d %s</h1></center>\r\n<center>%s</center>\r\n"
		    "<hr><center>" SERVER_TOKEN "</center>\r\n</body>\r\n</html>\r\n",
		    r->status, r->detail, r->status, reason, r->detail);
	else
		n = snprintf(page, sizeof page, "<html>\r\n<head><title>%d %s</title></head>\r\n"
		    "<body>\r\n<center><h1>%d %s</h1></center>\r\n"
		    "<hr><center>" SERVER_TOKEN "</center>\r\n</body>\r\n</html>\r\n",
		    r->status, reason, r->status, reason);
	if (w)
		put(w, page, (size_t)n);
	return (size_t)n;
}

/* The type, and nginx's "; charset=" for the types of its charset_types default. */
static void
put_content_type(struct writer *w, const char *type, const char *charset)
{
	static const char *const charset_types[] = { "text/html", "text/xml",
		"text/plain", "text/vnd.wap.wml", "application/javascript",
		"application/rss+xml" };
	size_t i;

	puts_(w, type);
	if (!charset)
		return;
	for (i = 0; i < sizeof charset_types / sizeof charset_types[0]; i++)
		if (strcmp(type, charset_types[i]) == 0) {
			puts_(w, "; charset=");
			puts_(w, charset);
			return;
		}
}

/* The statuses nginx's add_header (without always) and expires apply to. */
static bool
headers_apply(enum status status)
{
	switch (status) {
	case S_OK: case S_NO_CONTENT: case S_PARTIAL_CONTENT:
	case S_MOVED_PERMANENTLY: case S_FOUND: case S_SEE_OTHER:
	case S_NOT_MODIFIED: case S_TEMPORARY_REDIRECT: case S_PERMANENT_REDIRECT:
		return true;
	default:
		return false;
	}
}

/* nginx's expires: Expires and Cache-Control, before add_header's. */
static void
put_expires(struct writer *w, const struct http_location *loc, enum status status,
    time_t now)
{
	char date[HTTP_DATE_SIZE];
	long max_age = loc->expires;

	if (!loc->expires_kind || !headers_apply(status))
		return;
	if (loc->expires_kind == 2) {
		http_format_date(1, date);
		max_age = -1;
	} else if (loc->expires_kind == 3) {
		http_format_date(2145916555, date);     /* nginx's "max" */
		max_age = 315360000;
	} else {
		http_format_date(now + loc->expires, date);
	}
	puts_(w, "Expires: ");
	puts_(w, date);
	puts_(w, "\r\nCache-Control: ");
	if (max_age < 0) {
		puts_(w, "no-cache\r\n");
	} else {
		puts_(w, "max-age=");
		put_number(w, (uint64_t)max_age, 10);
		puts_(w, "\r\n");
	}
}

/* nginx's add_header: without "always" on the statuses headers_apply() names. */
static void
put_add_headers(struct writer *w, const struct http_location *loc, enum status status)
{
	bool success = headers_apply(status);
	int i;

	for (i = 0; i < loc->header_count; i++) {
		if (!success && !loc->headers[i].always)
			continue;
		puts_(w, loc->headers[i].name);
		puts_(w, ": ");
		puts_(w, loc->headers[i].value);
		puts_(w, "\r\n");
	}
}

static bool
is_redirect(enum status status)
{
	return status == S_MOVED_PERMANENTLY || status == S_FOUND
	    || status == S_SEE_OTHER || status == S_TEMPORARY_REDIRECT
	    || status == S_PERMANENT_REDIRECT;
}

/*
 * return's text with $host, $request_uri and $scheme put in (w NULL:
 * only counted). A redirect's URL that starts with '/' gets the scheme
 * and host first, as nginx's absolute_redirect.
 */
static size_t
put_expanded(struct writer *w, const struct http_response *r,
    const struct http_request *req, const struct http_endpoint *endpoint)
{
	struct writer counter = { NULL, 0, 0, false };
	struct text host = req ? req->host : (struct text){ NULL, 0 };
	const char *t = r->text, *uri = req ? req->path.p : "";
	size_t uri_len = req ? (size_t)(req->target.p + req->target.len - req->path.p) : 0;
	size_t start, i;
	char c;

	if (!w) {
		w = &counter;
		w->cap = (size_t)-1;
	}
	start = w->len;
	if (host.len > 0) {
		host.len = host_name_length(host);
	} else {
		host.p = endpoint ? endpoint->host : "";
		host.len = strlen(host.p);
	}
#define PUT(s, n) (w->p ? put(w, (s), (n)) : (void)(w->len += (n)))
	if (is_redirect(r->status) && t[0] == '/') {
		PUT("https://", 8);
		for (i = 0; i < host.len; i++) {
			c = lower(host.p[i]);
			PUT(&c, 1);
		}
		if (endpoint && endpoint->port != 443) {
			char port[8];
			int n = snprintf(port, sizeof port, ":%u", endpoint->port);

			PUT(port, (size_t)n);
		}
	}
	while (*t) {
		if (strncmp(t, "$host", 5) == 0) {
			for (i = 0; i < host.len; i++) {
				c = lower(host.p[i]);
				PUT(&c, 1);
			}
			t += 5;
		} else if (strncmp(t, "$request_uri", 12) == 0) {
			PUT(uri, uri_len);
			t += 12;
		} else if (strncmp(t, "$scheme", 7) == 0) {
			PUT("https", 5);
			t += 7;
		} else {
			i = strcspn(t + 1, "$") + 1;
			PUT(t, i);
			t += i;
		}
	}
#undef PUT
	return w->len - start;
}

static bool
has_error_page(enum status status)
{
	return status >= 300 && status != S_NOT_MODIFIED;
}

static size_t
write_head(struct http_response *r, const struct http_request *req,
    const struct http_endpoint *endpoint, time_t now, char *out, size_t cap,
    bool raw_query)
{
	struct writer w = { out, 0, cap, false };
	char etag[48];
	size_t etag_len;
	const struct http_location *loc = r->loc ? r->loc : &locations[0];
	bool text_body = r->text && !is_redirect(r->status);
	bool is_file = !r->text && !r->listing && (r->status == S_OK
	    || r->status == S_PARTIAL_CONTENT || r->status == S_NOT_MODIFIED);

	static time_t now_of, mtime_of;
	static char now_text[HTTP_DATE_SIZE], mtime_text[HTTP_DATE_SIZE];

	/* Dates are formatted once per second (and per file date), not per request. */
	if (now != now_of || now_text[0] == '\0') {
		http_format_date(now, now_text);
		now_of = now;
	}
	if (r->send_continue)
		puts_(&w, "HTTP/1.1 100 Continue\r\n\r\n");
	puts_(&w, "HTTP/1.1 ");
	put_number(&w, (uint64_t)r->status, 10);
	puts_(&w, " ");
	puts_(&w, http_reason(r->status));
	puts_(&w, "\r\nServer: " SERVER_TOKEN "\r\nDate: ");
	puts_(&w, now_text);
	if (text_body) {
		puts_(&w, "\r\nContent-Type: ");
		put_content_type(&w, loc->default_type ? loc->default_type
		    : "application/octet-stream", loc->charset);
		puts_(&w, "\r\nContent-Length: ");
		put_number(&w, put_expanded(NULL, r, req, endpoint), 10);
	} else if (r->status == S_OK || r->status == S_PARTIAL_CONTENT || r->file_error) {
		puts_(&w, "\r\nContent-Type: ");
		put_content_type(&w, r->content_type, loc->charset);
		puts_(&w, "\r\nContent-Length: ");
		put_number(&w, r->status == S_PARTIAL_CONTENT ? r->last - r->first + 1
		    : r->size, 10);
	} else if (has_error_page(r->status)) {
		/* nginx gives a redirect no charset (old browsers kept it). */
		puts_(&w, is_redirect(r->status) ? "\r\nContent-Type: text/html"
		    : "\r\nContent-Type: ");
		if (!is_redirect(r->status))
			put_content_type(&w, "text/html", loc->charset);
		puts_(&w, "\r\nContent-Length: ");
		put_number(&w, put_error_page(NULL, r), 10);
	}
	if (is_file) {
		if (r->mtime != mtime_of || mtime_text[0] == '\0') {
			http_format_date(r->mtime, mtime_text);
			mtime_of = r->mtime;
		}
		puts_(&w, "\r\nLast-Modified: ");
		puts_(&w, mtime_text);
	}
	puts_(&w, "\r\n");
	/* nginx writes a relative one (made absolute) before Connection. */
	if (r->text && is_redirect(r->status) && r->text[0] == '/') {
		puts_(&w, "Location: ");
		put_expanded(&w, r, req, endpoint);
		puts_(&w, "\r\n");
	} else if (!r->text && r->status == S_MOVED_PERMANENTLY && req) {
		put_location(&w, req, endpoint, raw_query);
	}
	puts_(&w, r->keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
	if (r->text && is_redirect(r->status) && r->text[0] != '/') {
		puts_(&w, "Location: ");
		put_expanded(&w, r, req, endpoint);
		puts_(&w, "\r\n");
	}
	if ((is_file || (r->file_error && !r->listing)) && (etag_len = format_etag(r, etag, sizeof etag)) > 0) {
		puts_(&w, "ETag: ");
		put(&w, etag, etag_len);
		puts_(&w, "\r\n");
	}
	put_expires(&w, loc, r->status, now);
	put_add_headers(&w, loc, r->status);
	if (r->status == S_OK && !r->text && !r->listing)
		puts_(&w, "Accept-Ranges: bytes\r\n");
	if (r->status == S_PARTIAL_CONTENT) {
		puts_(&w, "Content-Range: bytes ");
		put_number(&w, r->first, 10);
		puts_(&w, "-");
		put_number(&w, r->last, 10);
		puts_(&w, "/");
		put_number(&w, r->size, 10);
		puts_(&w, "\r\n");
	}
	if (r->status == S_RANGE_NOT_SATISFIABLE && r->has_range) {
		puts_(&w, "Content-Range: bytes */");
		put_number(&w, r->size, 10);
		puts_(&w, "\r\n");
	}
	if (r->status == S_METHOD_NOT_ALLOWED)
		puts_(&w, "Allow: GET, HEAD\r\n");
	puts_(&w, "\r\n");
	if (text_body && !r->head_only)
		r->body_bytes = put_expanded(&w, r, req, endpoint);
	else if (has_error_page(r->status) && !r->head_only && !r->file_error)
		r->body_bytes = put_error_page(&w, r);
	return w.overflow ? 0 : w.len;
}

size_t
http_write_head(struct http_response *r, const struct http_request *req,
    const struct http_endpoint *endpoint, time_t now, char *out, size_t cap)
{
	size_t n = write_head(r, req, endpoint, now, out, cap, false);

	if (n == 0 && r->status == S_MOVED_PERMANENTLY && req)
		n = write_head(r, req, endpoint, now, out, cap, true);
	return n;
}

/* ---- request bodies, skipped ---- */

enum {
	K_SIZE, K_EXTENSION, K_SIZE_LF, K_DATA, K_DATA_CR, K_DATA_LF,
	K_TRAILER, K_TRAILER_LINE, K_END_LF, K_DONE,
};

/* A size line ended: the chunk's data follows, or the trailers. */
static bool
begin_chunk(struct chunked_skipper *k)
{
	k->total += k->chunk_left;
	k->state = k->chunk_left ? K_DATA : K_TRAILER;
	k->have_digit = false;
	return k->total <= HTTP_MAX_BODY;
}

enum skip_result
http_chunked_skip(struct chunked_skipper *k, const char *p, size_t len, size_t *used)
{
	size_t i = 0;

	*used = 0;
	while (i < len && k->state != K_DONE) {
		char c = p[i++];
		int digit;
		size_t n;

		switch (k->state) {
		case K_SIZE:
			if ((digit = hex_digit(c)) >= 0) {
				if (k->chunk_left > HTTP_MAX_BODY)
					return SKIP_TOO_LARGE;
				k->chunk_left = k->chunk_left * 16 + (uint64_t)digit;
				k->have_digit = true;
			} else if (!k->have_digit) {
				return SKIP_BAD;
			} else if (c == ';' || c == ' ' || c == '\t') {
				k->state = K_EXTENSION;
			} else if (c == '\r') {
				k->state = K_SIZE_LF;
			} else if (c != '\n') {
				return SKIP_BAD;
			} else if (!begin_chunk(k)) {
				return SKIP_TOO_LARGE;
			}
			break;
		case K_EXTENSION:
			if (c == '\n' && !begin_chunk(k))
				return SKIP_TOO_LARGE;
			break;
		case K_SIZE_LF:
			if (c != '\n')
				return SKIP_BAD;
			if (!begin_chunk(k))
				return SKIP_TOO_LARGE;
			break;
		case K_DATA:
			n = len - i + 1;
			if ((uint64_t)n > k->chunk_left)
				n = (size_t)k->chunk_left;
			k->chunk_left -= n;
			i += n - 1;
			if (k->chunk_left == 0)
				k->state = K_DATA_CR;
			break;
		case K_DATA_CR:
			if (c == '\r')
				k->state = K_DATA_LF;
			else if (c == '\n')
				k->state = K_SIZE;
			else
				return SKIP_BAD;
			break;
		case K_DATA_LF:
			if (c != '\n')
				return SKIP_BAD;
			k->state = K_SIZE;
			break;
		case K_TRAILER:
			if (c == '\n')
				k->state = K_DONE;
			else
				k->state = c == '\r' ? K_END_LF : K_TRAILER_LINE;
			break;
		case K_TRAILER_LINE:
			if (c == '\n')
				k->state = K_TRAILER;
			break;
		case K_END_LF:
			if (c != '\n')
				return SKIP_BAD;
			k->state = K_DONE;
			break;
		}
	}
	*used = i;
	return k->state == K_DONE ? SKIP_DONE : SKIP_MORE;
}
