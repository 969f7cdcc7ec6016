/*
 * tests/fuzz-http.c - fuzz target for the request parser: http_head_end()
 * (in one call and fed in pieces), http_parse_head(), http_head_too_large(),
 * and what reads the parsed views afterwards: ranges, conditional headers,
 * dates and the Location of a redirect.
 *
 * Built with libFuzzer by `make fuzz`, and with tests/fuzz-main.c as a
 * corpus replayer by `make test`. The source is included to reach its
 * static functions.
 */
#include "../http.c"
#include "../x509.c"
#include "../filecache.c"

#include <assert.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD_MAX 8192

/*
 * Every view the parser leaves must lie inside the buffer it parsed (the
 * path of an absolute-form target without one is the constant "/").
 */
static void
check_view(struct text t, const char *buf, size_t len)
{
	if (t.len == 0 || (t.len == 1 && t.p[0] == '/'))
		return;
	assert(t.p >= buf && t.p + t.len <= buf + len);
}

static void
check_views(const struct http_request *req, const char *buf, size_t len)
{
	const struct text *views[] = { &req->line, &req->target, &req->path,
		&req->query, &req->host, &req->user_agent, &req->referer,
		&req->range, &req->if_range, &req->if_none_match,
		&req->if_modified_since };
	size_t i;

	for (i = 0; i < sizeof views / sizeof views[0]; i++)
		check_view(*views[i], buf, len);
}

/* What http_prepare() would do with the headers, on a made-up file. */
static void
use_request(const struct http_request *req, uint64_t size)
{
	struct http_response r;
	struct http_endpoint endpoint = { "127.0.0.1", 8443 };
	char out[16384], path[MAX_PATH_BYTES + 256];
	size_t n;

	memset(&r, 0, sizeof r);
	r.fd = -1;
	r.status = S_OK;
	r.size = size;
	r.mtime = 1700000000;
	r.content_type = "text/plain";
	if (!not_modified(&r, req) && req->range.len > 0 && if_range_holds(&r, req))
		apply_range(&r, req->range);
	if (r.status == S_PARTIAL_CONTENT)
		assert(r.first <= r.last && r.last < r.size);
	http_parse_date(req->if_modified_since.p ? req->if_modified_since.p : "",
	    req->if_modified_since.len);
	if (req->path.len > 0 && req->path.len <= MAX_PATH_BYTES)
		http_normalize_path(req->path.p, req->path.len, path, sizeof path);
	n = http_write_head(&r, req, &endpoint, 0, out, sizeof out);
	assert(n <= sizeof out);
	r.status = S_MOVED_PERMANENTLY;
	n = http_write_head(&r, req, &endpoint, 0, out, sizeof out);
	assert(n <= sizeof out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req;
	size_t len = size < HEAD_MAX ? size : HEAD_MAX;
	size_t head, step, scanned, fed;
	char *buf;

	/* An exact-size copy, so any read past the end is caught. */
	if (!(buf = malloc(len ? len : 1)))
		return 0;
	memcpy(buf, data, len);
	head = http_head_end(buf, len, 0);
	assert(head <= len);

	/* Fed in pieces as the server reads it, the answer must not change. */
	step = len ? (size_t)data[0] % 7 + 1 : 1;
	scanned = 0;
	for (fed = step; fed < len + step; fed += step) {
		size_t upto = fed < len ? fed : len;
		size_t h = http_head_end(buf, upto, scanned);

		scanned = upto;
		if (h) {
			assert(h == head);
			break;
		}
	}
	if (head == 0)
		assert(scanned == len);

	if (head) {
		http_parse_head(buf, head, &req);
		check_views(&req, buf, head);
		if (req.error == S_NONE)
			use_request(&req, len > 1 ? ((uint64_t)data[1] << 16) + data[len - 1] : 0);
	} else {
		http_head_too_large(buf, len, &req);
		check_views(&req, buf, len);
		assert(req.error == S_URI_TOO_LONG || req.error == S_BAD_REQUEST);
	}
	free(buf);
	return 0;
}
