/*
 * Unit tests for http.c, filecache.c, tls.c and x509.c. The sources are
 * included so that their static functions can be reached. Usage:
 * tests/unit PKI_DIR, where PKI_DIR holds the files tests/mkpki.sh makes.
 */
#include "../http.c"
#include "../filecache.c"
#include "../tls.c"
#include "../x509.c"
#include "../side.c"

#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <utime.h>

#include "check.h"

/* ---- request parsing ---- */

static void
parse(const char *head, struct http_request *req)
{
	size_t len = strlen(head);

	http_parse_head(head, len, req);
}

static bool
text_eq(struct text t, const char *s)
{
	return t.len == strlen(s) && memcmp(t.p, s, t.len) == 0;
}

static void
test_head_end(void)
{
	const char *a = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET";
	const char *b = "GET / HTTP/1.1\nHost: x\n\nrest";

	CHECK(http_head_end(a, strlen(a), 0) == strlen(a) - 3);
	CHECK(http_head_end(b, strlen(b), 0) == strlen(b) - 4);
	CHECK(http_head_end("GET / HTTP/1.1\r\nHost: x\r\n", 25, 0) == 0);
	/* Resuming a scan that stopped between the CRLFs finds the end. */
	CHECK(http_head_end(a, strlen(a), 26) == strlen(a) - 3);
}

static void
test_parse_good(void)
{
	struct http_request r;

	parse("GET /a/b.html?x=1 HTTP/1.1\r\nHost: server2\r\nUser-Agent: t\r\n"
	    "Referer: r\r\nRange: bytes=0-1\r\n\r\n", &r);
	CHECK(r.error == S_NONE);
	CHECK(r.method == M_GET);
	CHECK(text_eq(r.path, "/a/b.html"));
	CHECK(text_eq(r.query, "x=1"));
	CHECK(text_eq(r.host, "server2"));
	CHECK(text_eq(r.user_agent, "t"));
	CHECK(text_eq(r.referer, "r"));
	CHECK(text_eq(r.range, "bytes=0-1"));
	CHECK(r.keep_alive);
	CHECK(text_eq(r.line, "GET /a/b.html?x=1 HTTP/1.1"));

	parse("GET / HTTP/1.999\r\nHost: a\r\n\r\n", &r);
	CHECK(r.error == S_NONE && r.version_minor == 999 && r.keep_alive);
	parse("HEAD / HTTP/1.0\n\n", &r);
	CHECK(r.error == S_NONE && r.method == M_HEAD && !r.keep_alive);
	parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r);
	CHECK(r.error == S_NONE && r.keep_alive);
	parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", &r);
	CHECK(r.error == S_NONE && !r.keep_alive);
	parse("GET https://h:8443/p?q HTTP/1.1\r\nHost: other\r\n\r\n", &r);
	CHECK(r.error == S_NONE && text_eq(r.host, "h:8443") && text_eq(r.path, "/p"));
	parse("GET ftp://h/p HTTP/1.1\r\nHost: other\r\n\r\n", &r);
	CHECK(r.error == S_NONE && text_eq(r.host, "h") && text_eq(r.path, "/p"));
	parse("GET /p#f?x HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	CHECK(r.error == S_NONE && text_eq(r.path, "/p") && r.query.len == 0);
	parse("GET /p?x#f HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	CHECK(r.error == S_NONE && text_eq(r.path, "/p") && text_eq(r.query, "x"));
	/* As nginx: odd header names are ignored, odd value bytes kept. */
	parse("GET / HTTP/1.1\r\nHost: a\r\nX@Y: 1\r\nX\x80: 1\r\nX_Y: 1\r\n"
	    "X-A: a\x01\x7f\x1b\r\n\r\n", &r);
	CHECK(r.error == S_NONE);
	parse("GET / HTTP/1.1\r\nHost: .a\\b.\r\n\r\n", &r);
	CHECK(r.error == S_NONE);
	parse("GET / HTTP/1.1\r\nHost: a.:1\r\n\r\n", &r);
	CHECK(r.error == S_NONE && host_name_length(r.host) == 1);
	parse("GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", &r);
	CHECK(r.error == S_NONE && host_name_length(r.host) == 5);
	parse("DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	CHECK(r.error == S_NONE && r.method == M_OTHER);
	parse("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	CHECK(r.error == S_NONE && r.method == M_TRACE && r.keep_alive);
	parse("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	CHECK(r.error == S_NONE);
}

static void
test_parse_bad(void)
{
	static const struct {
		const char *head;
		enum status want;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", S_BAD_REQUEST },                 /* no Host */
		{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", S_VERSION_NOT_SUPPORTED },
		{ "GET / HTTP/0.9\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/2\r\nHost: a\r\n\r\n", S_VERSION_NOT_SUPPORTED },
		{ "GET / HTTP/10.1\r\nHost: a\r\n\r\n", S_VERSION_NOT_SUPPORTED },
		{ "GET / HTTP/2.0x\r\nHost: a\r\n\r\n", S_VERSION_NOT_SUPPORTED },
		{ "GET / HTTP/01.1\r\nHost: a\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1\r\nHost: a\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.\r\nHost: a\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1000\r\nHost: a\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.-1\r\nHost: a\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/\r\nHost: a\r\n\r\n", S_BAD_REQUEST },
		{ "GET /\r\n\r\n", S_BAD_REQUEST },
		{ "get / HTTP/1.1\r\nHost: a\r\n\r\n", S_BAD_REQUEST },
		{ "GET x HTTP/1.1\r\nHost: a\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTX/1.1\r\nHost: a\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: a\r\nBad Name: 1\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: ../x\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: .\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", S_BAD_REQUEST },
		{ "GET https://a..b/ HTTP/1.1\r\nHost: a\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX\x7f: 1\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
		  S_NOT_IMPLEMENTED },
		{ "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n", S_BAD_REQUEST },
		{ "GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", S_BAD_REQUEST },
	};
	struct http_request r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		parse(cases[i].head, &r);
		if (r.error != cases[i].want)
			printf("  case %zu: got %d want %d\n", i, r.error, cases[i].want);
		CHECK(r.error == cases[i].want);
	}
	parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", &r);
	CHECK(r.error == S_NONE && r.has_body);
}

static void
test_head_too_large(void)
{
	struct http_request r;
	char buf[100];

	memset(buf, 'a', sizeof buf);
	memcpy(buf, "GET /", 5);
	http_head_too_large(buf, sizeof buf, &r);
	CHECK(r.error == S_URI_TOO_LONG);
	memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
	http_head_too_large(buf, sizeof buf, &r);
	CHECK(r.error == S_BAD_REQUEST && r.error_detail && strcmp(r.error_detail, DETAIL_HEADER_TOO_LARGE) == 0);
	CHECK(text_eq(r.line, "GET / HTTP/1.1"));
	CHECK(r.method == M_GET);
	memcpy(buf, "HEAD /", 6);
	memset(buf + 6, 'a', sizeof buf - 6);
	http_head_too_large(buf, sizeof buf, &r);
	CHECK(r.error == S_URI_TOO_LONG && r.method == M_HEAD);
}

static enum skip_result
skip_all(const char *body, size_t step, size_t *consumed)
{
	struct chunked_skipper k;
	enum skip_result r = SKIP_MORE;
	size_t pos = 0, len = strlen(body), used;

	memset(&k, 0, sizeof k);
	while (pos < len && r == SKIP_MORE) {
		size_t n = len - pos < step ? len - pos : step;

		r = http_chunked_skip(&k, body + pos, n, &used);
		pos += used;
	}
	*consumed = pos;
	return r;
}

static void
test_chunked(void)
{
	const char *good = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\nGET";
	size_t used, step;

	for (step = 1; step <= 8; step++) {
		CHECK(skip_all(good, step, &used) == SKIP_DONE);
		CHECK(used == strlen(good) - 3);
	}
	CHECK(skip_all("0\n\nX", 100, &used) == SKIP_DONE && used == 3);
	CHECK(skip_all("5\r\nhel", 100, &used) == SKIP_MORE);
	CHECK(skip_all("zz\r\n", 100, &used) == SKIP_BAD);
	CHECK(skip_all("5\r\nhelloX\r\n", 100, &used) == SKIP_BAD);
	CHECK(skip_all("100001\r\n", 100, &used) == SKIP_TOO_LARGE);
	CHECK(skip_all("ffffffffffffffffffff\r\n", 100, &used) == SKIP_TOO_LARGE);
}

/* ---- paths ---- */

static const char *
norm(const char *in)
{
	static char out[256];

	if (http_normalize_path(in, strlen(in), out, sizeof out) < 0)
		return "ERR";
	return out;
}

/* try_files' URIs: "//" merged, "." and ".." segments refused; the table's matching. */
static void
test_locations(void)
{
	static struct http_location table[4];
	char u[64], why[256];

	snprintf(u, sizeof u, "/a//b/");
	CHECK(tidy_uri(u, strlen(u)) == 5 && strcmp(u, "/a/b/") == 0);
	snprintf(u, sizeof u, "/a/../b");
	CHECK(tidy_uri(u, strlen(u)) < 0);
	snprintf(u, sizeof u, "/a/.");
	CHECK(tidy_uri(u, strlen(u)) < 0);
	snprintf(u, sizeof u, "/a/.html");
	CHECK(tidy_uri(u, strlen(u)) == 8);
	snprintf(u, sizeof u, "/a/..x");
	CHECK(tidy_uri(u, strlen(u)) == 6);
	memset(table, 0, sizeof table);
	table[0].path = "";
	table[1].path = "/a/";
	table[1].path_len = 3;
	table[2].path = "/a/b/";
	table[2].path_len = 5;
	table[2].match = HTTP_MATCH_NOREGEX;
	table[3].path = "/a/b/";
	table[3].path_len = 5;
	table[3].match = HTTP_MATCH_EXACT;
	CHECK(http_set_locations(table, 4, why, sizeof why) == 0);
	CHECK(http_find_location("/x", 2) == &table[0]);
	CHECK(http_find_location("/a/x", 4) == &table[1]);
	CHECK(http_find_location("/a/b/c", 6) == &table[2]);
	CHECK(http_find_location("/a/b/", 5) == &table[3]);
	CHECK(http_find_location("/a", 2) == &table[0]);
	/* Back to no table for the other tests */
	locations = &server_level;
	location_count = 1;
}

static void
test_normalize(void)
{
	CHECK(strcmp(norm("/"), "/") == 0);
	CHECK(strcmp(norm("/a/b"), "/a/b") == 0);
	CHECK(strcmp(norm("/a//b/"), "/a/b/") == 0);
	CHECK(strcmp(norm("/a/./b"), "/a/b") == 0);
	CHECK(strcmp(norm("/a/../b"), "/b") == 0);
	CHECK(strcmp(norm("/a/b/.."), "/a/") == 0);
	CHECK(strcmp(norm("/a/."), "/a/") == 0);
	CHECK(strcmp(norm("/%61%2Fb"), "/a/b") == 0);
	CHECK(strcmp(norm("/a%20b"), "/a b") == 0);
	CHECK(strcmp(norm("/.."), "ERR") == 0);
	CHECK(strcmp(norm("/../etc/passwd"), "ERR") == 0);
	CHECK(strcmp(norm("/a/../../x"), "ERR") == 0);
	CHECK(strcmp(norm("/%2e%2e/etc/passwd"), "ERR") == 0);
	CHECK(strcmp(norm("/%2E%2E%2Fetc"), "ERR") == 0);
	CHECK(strcmp(norm("/a%00b"), "ERR") == 0);
	CHECK(strcmp(norm("/a%zz"), "ERR") == 0);
	CHECK(strcmp(norm("/a%2"), "ERR") == 0);
	CHECK(strcmp(norm("/a%"), "ERR") == 0);
	CHECK(strcmp(norm("a"), "ERR") == 0);
	CHECK(strcmp(norm("/...."), "/....") == 0);
}

/* nginx's autoindex lines: escaping, cutting at 50 columns, dates, sizes, order. */
static void
test_listing(void)
{
	static char e60[121], x60[61], d49[50], d50[51];
	static const struct {
		const char *name;
		bool dir, utf8;
		int64_t size;
		const char *line;
	} rows[] = {
		{ "a b<&\">'.txt", false, false, 1234,
		  "<a href=\"a%20b%3C%26%22%3E%27.txt\">a b&lt;&amp;&quot;&gt;'.txt</a>"
		  "                                       01-Jan-1970 00:00                1234\r\n" },
		{ "100%+~_-.,;=@[]^`{|}!*()", false, false, 0,
		  "<a href=\"100%25%2B~_-.%2C%3B%3D%40%5B%5D%5E%60%7B%7C%7D%21%2A%28%29\">"
		  "100%+~_-.,;=@[]^`{|}!*()</a>                           01-Jan-1970 00:00"
		  "                   0\r\n" },
		{ "d", true, false, 4096,
		  "<a href=\"d/\">d/</a>                                                 "
		  "01-Jan-1970 00:00                   -\r\n" },
		{ x60, false, false, 7,
		  "<a href=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\">"
		  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..&gt;</a> 01-Jan-1970 00:00"
		  "                   7\r\n" },
		{ d49, true, false, 0, NULL },
		{ d50, true, false, 0, NULL },
		{ e60, false, true, 1, NULL },
		{ e60, false, false, 1, NULL },
		{ "\xc3\xa9t\xc3\xa9", false, true, 1,
		  "<a href=\"%C3%A9t%C3%A9\">\xc3\xa9t\xc3\xa9</a>"
		  "                                                01-Jan-1970 00:00"
		  "                   1\r\n" },
	};
	struct listing_entry e, list[5];
	char buf[2048], want[2048];
	struct writer w;
	size_t i;

	memset(x60, 'x', 60);
	memset(d49, 'd', 49);
	memset(d50, 'd', 50);
	for (i = 0; i < 30; i++)
		memcpy(e60 + 2 * i, "\xc3\xa9", 2);
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		e.name = rows[i].name;
		e.len = strlen(rows[i].name);
		e.dir = rows[i].dir;
		e.mtime = 0;
		e.size = rows[i].size;
		w = (struct writer){ buf, 0, sizeof buf - 1, false };
		put_listing_line(&w, &e, rows[i].utf8);
		buf[w.len] = '\0';
		if (rows[i].line) {
			CHECK_ROW(strcmp(buf, rows[i].line) == 0, rows[i].name);
			continue;
		}
		if (rows[i].name == d49)   /* a '/' fills the 50th column */
			snprintf(want, sizeof want, "<a href=\"%s/\">%s/</a> 01-Jan-1970 00:00"
			    "                   -\r\n", d49, d49);
		else if (rows[i].name == d50)   /* no room for the '/' */
			snprintf(want, sizeof want, "<a href=\"%s/\">%s</a> 01-Jan-1970 00:00"
			    "                   -\r\n", d50, d50);
		else if (rows[i].utf8)  /* 30 characters: whole, 20 spaces */
			snprintf(want, sizeof want, "<a href=\"%s\">%s</a>%20s 01-Jan-1970 00:00"
			    "                   1\r\n", "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"
			    "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"
			    "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"
			    "%C3%A9%C3%A9", e60, "");
		else    /* 60 bytes: cut after 47, inside a character, as nginx */
			snprintf(want, sizeof want, "<a href=\"%s\">%.47s..&gt;</a> 01-Jan-1970 "
			    "00:00                   1\r\n", "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"
			    "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"
			    "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"
			    "%C3%A9%C3%A9%C3%A9", e60);
		CHECK_ROW(strcmp(buf, want) == 0, rows[i].name);
	}
	/* A long UTF-8 name with charset utf-8: 47 characters, then "..>" */
	memcpy(e60 + 60, e60, 60);
	e.name = e60;
	e.len = 120;
	e.dir = false;
	e.mtime = 1700000000;   /* 2023-11-14 22:13:20 UTC */
	e.size = 123456789012LL;
	w = (struct writer){ buf, 0, sizeof buf - 1, false };
	put_listing_line(&w, &e, true);
	buf[w.len] = '\0';
	CHECK(strstr(buf, "\">") && strncmp(strstr(buf, "\">") + 2, e60, 94) == 0
	    && strncmp(strstr(buf, "\">") + 96, "..&gt;</a> 14-Nov-2023 22:13        123456789012\r\n",
	    50) == 0);
	/* Not UTF-8 under charset utf-8: counted in bytes */
	CHECK(listing_utf8_length("\xc3\xa9", 2) == 1 && listing_utf8_length("\xc3", 1) == 1
	    && listing_utf8_length("a\xc0\x80", 3) == 3 && listing_utf8_length("\xe2\x82\xac!", 4) == 2
	    && listing_utf8_length("\xf4\x90\x80\x80", 4) == 4 && listing_utf8_length("\xed\xa0\x80", 3) == 1);
	/* Directories first, then names byte by byte */
	list[0] = (struct listing_entry){ "b", 1, false, 0, 0 };
	list[1] = (struct listing_entry){ "\xc3\xa9", 2, false, 0, 0 };
	list[2] = (struct listing_entry){ "z", 1, true, 0, 0 };
	list[3] = (struct listing_entry){ "B", 1, false, 0, 0 };
	list[4] = (struct listing_entry){ "a", 1, true, 0, 0 };
	listing_sort(list, 5);
	CHECK(strcmp(list[0].name, "a") == 0 && strcmp(list[1].name, "z") == 0
	    && strcmp(list[2].name, "B") == 0 && strcmp(list[3].name, "b") == 0
	    && strcmp(list[4].name, "\xc3\xa9") == 0);
}

static void
test_mime_and_dates(void)
{
	static const struct {
		const char *path, *type;
	} types[] = {
		{ "/a/index.html", "text/html" },
		{ "/x.CSS", "text/css" },
		{ "/x.tar.gz", "application/gzip" },
		{ "/x.woff2", "font/woff2" },
		{ "/x", "application/octet-stream" },
		{ "/d.x/y", "application/octet-stream" },
		{ "/x.docx",
		    "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
		{ "/x.tk", "application/x-tcl" },
		{ "/x.t", "application/octet-stream" },
		{ "/x.", "application/octet-stream" },
		{ "/.txt", "application/octet-stream" },
		{ "/..txt", "application/octet-stream" },
		{ "/.a.txt", "text/plain" },
		{ "/d/.txt", "application/octet-stream" },
		{ "/x.csv", "application/octet-stream" },
	};
	char date[HTTP_DATE_SIZE];
	size_t i;

	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		CHECK_ROW(strcmp(http_content_type(types[i].path, strlen(types[i].path)),
		    types[i].type) == 0, types[i].path);
	http_format_date(1794547329, date);
	CHECK(strcmp(date, "Fri, 13 Nov 2026 05:22:09 GMT") == 0);
	CHECK(http_parse_date(date, strlen(date)) == 1794547329);
	CHECK(http_parse_date("Friday, 13-Nov-26 05:22:09 GMT", 30) == 1794547329);
	CHECK(http_parse_date("Fri Nov 13 05:22:09 2026", 24) == 1794547329);
	CHECK(http_parse_date("Fri, 13 Nov 2026 05:22:09", 25) == -1);
	CHECK(http_parse_date("yesterday", 9) == -1);
}

/* ---- responses ---- */

static struct http_response
range_of(uint64_t size, const char *range)
{
	struct http_response r;
	struct text t = { range, strlen(range) };

	memset(&r, 0, sizeof r);
	r.status = S_OK;
	r.size = size;
	apply_range(&r, t);
	return r;
}

static void
test_ranges(void)
{
	static const struct {
		uint64_t size;
		const char *range;
		enum status status;
		uint64_t first, last;   /* for S_PARTIAL_CONTENT */
	} rows[] = {
		{ 100, "bytes=0-9", S_PARTIAL_CONTENT, 0, 9 },
		{ 100, "bytes=90-", S_PARTIAL_CONTENT, 90, 99 },
		{ 100, "bytes=-10", S_PARTIAL_CONTENT, 90, 99 },
		{ 100, "bytes=-500", S_PARTIAL_CONTENT, 0, 99 },
		{ 100, "bytes=50-500", S_PARTIAL_CONTENT, 50, 99 },
		{ 100, "bytes=100-", S_RANGE_NOT_SATISFIABLE, 0, 0 },
		{ 100, "bytes=-0", S_RANGE_NOT_SATISFIABLE, 0, 0 },
		{ 100, "bytes=5-2", S_RANGE_NOT_SATISFIABLE, 0, 0 },
		{ 100, "bytes=abc", S_RANGE_NOT_SATISFIABLE, 0, 0 },
		{ 100, "bytes=0-1,5-6", S_OK, 0, 0 }, /* several ranges: the whole file */
		{ 100, "items=0-1", S_OK, 0, 0 },
		{ 0, "bytes=0-", S_OK, 0, 0 },
		{ 100, "bytes=99999999999999999999-", S_RANGE_NOT_SATISFIABLE, 0, 0 },
		/* nginx's rules for the odd ones */
		{ 100, "bytes=", S_OK, 0, 0 },
		{ 100, "BYTES=1-2", S_PARTIAL_CONTENT, 1, 2 },
		{ 100, "bytes=5-2,3-4", S_PARTIAL_CONTENT, 3, 4 },
		{ 100, "bytes=,0-9", S_RANGE_NOT_SATISFIABLE, 0, 0 },
		{ 100, "bytes=0-9,", S_RANGE_NOT_SATISFIABLE, 0, 0 },
		{ 100, "bytes= 0 - 9 ", S_PARTIAL_CONTENT, 0, 9 },
		{ 100, "bytes=0-99,0-99", S_OK, 0, 0 },
		{ 0, "bytes=-5", S_OK, 0, 0 },
		{ 0, "bytes=5-", S_RANGE_NOT_SATISFIABLE, 0, 0 },
		{ 100, "bytes=0-9223372036854775808", S_RANGE_NOT_SATISFIABLE, 0, 0 },
		{ 5368709120ULL, "bytes=5368709110-", S_PARTIAL_CONTENT, 5368709110ULL, 5368709119ULL },
	};
	struct http_response r;
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		r = range_of(rows[i].size, rows[i].range);
		CHECK_ROW(r.status == rows[i].status && (r.status != S_PARTIAL_CONTENT
		    || (r.first == rows[i].first && r.last == rows[i].last)), rows[i].range);
	}
}

static bool
etags_match(const char *list, bool weak)
{
	struct text t = { list, strlen(list) };
	const char *etag = "\"5f-10\"";

	return etag_list_matches(t, etag, strlen(etag), weak);
}

static void
test_etags(void)
{
	CHECK(etags_match("\"a\", W/\"5f-10\"", true));
	CHECK(!etags_match("\"a\", W/\"5f-10\"", false));
	CHECK(etags_match("\"a\",\"5f-10\" , \"b\"", false));
	CHECK(!etags_match("\"5f-11\"", true));
	CHECK(!etags_match("\"5f-10\"x", true));
	CHECK(!etags_match("5f-10", true));
	CHECK(etags_match("*", true));
	CHECK(etags_match("*", false));
	/* As nginx: "*" counts only alone. */
	CHECK(!etags_match("\"a\", *", true));
	CHECK(!etags_match("*, \"a\"", false));
}

static void
test_error_pages(void)
{
	struct http_response r;
	struct http_request req;
	struct http_endpoint ep = { "127.0.0.1", 8443 };
	char out[2048];
	size_t n;

	parse("GET / HTTP/1.1\r\nHost: server2\r\n\r\n", &req);
	http_prepare_error(&r, &req, S_BAD_REQUEST, DETAIL_NO_CERT, false);
	n = http_write_head(&r, &req, &ep, 0, out, sizeof out);
	CHECK(n > 0);
	out[n] = '\0';
	/* nginx's page is 237 bytes with "nginx/1.22.1", one longer than ours. */
	CHECK(r.body_bytes == 237 - strlen("nginx/1.22.1") + strlen(SERVER_TOKEN));
	CHECK(strstr(out, "HTTP/1.1 400 Bad Request\r\nServer: mtlsd/") == out);
	CHECK(strstr(out, "<title>400 No required SSL certificate was sent</title>"));
	CHECK(strstr(out, "Connection: close\r\n"));
	http_prepare_error(&r, &req, S_NOT_FOUND, NULL, true);
	n = http_write_head(&r, &req, &ep, 0, out, sizeof out);
	out[n] = '\0';
	CHECK(r.body_bytes == 153 - strlen("nginx/1.22.1") + strlen(SERVER_TOKEN));
	CHECK(strstr(out, "Connection: keep-alive\r\n"));
	/* Every error page in nginx's shape, with our name. */
	{
		static const enum status pages[] = {
			S_MOVED_PERMANENTLY, S_BAD_REQUEST, S_FORBIDDEN, S_NOT_FOUND,
			S_METHOD_NOT_ALLOWED, S_REQUEST_TIMEOUT, S_PRECONDITION_FAILED,
			S_PAYLOAD_TOO_LARGE, S_URI_TOO_LONG, S_RANGE_NOT_SATISFIABLE,
			S_INTERNAL_SERVER_ERROR, S_NOT_IMPLEMENTED, S_VERSION_NOT_SUPPORTED,
		};
		char want[512], head[64];
		size_t i, body;

		for (i = 0; i < sizeof pages / sizeof pages[0]; i++) {
			enum status st = pages[i];

			snprintf(want, sizeof want, "<html>\r\n<head><title>%d %s</title></head>\r\n"
			    "<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>mtlsd/"
			    MTLSD_VERSION "</center>\r\n</body>\r\n</html>\r\n",
			    st, http_reason(st), st, http_reason(st));
			http_prepare_error(&r, &req, st, NULL, true);
			n = http_write_head(&r, &req, &ep, 0, out, sizeof out - 1);
			out[n] = '\0';
			body = n - strlen(want);
			snprintf(head, sizeof head, "Content-Length: %zu\r\n", strlen(want));
			CHECK(n > strlen(want) && strcmp(out + body, want) == 0
			    && strstr(out, head) && r.body_bytes == strlen(want));
			r.head_only = true;
			r.body_bytes = 0;
			n = http_write_head(&r, &req, &ep, 0, out, sizeof out - 1);
			out[n] = '\0';
			CHECK(n == body && strstr(out, head) && r.body_bytes == 0);
		}
		CHECK(strcmp(http_reason(S_REQUEST_TIMEOUT), "Request Time-out") == 0);
		CHECK(strcmp(http_reason(S_PRECONDITION_FAILED), "Precondition Failed") == 0);
	}
	/* A head that does not fit is refused whole, never cut. */
	CHECK(http_write_head(&r, &req, &ep, 0, out, 100) == 0);
	parse("GET /a%0d%0aX:%20y HTTP/1.1\r\nHost: h:1\r\n\r\n", &req);
	http_prepare_error(&r, &req, S_MOVED_PERMANENTLY, NULL, true);
	n = http_write_head(&r, &req, &ep, 0, out, sizeof out);
	out[n] = '\0';
	CHECK(strstr(out, "Location: https://h:8443/a%0D%0AX:%20y/\r\n") != NULL);
	parse("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", &req);
	CHECK(req.expects_continue);
	http_prepare_error(&r, &req, S_OK, NULL, true);
	r.content_type = "text/html";
	r.send_continue = true;
	n = http_write_head(&r, &req, &ep, 0, out, sizeof out);
	out[n] = '\0';
	CHECK(strstr(out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n") == out);
	parse("GET /d HTTP/1.1\r\nHost: SERVER2.:8443\r\n\r\n", &req);
	http_prepare_error(&r, &req, S_MOVED_PERMANENTLY, NULL, true);
	n = http_write_head(&r, &req, &ep, 0, out, sizeof out);
	out[n] = '\0';
	CHECK(strstr(out, "Location: https://server2:8443/d/\r\n") != NULL);
}

/* ---- files beneath the root ---- */

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static enum status
serve(int root_fd, const char *head)
{
	struct http_request req;
	struct http_response resp;
	struct http_site s = { root_fd, "index.html", NULL, NULL, NULL, NULL };

	parse(head, &req);
	http_prepare(&resp, &req, &s, true);
	http_response_end(&resp);
	return resp.status;
}

/*
 * Without openat2 (kernels before 5.6, qemu-user before 9.0) http.c refuses
 * every symlink, even one that stays inside the root.
 */
static bool
have_openat2(int dir_fd)
{
#if defined(__linux__) && defined(SYS_openat2)
	struct open_how how;
	int fd;

	memset(&how, 0, sizeof how);
	how.flags = O_RDONLY | O_DIRECTORY;
	fd = (int)syscall(SYS_openat2, dir_fd, ".", &how, sizeof how);
	if (fd >= 0)
		close(fd);
	return fd >= 0 || errno != ENOSYS;
#else
	(void)dir_fd;
	return false;
#endif
}

static void
test_resolve(void)
{
	char dir[] = "/tmp/mtlsd-unit-XXXXXX", path[256];
	int root_fd;
	bool beneath;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof path, "%s/www", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/www/sub", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/www/empty", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/www/index.html", dir);
	write_file(path, "hello\n");
	snprintf(path, sizeof path, "%s/www/sub/index.html", dir);
	write_file(path, "sub\n");
	snprintf(path, sizeof path, "%s/secret", dir);
	write_file(path, "secret\n");
	snprintf(path, sizeof path, "%s/www/out", dir);
	if (symlink("../secret", path) != 0)
		CHECK(!"symlink");
	snprintf(path, sizeof path, "%s/www/in", dir);
	if (symlink("index.html", path) != 0)
		CHECK(!"symlink");
	snprintf(path, sizeof path, "%s/www/fifo", dir);
	mkfifo(path, 0644);
	snprintf(path, sizeof path, "%s/www/loop", dir);
	if (symlink("loop", path) != 0)
		CHECK(!"symlink");
	{
		struct sockaddr_un sun;
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s/www/sock", dir);
		if (s < 0 || bind(s, (struct sockaddr *)&sun, sizeof sun) != 0)
			CHECK(!"unix socket");
		if (s >= 0)
			close(s);
	}
	snprintf(path, sizeof path, "%s/www", dir);
	root_fd = open(path, O_RDONLY | O_DIRECTORY);
	beneath = have_openat2(root_fd);
	if (!beneath)
		printf("# no openat2 here: a symlink inside the root must be refused too\n");

	CHECK(serve(root_fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n") == S_OK);
	CHECK(serve(root_fd, "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n") == S_OK);
	CHECK(serve(root_fd, "GET /sub HTTP/1.1\r\nHost: a\r\n\r\n") == S_MOVED_PERMANENTLY);
	CHECK(serve(root_fd, "GET /sub/ HTTP/1.1\r\nHost: a\r\n\r\n") == S_OK);
	CHECK(serve(root_fd, "GET /empty/ HTTP/1.1\r\nHost: a\r\n\r\n") == S_FORBIDDEN);
	CHECK(serve(root_fd, "GET /missing HTTP/1.1\r\nHost: a\r\n\r\n") == S_NOT_FOUND);
	CHECK(serve(root_fd, "GET /index.html/x HTTP/1.1\r\nHost: a\r\n\r\n") == S_NOT_FOUND);
	CHECK(serve(root_fd, "GET /out HTTP/1.1\r\nHost: a\r\n\r\n") == S_NOT_FOUND);
	CHECK(serve(root_fd, "GET /in HTTP/1.1\r\nHost: a\r\n\r\n")
	    == (beneath ? S_OK : S_NOT_FOUND));
	CHECK(serve(root_fd, "GET /fifo HTTP/1.1\r\nHost: a\r\n\r\n") == S_NOT_FOUND);
	CHECK(serve(root_fd, "GET /sock HTTP/1.1\r\nHost: a\r\n\r\n") == S_NOT_FOUND);
	CHECK(serve(root_fd, "GET /loop HTTP/1.1\r\nHost: a\r\n\r\n")
	    == (beneath ? S_FORBIDDEN : S_NOT_FOUND));
	CHECK(serve(root_fd, "GET /../secret HTTP/1.1\r\nHost: a\r\n\r\n") == S_BAD_REQUEST);
	CHECK(serve(root_fd, "POST / HTTP/1.1\r\nHost: a\r\n\r\n") == S_METHOD_NOT_ALLOWED);
	CHECK(serve(root_fd, "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n")
	    == S_PAYLOAD_TOO_LARGE);
	CHECK(serve(root_fd, "GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: *\r\n\r\n")
	    == S_NOT_MODIFIED);
	CHECK(serve(root_fd, "GET / HTTP/1.1\r\nHost: a\r\nIf-Match: \"0-0\"\r\n\r\n")
	    == S_PRECONDITION_FAILED);
	CHECK(serve(root_fd, "GET / HTTP/1.1\r\nHost: a\r\nIf-Match: *\r\n\r\n") == S_OK);
	CHECK(serve(root_fd, "GET / HTTP/1.1\r\nHost: a\r\n"
	    "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:01 GMT\r\n\r\n") == S_PRECONDITION_FAILED);
	CHECK(serve(root_fd, "GET / HTTP/1.1\r\nHost: a\r\n"
	    "If-Unmodified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n") == S_OK);
	CHECK(serve(root_fd, "GET / HTTP/1.1\r\nHost: a\r\n"
	    "If-Unmodified-Since: soon\r\n\r\n") == S_PRECONDITION_FAILED);
	/* "100 Continue" with a file, and the body is then skipped. */
	{
		struct http_request req;
		struct http_response resp;
		struct http_site st = { root_fd, "index.html", NULL, NULL, NULL, NULL };

		parse("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
		    "Content-Length: 5\r\n\r\n", &req);
		http_prepare(&resp, &req, &st, true);
		CHECK(resp.status == S_OK && resp.send_continue && resp.keep_alive);
		http_response_end(&resp);
		parse("GET /missing HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
		    "Content-Length: 5\r\n\r\n", &req);
		http_prepare(&resp, &req, &st, true);
		CHECK(resp.status == S_NOT_FOUND && !resp.send_continue && !resp.keep_alive);
		parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n"
		    "Content-Length: 5\r\n\r\n", &req);
		http_prepare(&resp, &req, &st, true);
		CHECK(resp.status == S_OK && !resp.send_continue && resp.keep_alive);
		http_response_end(&resp);
	}
	/* 412 before 304, as nginx's not_modified filter. */
	CHECK(serve(root_fd, "GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: *\r\n"
	    "If-Match: \"0-0\"\r\n\r\n") == S_PRECONDITION_FAILED);
	CHECK(serve(root_fd, "GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\n\r\n")
	    == S_PARTIAL_CONTENT);
	CHECK(serve(root_fd, "GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\n"
	    "If-Range: \"0-0\"\r\n\r\n") == S_OK);
	/* The fallback walk refuses every symlink but still serves files. */
	CHECK(open_walk(root_fd, "out", O_RDONLY) < 0);
	CHECK(open_walk(root_fd, "in", O_RDONLY) < 0 && errno == EXDEV);
	CHECK(open_walk(root_fd, "loop", O_RDONLY) < 0 && errno == EXDEV);
	{
		int fd = open_walk(root_fd, "sub/index.html", O_RDONLY);

		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	close(root_fd);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		CHECK(!"cleanup");
}

/* ---- the open-file cache ---- */

static bool
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int
open_file(int dir_fd, const char *name)
{
	return openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
}

/* put() after the open the caller makes on a miss. */
static struct file_cache_entry *
cache_open(struct file_cache *c, int dir_fd, const char *name, int *fd_out)
{
	struct stat st;
	char key[64];
	int fd = open_file(dir_fd, name);

	*fd_out = fd;
	snprintf(key, sizeof key, "/%s", name);
	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	return file_cache_put(c, dir_fd, key, strlen(key), fd, &st, "text/plain");
}

static struct file_cache_entry *
cache_get(struct file_cache *c, int dir_fd, const char *name)
{
	struct stat st;
	char key[64];

	snprintf(key, sizeof key, "/%s", name);
	return file_cache_get(c, dir_fd, key, strlen(key), &st);
}

/* Gives back a reference that a hit must have given. */
static void
put_back(struct file_cache_entry *e)
{
	CHECK(e != NULL);
	if (e)
		file_cache_release(e);
}

/* Replaces a file's bytes in place, keeping its size. */
static void
rewrite(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);

	usleep(20000);  /* past a coarse timestamp tick */
	if (fd < 0 || pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text))
		CHECK(!"rewrite");
	if (fd >= 0)
		close(fd);
}

static void
test_file_cache_table(int dir_fd, const char *dir)
{
	struct file_cache c;
	struct file_cache_entry *e, *e2;
	struct stat st;
	char path[256], longkey[300];
	int fd, fd2, fd3;
	const int64_t t0 = 1000000;

	CHECK(file_cache_init(&c, 0, 5000) == 0);
	CHECK(cache_open(&c, dir_fd, "a.txt", &fd) == NULL);   /* off */
	close(fd);
	CHECK(file_cache_init(&c, 2, 5000) == 0);
	file_cache_tick(&c, t0);
	CHECK(cache_get(&c, dir_fd, "a.txt") == NULL);

	/* A hit: the same descriptor, a fresh fstat, a reference each. */
	e = cache_open(&c, dir_fd, "a.txt", &fd);
	CHECK(e && e->fd == fd && e->refs == 1 && c.open == 1);
	put_back(e);
	CHECK(e->refs == 0 && fd_open(fd));
	memset(&st, 0, sizeof st);
	e2 = file_cache_get(&c, dir_fd, "/a.txt", 6, &st);
	CHECK(e2 == e && e->refs == 1 && st.st_size == 6 && S_ISREG(st.st_mode));
	CHECK(file_cache_get(&c, dir_fd, "/a.txt", 6, &st) == e && e->refs == 2);
	CHECK(file_cache_get(&c, dir_fd + 1, "/a.txt", 6, &st) == NULL);  /* another root */
	CHECK(file_cache_get(&c, dir_fd, "/a.tx", 5, &st) == NULL);
	put_back(e);
	put_back(e);

	/* Same size, new bytes: ctime and mtime moved, the entry goes. */
	snprintf(path, sizeof path, "%s/a.txt", dir);
	rewrite(path, "AAAAA\n");
	CHECK(cache_get(&c, dir_fd, "a.txt") == NULL);
	CHECK(!fd_open(fd) && c.open == 0);

	/* Unlinked: no link left. */
	e = cache_open(&c, dir_fd, "b.txt", &fd2);
	put_back(e);
	snprintf(path, sizeof path, "%s/b.txt", dir);
	unlink(path);
	CHECK(cache_get(&c, dir_fd, "b.txt") == NULL && !fd_open(fd2) && c.open == 0);

	/* Renamed over: the old file lost its link (and its ctime moved). */
	e = cache_open(&c, dir_fd, "a.txt", &fd);
	put_back(e);
	snprintf(path, sizeof path, "%s/new.tmp", dir);
	write_file(path, "other\n");
	{
		char to[256];

		snprintf(to, sizeof to, "%s/a.txt", dir);
		usleep(20000);
		if (rename(path, to) != 0)
			CHECK(!"rename");
	}
	CHECK(cache_get(&c, dir_fd, "a.txt") == NULL && !fd_open(fd) && c.open == 0);

	/* The path is opened again once it was resolved more than 1 s ago. */
	e = cache_open(&c, dir_fd, "a.txt", &fd);
	put_back(e);
	file_cache_tick(&c, t0 + FILE_CACHE_RESOLVE_MS);
	CHECK(cache_get(&c, dir_fd, "a.txt") == e);
	put_back(e);
	file_cache_tick(&c, t0 + FILE_CACHE_RESOLVE_MS + 1);
	CHECK(cache_get(&c, dir_fd, "a.txt") == NULL && !fd_open(fd));
	file_cache_tick(&c, t0);

	/* Dropped while in use: out of the table, closed by the last release. */
	e = cache_open(&c, dir_fd, "a.txt", &fd);
	CHECK(file_cache_get(&c, dir_fd, "/a.txt", 6, &st) == e && e->refs == 2);
	file_cache_flush(&c);
	CHECK(e->state == FC_DOOMED && fd_open(fd) && c.open == 1);
	CHECK(cache_get(&c, dir_fd, "a.txt") == NULL);
	e2 = cache_open(&c, dir_fd, "a.txt", &fd2);     /* a new entry beside it */
	CHECK(e2 && e2 != e && fd2 != fd && c.open == 2);
	put_back(e);
	CHECK(fd_open(fd));
	put_back(e);
	CHECK(!fd_open(fd) && e->state == FC_FREE && c.open == 1);
	put_back(e2);

	/* Eviction: the entry not hit since the hand passed goes. */
	file_cache_flush(&c);
	CHECK(c.open == 0);
	e = cache_open(&c, dir_fd, "a.txt", &fd);
	put_back(e);
	e2 = cache_open(&c, dir_fd, "c.txt", &fd2);
	put_back(e2);
	put_back(cache_get(&c, dir_fd, "a.txt"));    /* a.txt hit */
	e2 = cache_open(&c, dir_fd, "d.txt", &fd3);            /* c.txt evicted */
	CHECK(e2 != NULL);
	put_back(e2);
	CHECK(!fd_open(fd2) && fd_open(fd) && c.open == 2);
	CHECK(cache_get(&c, dir_fd, "c.txt") == NULL);
	put_back(cache_get(&c, dir_fd, "d.txt"));
	/* Every entry in use: not cached, the descriptor stays the caller's. */
	e = cache_get(&c, dir_fd, "a.txt");
	e2 = cache_get(&c, dir_fd, "d.txt");
	CHECK(e && e2);
	CHECK(cache_open(&c, dir_fd, "c.txt", &fd2) == NULL && fd_open(fd2) && c.open == 2);
	close(fd2);
	/* Idle ones only are shed when descriptors run out. */
	put_back(e2);
	CHECK(file_cache_shed(&c) == 1 && !fd_open(fd3) && fd_open(fd) && c.open == 1);
	put_back(e);

	/* Longer paths are not cached. */
	memset(longkey, 'x', sizeof longkey);
	longkey[0] = '/';
	fd2 = open_file(dir_fd, "c.txt");
	fstat(fd2, &st);
	CHECK(file_cache_put(&c, dir_fd, longkey, FILE_CACHE_PATH_MAX + 1, fd2, &st,
	    "x") == NULL);
	CHECK(file_cache_get(&c, dir_fd, longkey, FILE_CACHE_PATH_MAX + 1, &st) == NULL);
	e2 = file_cache_put(&c, dir_fd, longkey, FILE_CACHE_PATH_MAX, fd2, &st, "x");
	CHECK(e2 != NULL);
	put_back(e2);
	CHECK(file_cache_get(&c, dir_fd, longkey, FILE_CACHE_PATH_MAX, &st) == e2);
	put_back(e2);

	file_cache_flush(&c);
	CHECK(c.open == 0);
	free(c.entries);
	free(c.buckets);

	/* Idle entries close after inactive_ms (and a second's slack), not before. */
	CHECK(file_cache_init(&c, 4, 5000) == 0);
	file_cache_tick(&c, t0);
	e = cache_open(&c, dir_fd, "a.txt", &fd);
	e2 = cache_open(&c, dir_fd, "c.txt", &fd2);
	CHECK(file_cache_deadline(&c) == INT64_MAX);    /* both in use */
	file_cache_tick(&c, t0 + 500);
	put_back(e);                          /* idle from t0 + 500 */
	CHECK(file_cache_deadline(&c) == t0 + 6500);
	file_cache_tick(&c, t0 + 3000);
	put_back(e2);                         /* idle from t0 + 3000 */
	CHECK(file_cache_deadline(&c) == t0 + 6500);
	file_cache_tick(&c, t0 + 6499);
	CHECK(fd_open(fd) && fd_open(fd2));
	file_cache_tick(&c, t0 + 6500);
	CHECK(!fd_open(fd) && fd_open(fd2) && c.open == 1);
	CHECK(file_cache_deadline(&c) == t0 + 9000);
	file_cache_tick(&c, t0 + 9000);
	CHECK(!fd_open(fd2) && c.open == 0 && file_cache_deadline(&c) == INT64_MAX);
	/* A busy entry is never expired; its release schedules the sweep. */
	e = cache_open(&c, dir_fd, "a.txt", &fd);
	file_cache_tick(&c, t0 + 70000);
	CHECK(fd_open(fd) && file_cache_deadline(&c) == INT64_MAX);
	put_back(e);
	CHECK(file_cache_deadline(&c) == t0 + 76000);
	file_cache_flush(&c);
	CHECK(c.open == 0 && !fd_open(fd));
	free(c.entries);
	free(c.buckets);
}

static enum status
cached_serve(struct http_site *s, const char *head, struct http_response *r)
{
	struct http_request req;

	parse(head, &req);
	http_prepare(r, &req, s, true);
	return r->status;
}

/* The cache behind http_prepare(): what a response holds and gives back. */
static void
test_file_cache_http(int dir_fd, const char *dir)
{
	struct file_cache c;
	struct http_site s = { dir_fd, "index.html", &c, NULL, NULL, NULL };
	struct http_site plain = { dir_fd, "index.html", NULL, NULL, NULL, NULL };
	struct http_response r1, r2;
	struct rlimit rl, low;
	struct stat st;
	char path[256];
	int fd, limit, filler[64], fillers = 0;

	CHECK(file_cache_init(&c, 4, 60000) == 0);
	file_cache_tick(&c, 5000);
	CHECK(cached_serve(&s, "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", &r1) == S_OK);
	CHECK(r1.cached && r1.fd == r1.cached->fd && r1.size == 6 && r1.remaining == 6);
	CHECK(cached_serve(&s, "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", &r2) == S_OK);
	CHECK(r2.cached == r1.cached && r2.fd == r1.fd && r1.cached->refs == 2);
	fd = r1.fd;
	http_response_end(&r1);
	CHECK(r1.fd == -1 && r1.cached == NULL && r2.cached->refs == 1);
	http_response_end(&r2);
	http_response_end(&r2);
	CHECK(c.open == 1 && fd_open(fd));

	/* "/sub/" is the key of sub/index.html, with its content type. */
	CHECK(cached_serve(&s, "GET /sub/ HTTP/1.1\r\nHost: a\r\n\r\n", &r1) == S_OK);
	snprintf(path, sizeof path, "%s/sub/index.html", dir);
	CHECK(r1.cached && strcmp(r1.cached->path, "/sub/") == 0
	    && strcmp(r1.content_type, "text/html") == 0);
	CHECK(stat(path, &st) == 0 && r1.cached->ino == st.st_ino);
	http_response_end(&r1);
	CHECK(cached_serve(&s, "GET /sub HTTP/1.1\r\nHost: a\r\n\r\n", &r1)
	    == S_MOVED_PERMANENTLY && !r1.cached && r1.fd == -1);
	CHECK(cached_serve(&s, "GET /sub/ HTTP/1.1\r\nHost: a\r\n\r\n", &r1) == S_OK);
	CHECK(r1.cached && strcmp(r1.content_type, "text/html") == 0);
	http_response_end(&r1);

	/* No body to send: the reference goes back before the head is written. */
	CHECK(cached_serve(&s, "HEAD /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", &r1) == S_OK);
	CHECK(!r1.cached && r1.fd == -1 && c.entries[0].refs == 0 && r1.size == 6);
	CHECK(cached_serve(&s, "GET /a.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: *\r\n\r\n",
	    &r1) == S_NOT_MODIFIED && !r1.cached && r1.fd == -1);
	CHECK(c.open == 2 && fd_open(fd));

	/* Headers come from the fstat of this request. */
	snprintf(path, sizeof path, "%s/a.txt", dir);
	CHECK(cached_serve(&s, "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", &r2) == S_OK);
	usleep(20000);
	{
		FILE *f = fopen(path, "a");

		if (f) {
			fputs("more\n", f);
			fclose(f);
		}
	}
	CHECK(cached_serve(&s, "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", &r1) == S_OK);
	CHECK(r1.size == 11 && r1.cached && r1.cached != r2.cached && r1.fd != fd);
	CHECK(r2.cached->state == FC_DOOMED && fd_open(fd) && r2.size == 6);
	http_response_end(&r2);
	CHECK(!fd_open(fd));
	http_response_end(&r1);

	/*
	 * Out of descriptors: the idle cached ones are closed and the open is
	 * tried once more.
	 */
	/* Every descriptor below the highest cached one taken, none above. */
	CHECK(c.open == 2);
	limit = c.entries[0].fd > c.entries[1].fd ? c.entries[0].fd : c.entries[1].fd;
	limit = (limit > c.entries[2].fd ? limit : c.entries[2].fd) + 1;
	while (fillers < (int)(sizeof filler / sizeof filler[0])
	    && (filler[fillers] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
		if (filler[fillers] >= limit) {
			close(filler[fillers]);
			break;
		}
		fillers++;
	}
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	low = rl;
	low.rlim_cur = (rlim_t)limit;
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	CHECK(open("/dev/null", O_RDONLY) < 0 && errno == EMFILE);
	/* (the site without a cache has nothing to close: 500, as before) */
	CHECK(cached_serve(&plain, "GET /c.txt HTTP/1.1\r\nHost: a\r\n\r\n", &r1)
	    == S_INTERNAL_SERVER_ERROR);
	CHECK(cached_serve(&s, "GET /c.txt HTTP/1.1\r\nHost: a\r\n\r\n", &r1) == S_OK);
	CHECK(r1.cached && c.open == 1);
	setrlimit(RLIMIT_NOFILE, &rl);
	http_response_end(&r1);
	while (fillers > 0)
		close(filler[--fillers]);

	/* Without a cache, each response owns its descriptor. */
	CHECK(cached_serve(&plain, "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", &r1) == S_OK);
	CHECK(!r1.cached && r1.fd >= 0 && c.open == 1);
	http_response_end(&r1);

	file_cache_flush(&c);
	CHECK(c.open == 0);
	free(c.entries);
	free(c.buckets);
}

static void
test_file_cache(void)
{
	char dir[] = "/tmp/mtlsd-unit-XXXXXX", path[256];
	static const char *const names[] = { "a.txt", "b.txt", "c.txt", "d.txt" };
	size_t i;
	int dir_fd;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		write_file(path, "hello\n");
	}
	snprintf(path, sizeof path, "%s/sub", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/sub/index.html", dir);
	write_file(path, "<p>sub</p>\n");
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	test_file_cache_table(dir_fd, dir);
	/* The table test changed a.txt; start again from six bytes. */
	snprintf(path, sizeof path, "%s/a.txt", dir);
	write_file(path, "hello\n");
	test_file_cache_http(dir_fd, dir);
	close(dir_fd);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		CHECK(!"cleanup");
}

/* ---- 32-bit targets: off_t, time_t ---- */

static void
test_wide_types(void)
{
	char date[HTTP_DATE_SIZE];
	struct http_response r;
	long long secs = 3786912000LL;      /* 2090-01-01, past 2038 */
	time_t t = (time_t)secs;

	CHECK(sizeof(off_t) == 8);
	CHECK(sizeof(time_t) == 8);
	if (sizeof(time_t) < 8)
		return;
	http_format_date(t, date);
	CHECK(strcmp(date, "Sun, 01 Jan 2090 00:00:00 GMT") == 0);
	CHECK(http_parse_date(date, strlen(date)) == t);
	r = range_of(5368709120ULL, "bytes=5368709114-");   /* 5 GiB */
	CHECK(r.status == S_PARTIAL_CONTENT && r.first == 5368709114ULL
	    && r.last == 5368709119ULL);
}

/* ---- which BearSSL implementations the engine ends up with ---- */

/*
 * The name of `impl` in `names` (count entries); "none" for NULL. Entries
 * whose implementation this CPU lacks are NULL and match nothing.
 */
struct impl_name {
	const void *impl;
	const char *name;
};

static const char *
impl_name(const void *impl, const struct impl_name *names, size_t count)
{
	size_t i;

	for (i = 0; impl && i < count; i++)
		if (names[i].impl == impl)
			return names[i].name;
	return impl ? "unknown" : "none";
}

#define IMPL_NAME(impl, names) impl_name((const void *)(impl), names, \
	sizeof names / sizeof names[0])

/*
 * Prints what a session set up by tls_session_init() uses: on x86 the
 * AES-NI/PCLMUL code when the CPU has it, elsewhere BearSSL's portable
 * constant-time code. Every AEAD suite must have an implementation.
 */
static void
test_implementations(void)
{
	static struct tls_session s;
	static struct tls_buffers b;
	const br_ssl_engine_context *eng = &s.server.eng;
	const struct impl_name aes_ctrs[] = {
		{ br_aes_x86ni_ctr_get_vtable(), "aes_x86ni" },
		{ br_aes_pwr8_ctr_get_vtable(), "aes_pwr8" },
		{ &br_aes_ct64_ctr_vtable, "aes_ct64" }, { &br_aes_ct_ctr_vtable, "aes_ct" },
		{ &br_aes_big_ctr_vtable, "aes_big" }, { &br_aes_small_ctr_vtable, "aes_small" },
	}, ghashes[] = {
		{ (const void *)br_ghash_pclmul_get(), "ghash_pclmul" },
		{ (const void *)br_ghash_pwr8_get(), "ghash_pwr8" },
		{ (const void *)&br_ghash_ctmul64, "ghash_ctmul64" },
		{ (const void *)&br_ghash_ctmul32, "ghash_ctmul32" },
		{ (const void *)&br_ghash_ctmul, "ghash_ctmul" },
	}, chachas[] = {
		{ (const void *)br_chacha20_sse2_get(), "chacha20_sse2" },
		{ (const void *)&br_chacha20_ct_run, "chacha20_ct" },
	}, polys[] = {
		{ (const void *)br_poly1305_ctmulq_get(), "poly1305_ctmulq" },
		{ (const void *)&br_poly1305_ctmul_run, "poly1305_ctmul" },
		{ (const void *)&br_poly1305_ctmul32_run, "poly1305_ctmul32" },
		{ (const void *)&br_poly1305_i15_run, "poly1305_i15" },
	}, rsas[] = {
		{ (const void *)br_rsa_i62_private_get(), "rsa_i62" },
		{ (const void *)&br_rsa_i31_private, "rsa_i31" },
		{ (const void *)&br_rsa_i32_private, "rsa_i32" },
		{ (const void *)&br_rsa_i15_private, "rsa_i15" },
	}, ecs[] = {
		{ &br_ec_all_m31, "ec_all_m31" }, { &br_ec_all_m15, "ec_all_m15" },
	};
	const char *aes, *ghash, *chacha, *poly;

	tls_session_init(&s, &b);
	aes = IMPL_NAME(eng->iaes_ctr, aes_ctrs);
	ghash = IMPL_NAME(eng->ighash, ghashes);
	chacha = IMPL_NAME(eng->ichacha, chachas);
	poly = IMPL_NAME(eng->ipoly, polys);
	printf("# BearSSL implementations: AES-GCM %s + %s, ChaCha20-Poly1305 "
	    "%s + %s, RSA %s, EC %s\n", aes, ghash, chacha, poly,
	    IMPL_NAME(br_rsa_private_get_default(), rsas), IMPL_NAME(eng->iec, ecs));
	CHECK(strcmp(aes, "none") != 0 && strcmp(aes, "unknown") != 0);
	CHECK(strcmp(ghash, "none") != 0 && strcmp(ghash, "unknown") != 0);
	CHECK(strcmp(chacha, "none") != 0 && strcmp(chacha, "unknown") != 0);
	CHECK(strcmp(poly, "none") != 0 && strcmp(poly, "unknown") != 0);
}

/* ---- PEM, keys, certificates ---- */

static int
load(const char *dir, const char *cert, const char *key, const char *ca, char *why)
{
	static char c[512], k[512], a[512];
	static struct tls_config config;
	struct tls_credentials *creds;

	snprintf(c, sizeof c, "%s/%s", dir, cert);
	snprintf(k, sizeof k, "%s/%s", dir, key);
	snprintf(a, sizeof a, "%s/%s", dir, ca);
	memset(&config, 0, sizeof config);
	config.cert_file = c;
	config.key_file = k;
	config.ca_file = a;
	why[0] = '\0';
	if (!(creds = tls_load(&config, why, 512)))
		return -1;
	free_credentials(creds);
	return 0;
}

/*
 * Loading a server certificate, key and CA: `why` NULL when it loads, else
 * what the error names (and `also`, when not NULL).
 */
static void
test_credentials(const char *dir)
{
	static const struct {
		const char *cert, *key, *ca, *why, *also;
	} rows[] = {
		{ "server2.crt", "server2.key", "ca.crt", NULL, NULL },
		{ "server2.crt", "rsa-pkcs1.key", "ca.crt", NULL, NULL },
		{ "ec-server.crt", "ec-server.key", "ca.crt", NULL, NULL },
		{ "ec-server.crt", "ec-server.p8.key", "ca.crt", NULL, NULL },
		{ "server2.crt", "server2.key", "other-ca.crt", NULL, NULL },
		{ "server2.crt", "encrypted.key", "ca.crt", "encrypted", NULL },
		{ "server2.crt", "mismatch.key", "ca.crt", "does not match", NULL },
		{ "ec-server.crt", "server2.key", "ca.crt", "does not match", NULL },
		{ "notacert.pem", "server2.key", "ca.crt", "no certificate", NULL },
		{ "empty.pem", "server2.key", "ca.crt", "empty.pem", NULL },
		{ "server2.crt", "server2.key", "notacert.pem", "no CA", NULL },
		{ "server2.crt", "server2.crt", "ca.crt", "no private key", NULL },
		{ "missing.crt", "server2.key", "ca.crt", "missing.crt", "No such file" },
		/* A leaf cannot be pinned: the seed's v1 server1.crt is not self-signed. */
		{ "server2.crt", "server2.key", "server1.crt", "server1.crt: certificate 1 "
		    "(CN=server1,", "cannot be a pinned CA: a v1 certificate without "
		    "basicConstraints is a CA only if self-signed" },
	};
	char why[512], row[128];
	size_t i;
	int rc;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		rc = load(dir, rows[i].cert, rows[i].key, rows[i].ca, why);
		snprintf(row, sizeof row, "%s %s %s", rows[i].cert, rows[i].key, rows[i].ca);
		CHECK_ROW(rows[i].why ? rc < 0 && strstr(why, rows[i].why)
		    && (!rows[i].also || strstr(why, rows[i].also)) : rc == 0, row);
	}
}

/* parse_certificate: what the policy reads, on the seed's CA and v1 leaf. */
static void
test_certificate_fields(const char *dir)
{
	static const char *names[] = { "ca.crt", "server1.crt" };
	struct usage_verdict u[2];
	struct client_identity id;
	struct pem_objects objs;
	char path[512], why[512];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		memset(&u[i], 0, sizeof u[i]);
		if (pem_read_file(path, &objs, why, sizeof why) < 0 || objs.count == 0) {
			CHECK(!"reading the seed's certificates");
			return;
		}
		CHECK(parse_certificate(objs.items[0].der.data, objs.items[0].der.len,
		    &id, &u[i]));
		pem_free(&objs);
	}
	CHECK(u[0].version == 3 && u[0].has_basic_constraints && u[0].is_ca
	    && u[0].path_len == -1 && u[0].self_issued && u[0].rsa_bits == 2048
	    && u[0].sig_hash == SIG_HASH_STRONG && !u[0].unknown_critical);
	CHECK(u[1].version == 1 && !u[1].has_basic_constraints && !u[1].self_issued
	    && u[1].rsa_bits == 2048 && !u[1].has_key_usage && !u[1].has_ns_cert_type);
}

/* The verdict of the client verifier on one certificate at `when` (0: now). */
static unsigned
verify_at(const struct tls_credentials *creds, const char *dir, const char *name,
    long long when)
{
	static unsigned char scratch[16384];
	static struct client_verifier v;
	static br_x509_minimal_context minimal;
	const br_x509_class **xc = &v.vtable;
	struct pem_objects objs;
	char path[512], why[512];
	unsigned err;
	size_t i;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (pem_read_file(path, &objs, why, sizeof why) < 0 || objs.count == 0)
		return ~0u;
	memset(&v, 0, sizeof v);
	v.minimal = &minimal;
	verifier_bind(&v, (struct tls_credentials *)(uintptr_t)creds);
	v.ee_der = scratch;
	v.ee_cap = sizeof scratch;
	(*xc)->start_chain(xc, NULL);
	if (when)
		verifier_set_time(&v, (time_t)when);
	(*xc)->start_cert(xc, (uint32_t)objs.items[0].der.len);
	(*xc)->append(xc, objs.items[0].der.data, objs.items[0].der.len);
	(*xc)->end_cert(xc);
	err = (*xc)->end_chain(xc);
	((struct tls_credentials *)(uintptr_t)creds)->views[v.view].refs--;
	for (i = 0; i < objs.count; i++)
		free(objs.items[i].der.data);
	free(objs.items);
	return err;
}

static void
test_validity_dates(const char *dir)
{
	static char c[512], k[512], a[512];
	static struct tls_config config;
	struct tls_credentials *creds;
	char why[512];
	long long y2090 = 3799958400LL;     /* 2090-06-01 */

	snprintf(c, sizeof c, "%s/server2.crt", dir);
	snprintf(k, sizeof k, "%s/server2.key", dir);
	snprintf(a, sizeof a, "%s/ca.crt", dir);
	memset(&config, 0, sizeof config);
	config.cert_file = c;
	config.key_file = k;
	config.ca_file = a;
	if (!(creds = tls_load(&config, why, sizeof why))) {
		CHECK(!"credentials for the validity checks");
		return;
	}
	CHECK(verify_at(creds, dir, "server1.crt", 0) == 0);
	CHECK(verify_at(creds, dir, "notyet.crt", 0) == BR_ERR_X509_EXPIRED);
	CHECK(verify_at(creds, dir, "expired.crt", 0) == BR_ERR_X509_EXPIRED);
	CHECK(verify_at(creds, dir, "other-client.crt", 0) == BR_ERR_X509_NOT_TRUSTED);
	/* notyet.crt is valid in 2090: past 2038, on armhf too. */
	if (sizeof(time_t) >= 8) {
		CHECK(verify_at(creds, dir, "notyet.crt", y2090) == 0);
		CHECK(verify_at(creds, dir, "server1.crt", y2090) == BR_ERR_X509_EXPIRED);
	}
	free_credentials(creds);
}

static bool
cert_time_is(unsigned tag, const char *text, int64_t want)
{
	struct der v = { (const unsigned char *)text, strlen(text) };
	int64_t got = -1;

	return der_time(tag, v, &got) && got == want;
}

static bool
cert_time_valid(unsigned tag, const char *text)
{
	struct der v = { (const unsigned char *)text, strlen(text) };
	int64_t got;

	return der_time(tag, v, &got);
}

/* Certificate and CRL times, to the second: a notAfter is exact. */
static void
test_cert_times(void)
{
	int64_t t = 1795768008;  /* 2026-11-27 08:26:48 UTC */

	CHECK(cert_time_is(0x17, "261127082648Z", t));
	CHECK(cert_time_is(0x18, "20261127082648Z", t));
	CHECK(cert_time_is(0x17, "2611270826Z", t - 48));
	CHECK(cert_time_is(0x17, "500101000000Z", -631152000));
	CHECK(cert_time_is(0x17, "491231235959Z", 2524607999));
	CHECK(!cert_time_is(0x17, "261127082648", t));
	CHECK(!cert_time_is(0x17, "26112708264Z", t));
	CHECK(!cert_time_is(0x18, "261127082648Z", t));
	CHECK(!cert_time_is(0x17, "261327082648Z", t));
	/* Dates that do not exist are refused, not carried into the next month. */
	CHECK(!cert_time_valid(0x17, "260231000000Z"));
	CHECK(!cert_time_valid(0x18, "20260431000000Z"));
	CHECK(!cert_time_valid(0x17, "270229000000Z"));
	CHECK(!cert_time_valid(0x18, "21000229000000Z"));
	CHECK(!cert_time_valid(0x17, "261127240000Z"));
	CHECK(!cert_time_valid(0x17, "261127236000Z"));
	CHECK(!cert_time_valid(0x17, "261127235960Z"));
	CHECK(!cert_time_valid(0x17, "261100000000Z"));
	CHECK(!cert_time_valid(0x17, "261232000000Z"));
	CHECK(cert_time_is(0x17, "280229000000Z", 1835395200));
	CHECK(cert_time_is(0x18, "20000229000000Z", 951782400));
	CHECK(cert_time_is(0x17, "261231235959Z", 1798761599));
}

/* ---- CRLs: scope, extensions, the sorted serials; anchor views ---- */

/* Appends one DER element (short form lengths only) to `out` at *at. */
static void
der_put(unsigned char *out, size_t *at, unsigned tag, const void *value, size_t len)
{
	out[(*at)++] = (unsigned char)tag;
	out[(*at)++] = (unsigned char)len;
	memcpy(out + *at, value, len);
	*at += len;
}

/* One Extension: OID, critical flag when `critical`, OCTET STRING `value`. */
static size_t
extension(unsigned char *out, const unsigned char *oid, size_t oid_len, bool critical,
    const unsigned char *value, size_t value_len)
{
	static const unsigned char yes = 0xff;
	unsigned char body[128];
	size_t n = 0, at = 0;

	der_put(body, &n, 0x06, oid, oid_len);
	if (critical)
		der_put(body, &n, 0x01, &yes, 1);
	der_put(body, &n, 0x04, value, value_len);
	der_put(out, &at, 0x30, body, n);
	return at;
}

static unsigned
idp_scope(const unsigned char *der, size_t len, const char **err, const char **note)
{
	struct der d = { der, len };
	unsigned scope = 99;

	*note = "unset";
	*err = parse_idp(d, &scope, note);
	return scope;
}

static void
test_crl_idp(void)
{
	static const unsigned char empty[] = { 0x30, 0 };
	static const unsigned char user[] = { 0x30, 3, 0x81, 1, 0xff };
	static const unsigned char user_false[] = { 0x30, 3, 0x81, 1, 0 };
	static const unsigned char ca[] = { 0x30, 3, 0x82, 1, 0xff };
	static const unsigned char attr[] = { 0x30, 3, 0x85, 1, 0xff };
	static const unsigned char dp[] = { 0x30, 8, 0xa0, 6, 0xa0, 4, 0x86, 2, 'a', 'b' };
	static const unsigned char only_some[] = { 0x30, 4, 0x83, 2, 7, 0x80 };
	static const struct {
		const char *name;
		unsigned char der[8];
		size_t len;
		const char *err;
	} refused[] = {
		{ "indirect", { 0x30, 3, 0x84, 1, 0xff }, 5, "indirect CRL" },
		{ "both", { 0x30, 6, 0x81, 1, 0xff, 0x82, 1, 0xff }, 8, "more than one" },
		{ "order", { 0x30, 6, 0x82, 1, 0, 0x81, 1, 0xff }, 8, "malformed" },
		{ "twice", { 0x30, 6, 0x81, 1, 0xff, 0x81, 1, 0xff }, 8, "malformed" },
		{ "tag6", { 0x30, 3, 0x86, 1, 0xff }, 5, "malformed" },
		{ "long_bool", { 0x30, 4, 0x81, 2, 0xff, 0xff }, 6, "malformed" },
		{ "trailing", { 0x30, 0, 0 }, 3, "malformed" },
	};
	const char *err, *note;
	size_t i;

	CHECK(idp_scope(empty, sizeof empty, &err, &note) == (CRL_SCOPE_EE | CRL_SCOPE_CA)
	    && !err && !note);
	CHECK(idp_scope(user, sizeof user, &err, &note) == CRL_SCOPE_EE && !err && !note);
	CHECK(idp_scope(user_false, sizeof user_false, &err, &note)
	    == (CRL_SCOPE_EE | CRL_SCOPE_CA) && !err);
	CHECK(idp_scope(ca, sizeof ca, &err, &note) == CRL_SCOPE_CA && !err && !note);
	CHECK(idp_scope(attr, sizeof attr, &err, &note) == 0 && !err
	    && strstr(note, "onlyContainsAttributeCerts"));
	CHECK(idp_scope(dp, sizeof dp, &err, &note) == 0 && !err && strstr(note, "partition"));
	CHECK(idp_scope(only_some, sizeof only_some, &err, &note) == 0 && !err
	    && strstr(note, "onlySomeReasons"));
	for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		idp_scope(refused[i].der, refused[i].len, &err, &note);
		CHECK_ROW(err && strstr(err, refused[i].err), refused[i].name);
	}
}

/* parse_crl_extensions on the Extensions made of `exts` (n bytes). */
static int
crl_exts(const unsigned char *exts, size_t n, struct crl *crl, char *why)
{
	unsigned char seq[300];
	size_t at = 0;
	struct der d;

	der_put(seq, &at, 0x30, exts, n);
	d.p = seq;
	d.len = at;
	memset(crl, 0, sizeof *crl);
	crl->scope = CRL_SCOPE_EE | CRL_SCOPE_CA;
	why[0] = '\0';
	return parse_crl_extensions("t.crl", d, crl, why, 512);
}

static void
test_crl_extensions(void)
{
	static const unsigned char oid_unknown[] = { 0x2a, 3, 4 };     /* 1.2.3.4 */
	static const unsigned char one[] = { 0x02, 1, 1 };
	static const unsigned char only_ca[] = { 0x30, 3, 0x82, 1, 0xff };
	static const unsigned char null[] = { 0x05, 0 };
	unsigned char e[300];
	struct crl crl;
	char why[512];
	size_t n;

	n = extension(e, oid_unknown, sizeof oid_unknown, true, null, sizeof null);
	CHECK(crl_exts(e, n, &crl, why) < 0
	    && strstr(why, "t.crl: unknown critical CRL extension 1.2.3.4"));
	n = extension(e, oid_unknown, sizeof oid_unknown, false, null, sizeof null);
	CHECK(crl_exts(e, n, &crl, why) == 0 && crl.scope == (CRL_SCOPE_EE | CRL_SCOPE_CA));
	n = extension(e, oid_crl_number, sizeof oid_crl_number, true, one, sizeof one);
	n += extension(e + n, oid_akid, sizeof oid_akid, true, null, sizeof null);
	CHECK(crl_exts(e, n, &crl, why) == 0);
	n = extension(e, oid_delta_crl, sizeof oid_delta_crl, false, one, sizeof one);
	CHECK(crl_exts(e, n, &crl, why) < 0 && strstr(why, "delta CRL"));
	n = extension(e, oid_idp, sizeof oid_idp, true, only_ca, sizeof only_ca);
	CHECK(crl_exts(e, n, &crl, why) == 0 && crl.scope == CRL_SCOPE_CA && !crl.scope_note);
	n += extension(e + n, oid_idp, sizeof oid_idp, true, only_ca, sizeof only_ca);
	CHECK(crl_exts(e, n, &crl, why) < 0 && strstr(why, "two issuingDistributionPoint"));
	/* A critical flag that is not one byte: not an extension mtlsd can read. */
	memcpy(e, (const unsigned char[]){ 0x30, 10, 0x06, 3, 0x2a, 3, 4, 0x01, 0, 0x04, 1, 0 }, 12);
	CHECK(crl_exts(e, 12, &crl, why) < 0 && strstr(why, "malformed crlExtensions"));
}

/* One revoked entry: serial bytes as given, a date, extensions if n_ext. */
static size_t
revoked_entry(unsigned char *out, const unsigned char *serial, size_t serial_len,
    const unsigned char *exts, size_t n_ext)
{
	unsigned char body[200];
	size_t n = 0, at = 0;

	der_put(body, &n, 0x02, serial, serial_len);
	der_put(body, &n, 0x17, "250101000000Z", 13);
	if (n_ext)
		der_put(body, &n, 0x30, exts, n_ext);
	der_put(out, &at, 0x30, body, n);
	return at;
}

static bool
lists(const struct crl *crl, const unsigned char *bytes, size_t len)
{
	struct serial s;
	struct der d = { bytes, len };

	set_serial(&s, d);
	return crl_lists(crl, &s);
}

/*
 * CRLs of intermediates: a verdict per key, kept once; a negative one makes
 * room when the verdicts are full, never the positive one; each certificate
 * below the top is checked against the CRL its issuer's key signed.
 */
static void
test_intermediate_crls(void)
{
	static const unsigned char garbage[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	static unsigned char q[65] = { 4 };
	struct tls_credentials creds;
	struct client_identity id;
	struct crl crl;
	struct serial revoked = { 1, { 7 } }, fine = { 1, { 8 } };
	unsigned char subject[32], other[32], key[32];
	br_x509_pkey pk;
	int64_t now = (int64_t)time(NULL);
	int depth, i;

	memset(&creds, 0, sizeof creds);
	memset(&crl, 0, sizeof crl);
	memset(subject, 1, 32);
	memset(other, 2, 32);
	memset(&pk, 0, sizeof pk);
	pk.key_type = BR_KEYTYPE_EC;
	pk.key.ec.curve = BR_EC_secp256r1;
	pk.key.ec.q = q;
	pk.key.ec.qlen = sizeof q;
	crl.anchor = -1;
	crl.der = (unsigned char *)(uintptr_t)garbage;
	crl.der_len = sizeof garbage;
	memcpy(crl.issuer_hash, subject, 32);
	crl.scope = CRL_SCOPE_EE | CRL_SCOPE_CA;
	crl.this_update = now - 10;
	crl.next_update = now + 100;
	crl.revoked = &revoked;
	crl.revoked_count = 1;
	creds.crls = &crl;
	creds.crl_count = 1;

	/* Another issuer's name: not tried. */
	memset(key, 0x10, 32);
	verify_crls_with(&creds, other, key, &pk);
	CHECK(crl.verdict_count == 0);
	/* Tried once per key; a signature that does not verify counts for nothing. */
	verify_crls_with(&creds, subject, key, &pk);
	verify_crls_with(&creds, subject, key, &pk);
	CHECK(crl.verdict_count == 1 && !crl.verdicts[0].signed_by);
	CHECK(!crl_signed_with(&crl, key));
	crl.verdicts[0].signed_by = true;       /* as if it had verified */
	CHECK(crl_signed_with(&crl, key));
	for (i = 1; i <= TLS_CRL_VERDICTS + 2; i++) {
		unsigned char k[32];

		memset(k, 0x10 + i, 32);
		verify_crls_with(&creds, subject, k, &pk);
	}
	CHECK(crl.verdict_count == TLS_CRL_VERDICTS && crl_signed_with(&crl, key));

	/* leaf (by the CRL of key) <- int 1 (by the CRL of another key) <- top */
	memset(&id, 0, sizeof id);
	id.trusted_at = 2;
	id.below_count = 1;
	id.below[0].serial = fine;
	memcpy(id.below[0].issuer_key_id, key, 32);
	CHECK(intermediate_revocation_status(&creds, &id, now, &depth) == 0 && depth == 0);
	id.below[0].serial = revoked;
	CHECK(intermediate_revocation_status(&creds, &id, now, &depth) == TLS_ERR_REVOKED
	    && depth == 1);
	id.below[0].serial = fine;
	id.trusted_at = 3;
	CHECK(intermediate_revocation_status(&creds, &id, now, &depth) == TLS_ERR_CRL_MISSING
	    && depth == 2);                 /* below_count short: closed */
	id.below_count = 2;
	id.below[1].serial = revoked;
	id.below[1].ca = true;
	memset(id.below[1].issuer_key_id, 0x77, 32);
	CHECK(intermediate_revocation_status(&creds, &id, now, &depth) == TLS_ERR_CRL_MISSING
	    && depth == 2);                 /* no CRL of that key */
	memcpy(id.below[1].issuer_key_id, key, 32);
	CHECK(intermediate_revocation_status(&creds, &id, now, &depth) == TLS_ERR_CA_REVOKED
	    && depth == 2);
	crl.scope = CRL_SCOPE_EE;           /* onlyContainsUserCerts: not the CA */
	CHECK(intermediate_revocation_status(&creds, &id, now, &depth) == TLS_ERR_CRL_MISSING
	    && depth == 2);
	crl.scope = CRL_SCOPE_EE | CRL_SCOPE_CA;
	crl.next_update = now - 1;
	CHECK(intermediate_revocation_status(&creds, &id, now, &depth) == TLS_ERR_CRL_EXPIRED
	    && depth == 1);

	/* An intermediate that could not be kept: refused, nothing linked. */
	{
		static struct client_verifier v;
		struct usage_verdict leaf;

		memset(&v, 0, sizeof v);
		memset(&leaf, 0, sizeof leaf);
		v.creds = &creds;
		v.identity.trusted_at = 2;
		v.identity.below_count = 1;
		v.ca_lost = true;
		CHECK(link_intermediates(&v, &leaf) == TLS_ERR_CA_UNREADABLE
		    && v.identity.below_count == 0 && v.reason_error == TLS_ERR_CA_UNREADABLE);
		/* Kept, but not a certificate: refused too. */
		v.ca_lost = false;
		v.ee_der = (unsigned char *)(uintptr_t)garbage;
		v.ee_cap = sizeof garbage;
		v.ca_off[1] = 0;
		v.ca_len[1] = sizeof garbage;
		CHECK(link_intermediates(&v, &leaf) == TLS_ERR_CA_UNREADABLE);
	}
}

static void
test_crl_entries(void)
{
	static const unsigned char s5[] = { 5 }, s1[] = { 1 }, s80[] = { 0, 0x80 };
	static const unsigned char s3[] = { 3 }, s100[] = { 1, 0 }, s2[] = { 2 };
	static const unsigned char s001[] = { 0, 1 }, s81[] = { 0, 0x81 };
	static const unsigned char oid_reason[] = { 0x55, 0x1d, 0x15 };
	static const unsigned char reason[] = { 0x0a, 1, 1 };
	unsigned char list[600], ext[64];
	struct der d;
	struct crl crl;
	char why[512];
	size_t n = 0, e;
	struct serial *big;
	unsigned seed = 12345;
	size_t i, k, agree = 0;

	n += revoked_entry(list + n, s5, sizeof s5, NULL, 0);
	n += revoked_entry(list + n, s1, sizeof s1, NULL, 0);
	n += revoked_entry(list + n, s80, sizeof s80, NULL, 0);
	e = extension(ext, oid_reason, sizeof oid_reason, false, reason, sizeof reason);
	n += revoked_entry(list + n, s3, sizeof s3, ext, e);
	n += revoked_entry(list + n, s100, sizeof s100, NULL, 0);
	d.p = list;
	d.len = n;
	memset(&crl, 0, sizeof crl);
	CHECK(parse_revoked("t.crl", d, &crl, why, sizeof why) == 0 && crl.revoked_count == 5);
	for (i = 1; i < crl.revoked_count; i++)
		CHECK(serial_compare(&crl.revoked[i - 1], &crl.revoked[i]) < 0);
	CHECK(lists(&crl, s1, 1) && lists(&crl, s3, 1) && lists(&crl, s5, 1)
	    && lists(&crl, s80, 2) && lists(&crl, s100, 2) && lists(&crl, s001, 2));
	CHECK(!lists(&crl, s2, 1) && !lists(&crl, s81, 2));
	free(crl.revoked);

	/* A critical entry extension: the CRL is refused. */
	e = extension(ext, oid_reason, sizeof oid_reason, true, reason, sizeof reason);
	n = revoked_entry(list, s1, sizeof s1, ext, e);
	d.len = n;
	memset(&crl, 0, sizeof crl);
	CHECK(parse_revoked("t.crl", d, &crl, why, sizeof why) < 0
	    && strstr(why, "revoked entry 1 has a critical extension 2.5.29.21"));
	free(crl.revoked);
	e = extension(ext, oid_cert_issuer, sizeof oid_cert_issuer, true, reason, sizeof reason);
	n = revoked_entry(list, s1, sizeof s1, ext, e);
	d.len = n;
	memset(&crl, 0, sizeof crl);
	CHECK(parse_revoked("t.crl", d, &crl, why, sizeof why) < 0
	    && strstr(why, "indirect CRL (certificateIssuer"));
	free(crl.revoked);
	/* An entry without its revocationDate. */
	memcpy(list, (const unsigned char[]){ 0x30, 3, 0x02, 1, 1 }, 5);
	d.len = 5;
	memset(&crl, 0, sizeof crl);
	CHECK(parse_revoked("t.crl", d, &crl, why, sizeof why) < 0
	    && strstr(why, "bad revoked entry 1"));
	free(crl.revoked);

	/* The binary search agrees with a scan, on 4000 random serials. */
	big = calloc(4000, sizeof *big);
	if (!big) {
		CHECK(!"memory for the lookup test");
		return;
	}
	for (i = 0; i < 4000; i++) {
		big[i].len = (unsigned char)(1 + (seed = seed * 1103515245 + 12345) % 3);
		for (k = 0; k < big[i].len; k++)
			big[i].bytes[k] = (unsigned char)((seed = seed * 1103515245 + 12345) >> 16);
		if (big[i].bytes[0] == 0)
			big[i].bytes[0] = 1;
	}
	memset(&crl, 0, sizeof crl);
	crl.revoked = big;
	crl.revoked_count = 2000;       /* the other half: probes mostly absent */
	qsort(big, 2000, sizeof *big, serial_compare);
	for (i = 0; i < 4000; i++) {
		bool scan = false;

		for (k = 0; k < 2000; k++)
			scan |= big[k].len == big[i].len
			    && memcmp(big[k].bytes, big[i].bytes, big[i].len) == 0;
		agree += crl_lists(&crl, &big[i]) == scan;
	}
	CHECK(agree == 4000);
	free(big);
}

/*
 * A view a handshake uses is never rewritten: a new one is made in the
 * other buffer, and with both in use the stale one is handed out.
 */
static void
test_anchor_views(void)
{
	static struct tls_credentials c;
	static br_x509_trust_anchor anchors[3], va[2][3];
	static size_t vi[2][3];
	static int64_t nb[3] = { 0, 100, 0 }, na[3] = { 1000, 1000, 50 };
	unsigned v;

	memset(&c, 0, sizeof c);
	c.anchors = anchors;
	c.anchor_count = 3;
	c.anchor_not_before = nb;
	c.anchor_not_after = na;
	c.views[0].anchors = va[0];
	c.views[0].index = vi[0];
	c.views[1].anchors = va[1];
	c.views[1].index = vi[1];
	v = valid_view(&c, 10);         /* CAs 0 and 2 */
	CHECK(v == 0 && c.views[0].count == 2 && c.views[0].index[1] == 2
	    && c.views[0].until == 51);
	c.views[0].refs++;
	v = valid_view(&c, 60);         /* CA 0 only: made in the other view */
	CHECK(v == 1 && c.views[1].count == 1 && c.views[1].index[0] == 0);
	CHECK(c.views[0].count == 2 && c.views[0].index[1] == 2);
	c.views[1].refs++;
	v = valid_view(&c, 150);        /* both in use: the current one, stale */
	CHECK(v == 1 && c.views[1].count == 1 && c.views[0].count == 2);
	c.views[0].refs--;
	v = valid_view(&c, 150);        /* CAs 0 and 1, in the view now free */
	CHECK(v == 0 && c.views[0].count == 2 && c.views[0].index[1] == 1
	    && c.views[1].count == 1);
	v = valid_view(&c, 200);        /* same span: no change */
	CHECK(v == 0);
}

/* A file over the cap is refused, naming it and the cap; CRLs get 64 MiB. */
static void
test_file_caps(const char *dir)
{
	struct bytes b = { 0 };
	char path[512], why[512];

	snprintf(path, sizeof path, "%s/ca.crt", dir);
	CHECK(read_whole_file(path, &b, 100, why, sizeof why) < 0 && !b.data
	    && strstr(why, "ca.crt: larger than 100 bytes"));
	CHECK(read_whole_file(path, &b, MAX_PEM_FILE, why, sizeof why) == 0 && b.len > 100);
	free(b.data);
	CHECK(MAX_CRL_FILE == 64 * 1024 * 1024 && MAX_PEM_FILE == 1024 * 1024);
}

/* ---- identities beyond the CN: OUs and SANs, allow rules, --allow-file ---- */

static size_t
der_tlv(unsigned char *out, unsigned tag, const void *v, size_t len)
{
	size_t n = 0;

	out[n++] = (unsigned char)tag;
	if (len < 128) {
		out[n++] = (unsigned char)len;
	} else {
		out[n++] = 0x82;
		out[n++] = (unsigned char)(len >> 8);
		out[n++] = (unsigned char)len;
	}
	memcpy(out + n, v, len);
	return n + len;
}

/* Runs collect_sans on SEQUENCE { items } into a fresh identity. */
static bool
sans_of(const unsigned char *items, size_t len, struct client_identity *id)
{
	static unsigned char buf[8192];
	struct der d;

	memset(id, 0, sizeof *id);
	id->names_ok = true;
	d.p = buf;
	d.len = der_tlv(buf, 0x30, items, len);
	return collect_sans(d, id);
}

static const char *
name_at(const struct client_identity *id, unsigned k, enum allow_kind *kind)
{
	size_t off = 0;

	while (k-- > 0)
		off += strlen(id->names + off + 1) + 2;
	*kind = (enum allow_kind)(unsigned char)id->names[off];
	return id->names + off + 1;
}

static void
test_san_parsing(void)
{
	static struct client_identity id;
	unsigned char items[4096], big[TLS_ID_NAMES_BYTES];
	enum allow_kind kind;
	const char *match;
	size_t n = 0, i;

	n += der_tlv(items + n, 0x82, "a.Example.org", 13);
	n += der_tlv(items + n, 0x87, "\x7f\0\0\1", 4);             /* iPAddress: skipped */
	n += der_tlv(items + n, 0x81, "m@example.org", 13);         /* rfc822Name: skipped */
	n += der_tlv(items + n, 0xa0, "\x06\x01\x01", 3);           /* otherName: skipped */
	n += der_tlv(items + n, 0x86, "spiffe://example.org/ns/prod/sa/web", 35);
	CHECK(sans_of(items, n, &id) && id.names_ok && id.names_count == 2);
	CHECK(strcmp(name_at(&id, 0, &kind), "a.Example.org") == 0 && kind == ALLOW_DNS);
	CHECK(strcmp(name_at(&id, 1, &kind), "spiffe://example.org/ns/prod/sa/web") == 0
	    && kind == ALLOW_URI);
	/* DNS names ignore case, URIs do not; kinds never cross. */
	CHECK(identity_has(&id, ALLOW_DNS, "A.EXAMPLE.ORG", &match) && match == id.names + 1);
	CHECK(!identity_has(&id, ALLOW_URI, "SPIFFE://example.org/ns/prod/sa/web", &match));
	CHECK(identity_has(&id, ALLOW_URI, "spiffe://example.org/ns/prod/sa/web", &match));
	CHECK(!identity_has(&id, ALLOW_URI, "spiffe://example.org/ns/prod/sa/we", &match));
	CHECK(!identity_has(&id, ALLOW_OU, "a.Example.org", &match));
	CHECK(!identity_has(&id, ALLOW_DNS, "spiffe://example.org/ns/prod/sa/web", &match));
	/* Names that cannot all be kept: none of them counts. */
	id.names_ok = false;
	CHECK(!identity_has(&id, ALLOW_DNS, "a.example.org", &match));

	n = der_tlv(items, 0x82, "a b.example", 11);
	CHECK(sans_of(items, n, &id) && !id.names_ok);               /* a space */
	n = der_tlv(items, 0x82, "", 0);
	CHECK(sans_of(items, n, &id) && !id.names_ok);               /* empty */
	n = der_tlv(items, 0x86, "spiffe://\xc3\xa9", 11);
	CHECK(sans_of(items, n, &id) && !id.names_ok);               /* not ASCII */
	n = der_tlv(items, 0x82, "a\0b", 3);
	CHECK(sans_of(items, n, &id) && !id.names_ok);               /* a NUL */
	n = der_tlv(items, 0xa2, "\x16\x01x", 3);
	CHECK(sans_of(items, n, &id) && !id.names_ok);               /* constructed */
	n = 0;
	for (i = 0; i < TLS_ID_NAMES_MAX + 1; i++)
		n += der_tlv(items + n, 0x82, "d.example.org", 13);
	CHECK(sans_of(items, n, &id) && !id.names_ok && id.names_count == TLS_ID_NAMES_MAX);
	memset(big, 'x', sizeof big);
	n = der_tlv(items, 0x86, big, 200);
	n += der_tlv(items + n, 0x86, big, 200);                     /* 404 bytes > 320 */
	CHECK(sans_of(items, n, &id) && !id.names_ok);
	n = der_tlv(items, 0x86, big, TLS_ID_NAMES_BYTES - 2);      /* just fits */
	CHECK(sans_of(items, n, &id) && id.names_ok && id.names_len == TLS_ID_NAMES_BYTES);
	n = der_tlv(items, 0x86, big, TLS_ID_NAMES_BYTES - 1);
	CHECK(sans_of(items, n, &id) && !id.names_ok);
	/* Not DER: the certificate is unreadable. */
	CHECK(!sans_of(items, 0, &id));                              /* empty SEQUENCE */
	n = der_tlv(items, 0x04, "x", 1);
	CHECK(!sans_of(items, n, &id));                              /* not a GeneralName */
	n = der_tlv(items, 0x82, "abc", 3);
	CHECK(!sans_of(items, n - 1, &id));                          /* truncated */
}

/*
 * An extendedKeyUsage extension, critical or not, with or without a byte
 * after its value: that byte makes the extensions unreadable.
 */
static void
test_extension_parsing(void)
{
	static const unsigned char eku[] = { 0x55, 0x1d, 0x25 };
	static const unsigned char client[] = { 0x2b, 6, 1, 5, 5, 7, 3, 2 };
	unsigned char purposes[16], value[24], ext[48], seq[64], exts[80];
	struct usage_verdict u;
	struct der d;
	size_t p, v, e, s;
	int trailing, critical;

	p = der_tlv(purposes, 0x06, client, sizeof client);
	v = der_tlv(value, 0x30, purposes, p);
	for (trailing = 0; trailing < 2; trailing++)
		for (critical = 0; critical < 2; critical++) {
			e = der_tlv(ext, 0x06, eku, sizeof eku);
			if (critical)
				e += der_tlv(ext + e, 0x01, "\xff", 1);
			e += der_tlv(ext + e, 0x04, value, v);
			if (trailing)
				e += der_tlv(ext + e, 0x05, "", 0);
			s = der_tlv(seq, 0x30, ext, e);
			d.p = exts;
			d.len = der_tlv(exts, 0x30, seq, s);
			memset(&u, 0, sizeof u);
			CHECK(parse_extensions(d, &u) == !trailing);
			CHECK(trailing || (u.has_eku && u.eku_client_auth && !u.unknown_critical));
		}
}

static void
test_ou_parsing(void)
{
	static const unsigned char ou[] = { 0x55, 0x04, 0x0b }, cn[] = { 0x55, 0x04, 0x03 };
	static struct client_identity id;
	unsigned char name[512], rdn[128], atv[96], oid[8];
	struct der d;
	enum allow_kind kind;
	size_t n = 0, a, r, o;

	/* OU=eng (Printable), OU=ops (UTF8), CN=bob */
	o = der_tlv(oid, 0x06, ou, 3);
	memcpy(atv, oid, o);
	a = o + der_tlv(atv + o, 0x13, "eng", 3);
	r = der_tlv(rdn, 0x30, atv, a);
	n += der_tlv(name + n, 0x31, rdn, r);
	a = o + der_tlv(atv + o, 0x0c, "ops", 3);
	r = der_tlv(rdn, 0x30, atv, a);
	n += der_tlv(name + n, 0x31, rdn, r);
	o = der_tlv(oid, 0x06, cn, 3);
	memcpy(atv, oid, o);
	a = o + der_tlv(atv + o, 0x0c, "bob", 3);
	r = der_tlv(rdn, 0x30, atv, a);
	n += der_tlv(name + n, 0x31, rdn, r);
	memset(&id, 0, sizeof id);
	id.names_ok = true;
	d.p = name;
	d.len = n;
	CHECK(collect_ous(d, &id) && id.names_ok && id.names_count == 2);
	CHECK(strcmp(name_at(&id, 0, &kind), "eng") == 0 && kind == ALLOW_OU);
	CHECK(strcmp(name_at(&id, 1, &kind), "ops") == 0 && kind == ALLOW_OU);
	/* A BMPString OU, or one with a control character: no OU counts. */
	o = der_tlv(oid, 0x06, ou, 3);
	memcpy(atv, oid, o);
	a = o + der_tlv(atv + o, 0x1e, "\0e\0n\0g", 6);
	r = der_tlv(rdn, 0x30, atv, a);
	n = der_tlv(name, 0x31, rdn, r);
	memset(&id, 0, sizeof id);
	id.names_ok = true;
	d.len = n;
	CHECK(collect_ous(d, &id) && !id.names_ok);
	a = o + der_tlv(atv + o, 0x0c, "en\ng", 4);
	r = der_tlv(rdn, 0x30, atv, a);
	n = der_tlv(name, 0x31, rdn, r);
	memset(&id, 0, sizeof id);
	id.names_ok = true;
	d.len = n;
	CHECK(collect_ous(d, &id) && !id.names_ok);
}

static void
test_cn_plain(void)
{
	static struct client_identity id;
	static const char *const good[] = { "alice", "a..b", "dev-01.example", "x" };
	static const char *const bad[] = { "", ".", "..", ".hidden", "a/b", "/", "a\tb" };
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(id.cn, sizeof id.cn, "%s", good[i]);
		id.cn_ok = true;
		CHECK(tls_cn_is_plain(&id));
		id.cn_ok = false;               /* several CNs, or not kept whole */
		CHECK(!tls_cn_is_plain(&id));
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(id.cn, sizeof id.cn, "%s", bad[i]);
		id.cn_ok = true;
		CHECK(!tls_cn_is_plain(&id));
	}
	memset(id.cn, 'a', 64);
	id.cn[64] = '\0';
	CHECK(tls_cn_is_plain(&id));
}

/* Loads `text` as an --allow-file; returns load_allow_file's result. */
static int
allow_file_of(const char *text, struct tls_credentials *c, char *why, size_t why_len)
{
	static char path[] = "/tmp/mtlsd-unit-allow.XXXXXX";
	int fd, rc;

	memset(c, 0, sizeof *c);
	strcpy(path + sizeof path - 7, "XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return -2;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -2;
	}
	close(fd);
	rc = load_allow_file(c, path, why, why_len);
	unlink(path);
	return rc;
}

/* ---- the session cache shared by workers ---- */

static struct tls_session cache_sess;

/* cache_save() for session ID byte `id` made by a client with CN `cn`. */
static void
sess_put(unsigned char id, const char *cn)
{
	br_ssl_session_parameters p;
	struct client_verifier *v = &cache_sess.verifier;

	memset(&p, 0, sizeof p);
	memset(p.session_id, 0xa5, sizeof p.session_id);
	p.session_id[3] = id;       /* the slot: id % 8 */
	p.session_id_len = 32;
	p.version = BR_TLS12;
	memset(p.master_secret, id, sizeof p.master_secret);
	memset(&v->identity, 0, sizeof v->identity);
	v->identity.auth = AUTH_VERIFIED;
	snprintf(v->identity.cn, sizeof v->identity.cn, "%s", cn);
	v->creds = current_creds;
	cache_save(&session_cache.vtable, &cache_sess.server, &p);
}

/* cache_load(): 1 and the CN restored if session `id` resumes, else 0. */
static int
sess_get(unsigned char id, char *cn, size_t cn_len)
{
	static struct client_identity resume_identity;
	br_ssl_session_parameters p;
	struct client_verifier *v = &cache_sess.verifier;
	int found;

	memset(&p, 0, sizeof p);
	memset(p.session_id, 0xa5, sizeof p.session_id);
	p.session_id[3] = id;
	p.session_id_len = 32;
	v->resume_identity = &resume_identity;     /* in tls_buffers in a slot */
	memset(v->resume_identity, 0, sizeof *v->resume_identity);
	found = cache_load(&session_cache.vtable, &cache_sess.server, &p);
	snprintf(cn, cn_len, "%s", found ? v->resume_identity->cn : "");
	return found && p.master_secret[0] == id;
}

/* In a child (a worker): 0 if `id` resumes as `cn`, else 1. */
static int
child_get(unsigned char id, const char *cn)
{
	char got[65];

	return sess_get(id, got, sizeof got) && strcmp(got, cn) == 0 ? 0 : 1;
}

static int
child_status(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

/* Whether the kernel keeps robust futex lists (qemu-user does not). */
static bool
robust_futexes(void)
{
	void *head;
	size_t len;

	return syscall(SYS_get_robust_list, 0, &head, &len) == 0;
}

static void
test_session_cache_shared(void)
{
	struct tls_config cfg;
	size_t entries, each;
	char cn[65];
	int go[2];
	pid_t pid;
	char c = 0;

	memset(&cfg, 0, sizeof cfg);
	cfg.session_cache_size = 8;
	cfg.session_timeout = 300;
	tls_cache_init(&cfg);
	CHECK(tls_cache_bytes(&entries, &each) >= 8 * each && entries == 8);
	br_ssl_server_zero(&cache_sess.server);

	/* a session made in the parent resumes in a forked worker, and back */
	sess_put(1, "alice");
	pid = fork();
	if (pid == 0) {
		if (child_get(1, "alice") != 0)
			_exit(1);
		sess_put(2, "bob");
		_exit(0);
	}
	CHECK(child_status(pid) == 0);
	CHECK(sess_get(2, cn, sizeof cn) && strcmp(cn, "bob") == 0);
	CHECK(!sess_get(3, cn, sizeof cn));

	/*
	 * A worker dies holding the lock, half-way through writing session 1:
	 * the next locker is not blocked, session 1 is gone, 2 is intact.
	 * That needs the kernel's robust futex list, which qemu-user lacks;
	 * there the lock is given up after 50 ms (cache_lock), not waited on
	 * for ever, which the end of this block checks instead.
	 */
	pid = fork();
	if (pid == 0) {
		if (!cache_lock())
			_exit(1);
		__atomic_store_n(&session_cache.shared->busy, 1, __ATOMIC_SEQ_CST);
		session_cache.entries[1].identity.cn[0] = 'X';
		_exit(0);
	}
	CHECK(child_status(pid) == 0);
	CHECK(!sess_get(1, cn, sizeof cn));
	if (robust_futexes()) {
		CHECK(sess_get(2, cn, sizeof cn) && strcmp(cn, "bob") == 0);
		sess_put(1, "carol");
		CHECK(sess_get(1, cn, sizeof cn) && strcmp(cn, "carol") == 0);
	} else {
		printf("skip - a worker dying with the lock: no robust futexes here "
		    "(qemu-user); the lock was given up, not waited on\n");
		CHECK(cache_lock_lost);
		return;
	}

	/*
	 * A reload (tls_use() -> cache_clear()) while an old worker still
	 * runs: nothing of the old generation resumes anywhere, and what the
	 * old worker saves afterwards is not kept.
	 */
	CHECK(pipe(go) == 0);
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		if (child_get(2, "bob") == 0)
			_exit(2);       /* resumed after the reload */
		sess_put(4, "mallory");
		_exit(0);
	}
	close(go[0]);
	cache_clear();
	CHECK(write(go[1], &c, 1) == 1);
	close(go[1]);
	CHECK(child_status(pid) == 0);
	CHECK(!sess_get(1, cn, sizeof cn));
	CHECK(!sess_get(2, cn, sizeof cn));
	CHECK(!sess_get(4, cn, sizeof cn));
	sess_put(5, "dave");
	CHECK(sess_get(5, cn, sizeof cn) && strcmp(cn, "dave") == 0);
	pid = fork();
	if (pid == 0)
		_exit(child_get(5, "dave"));
	CHECK(child_status(pid) == 0);
	cache_clear();
	CHECK(!sess_get(5, cn, sizeof cn));
}

static void
test_allow_file(void)
{
	static const struct {
		const char *text, *why;
	} refused[] = {
		{ "/a/ cn x\n\n/b/ ou\n", ":3: /b/ ou: the name is empty" },
		{ "/a/ dns a b\n", ":1: /a/ dns: the name is a space" },
		{ "/a//b/ any\n", ":1: /a//b/: '//' in the path prefix" },
		{ "/a/. any\n", ":1: /a/.: a '.' or '..' segment" },
		{ "/a/ none\n/a/ any\n",
		    ":2: /a/ none: the prefix also has a rule allowing clients, at line 1" },
		{ "/a/ cn aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		    "longer than 64 bytes" },
	};
	static struct tls_credentials c;
	static struct tls_config cfg;
	static struct client_identity alice;
	const struct path_rule *r, *decided;
	struct tls_access a;
	char why[512];
	size_t i;

	CHECK(allow_file_of("# rules\n\n  /reports/ cn  Alice Smith  \r\n"
	    "/reports/secret/\tdns\tA.example.org\n/ any\n/private/ none\n"
	    "/reports/ fingerprint " "00112233445566778899aabbccddeeff"
	    "00112233445566778899AABBCCDDEEFF\n", &c, why, sizeof why) == 0);
	CHECK(c.path_rule_count == 5);
	r = &c.path_rules[0];
	CHECK(strcmp(r->prefix, "/reports/") == 0 && r->kind == ALLOW_CN
	    && strcmp(r->value, "Alice Smith") == 0 && r->line == 3);
	CHECK(c.path_rules[1].kind == ALLOW_DNS && c.path_rules[1].line == 4);
	CHECK(c.path_rules[2].kind == ALLOW_ANY && !c.path_rules[2].value);
	CHECK(c.path_rules[4].kind == ALLOW_FINGERPRINT && c.path_rules[4].fingerprint[0] == 0
	    && c.path_rules[4].fingerprint[31] == 0xff);
	/* The longest prefix covering the path decides; "/reports" too. */
	CHECK(deciding_prefix(&c, "/reports/x", 10) == &c.path_rules[0]);
	CHECK(deciding_prefix(&c, "/reports", 8) == &c.path_rules[0]);
	CHECK(deciding_prefix(&c, "/reportsx", 9) == &c.path_rules[2]);
	CHECK(deciding_prefix(&c, "/reports/secret/a", 17) == &c.path_rules[1]);
	CHECK(deciding_prefix(&c, "/reports/secret", 15) == &c.path_rules[1]);
	CHECK(deciding_prefix(&c, "/private", 8) == &c.path_rules[3]);
	CHECK(deciding_prefix(&c, "/", 1) == &c.path_rules[2]);
	/* Any rule of that prefix allows; others' rules do not count. */
	c.config = &cfg;
	memset(&alice, 0, sizeof alice);
	strcpy(alice.cn, "Alice Smith");
	alice.cn_ok = true;
	alice.names_ok = true;
	CHECK(allowed_for_path(&c, &alice, "/reports/r", 10, &a, &decided)
	    && a.kind == ALLOW_CN && a.value == alice.cn);
	CHECK(!allowed_for_path(&c, &alice, "/reports/secret/s", 17, &a, &decided)
	    && decided == &c.path_rules[1]);
	CHECK(!allowed_for_path(&c, &alice, "/private/p", 10, &a, &decided));
	CHECK(allowed_for_path(&c, &alice, "/index.html", 11, &a, &decided)
	    && a.kind == ALLOW_ANY);
	alice.fingerprint[31] = 0xff;
	CHECK(allowed_for_path(&c, &alice, "/reports", 8, &a, &decided));
	/* No path (it did not normalise): the global rules. */
	cfg.allow_cn[0] = "bob";
	cfg.allow_cn_count = 1;
	CHECK(!allowed_for_path(&c, &alice, NULL, 0, &a, &decided) && !decided);
	CHECK(allowed_somewhere(&c, &alice));
	free(c.path_rules);
	free(c.path_rule_text);

	for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		CHECK_ROW(allow_file_of(refused[i].text, &c, why, sizeof why) < 0
		    && strstr(why, refused[i].why), refused[i].text);
		free(c.path_rules);
		free(c.path_rule_text);
	}
}

/* ---- --status: outcomes and label values ---- */

static void
test_status(void)
{
	struct client_identity id;
	struct out o;
	char buf[256];
	static const struct { int error; enum handshake_result r; } map[] = {
		{ BR_ERR_X509_NOT_TRUSTED, HS_UNKNOWN_CA },
		{ TLS_ERR_CA_KEY_MISMATCH, HS_UNKNOWN_CA },
		{ TLS_ERR_REVOKED, HS_REVOKED },
		{ TLS_ERR_CA_REVOKED, HS_REVOKED },
		{ TLS_ERR_NOT_ALLOWED, HS_NOT_ALLOWED },
		{ TLS_ERR_EKU, HS_BAD_CERTIFICATE },
		{ TLS_ERR_WEAK_KEY, HS_BAD_CERTIFICATE },
		{ TLS_ERR_PATH_LEN, HS_BAD_CERTIFICATE },
		{ BR_ERR_X509_BAD_SIGNATURE, HS_BAD_CERTIFICATE },
		{ BR_ERR_X509_INVALID_VALUE, HS_BAD_CERTIFICATE },
		{ TLS_ERR_CRL_EXPIRED, HS_OTHER },
		{ TLS_ERR_CRL_MISSING, HS_OTHER },
		{ BR_ERR_BAD_HANDSHAKE, HS_OTHER },
	};
	size_t i;

	memset(&id, 0, sizeof id);
	id.auth = AUTH_VERIFIED;
	CHECK(status_handshake_result(&id, 1000) == HS_OK);
	id.auth = AUTH_NOT_SENT;
	CHECK(status_handshake_result(&id, 1000) == HS_NO_CERTIFICATE);
	id.auth = AUTH_REJECTED;
	for (i = 0; i < sizeof map / sizeof map[0]; i++) {
		id.error = map[i].error;
		CHECK(status_handshake_result(&id, 1000) == map[i].r);
	}
	id.error = BR_ERR_X509_EXPIRED;
	id.not_before = 500;
	CHECK(status_handshake_result(&id, 1000) == HS_EXPIRED);
	id.not_before = 2000;
	CHECK(status_handshake_result(&id, 1000) == HS_NOT_YET_VALID);

	/* Label values: \\, \" and \n escaped; what is not UTF-8 becomes '?'. */
	o = (struct out){ buf, 0, sizeof buf, false };
	put_label(&o, "CN=a\\\"b\",O=\nx\x01\x7f");
	CHECK(!o.overflow && o.len == strlen("CN=a\\\\\\\"b\\\",O=\\nx??")
	    && memcmp(buf, "CN=a\\\\\\\"b\\\",O=\\nx??", o.len) == 0);
	o = (struct out){ buf, 0, sizeof buf, false };
	put_label(&o, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92");     /* café € 🔒 */
	CHECK(o.len == 14 && memcmp(buf, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", 14) == 0);
	o = (struct out){ buf, 0, sizeof buf, false };
	/* Latin-1, overlong, a surrogate, past U+10FFFF, cut short. */
	put_label(&o, "\xe9|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82");
	CHECK(o.len == strlen("?|??|???|????|??")
	    && memcmp(buf, "?|??|???|????|??", o.len) == 0);
	o = (struct out){ buf, 0, 8, false };
	put_label(&o, "0123456789");
	CHECK(o.overflow);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--implementations") == 0) {
		test_implementations();
		return failed != 0;
	}
	test_head_end();
	test_parse_good();
	test_parse_bad();
	test_head_too_large();
	test_chunked();
	test_normalize();
	test_locations();
	test_mime_and_dates();
	test_listing();
	test_ranges();
	test_etags();
	test_error_pages();
	test_resolve();
	test_file_cache();
	test_wide_types();
	test_cert_times();
	test_crl_idp();
	test_crl_extensions();
	test_crl_entries();
	test_intermediate_crls();
	test_anchor_views();
	test_san_parsing();
	test_ou_parsing();
	test_extension_parsing();
	test_cn_plain();
	test_allow_file();
	test_status();
	test_session_cache_shared();
	test_implementations();
	if (argc > 1) {
		test_credentials(argv[1]);
		test_certificate_fields(argv[1]);
		test_validity_dates(argv[1]);
		test_file_caps(argv[1]);
	} else {
		printf("FAIL - no PKI directory given: key loading not tested\n");
		failed++;
	}
	return check_done();
}
