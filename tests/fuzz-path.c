/*
 * tests/fuzz-path.c - fuzz target for the path pipeline: the input is a
 * request path. http_normalize_path() must give a path that starts with
 * '/' and has no empty, "." or ".." segment; http_prepare() against a small
 * document root (made once, in a temporary directory) must never open
 * anything outside it, nor anything but a regular file; and with an
 * open-file cache, asked twice (a miss, then a hit), it must answer as it
 * does without one.
 *
 * Built with libFuzzer by `make fuzz`, and with tests/fuzz-main.c as a
 * corpus replayer by `make test`.
 */
#include "../http.c"
#include "../x509.c"
#include "../filecache.c"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_site site = { -1, "index.html", NULL, NULL, NULL, NULL };
static struct file_cache cache;
static struct http_site cached_site = { -1, "index.html", &cache, NULL, NULL, NULL };
static char root[64], root_real[PATH_MAX];

static void
put_file(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	if ((f = fopen(path, "w"))) {
		fputs(text, f);
		fclose(f);
	}
}

static void
remove_root(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

/* outside/secret beside the root www/: escaping would reach it. */
static void
make_root(void)
{
	char base[] = "/tmp/mtlsd-fuzz-path.XXXXXX", path[256];

	if (!mkdtemp(base))
		abort();
	snprintf(root, sizeof root, "%s", base);
	atexit(remove_root);
	snprintf(path, sizeof path, "%s/outside", root);
	mkdir(path, 0755);
	put_file("outside/secret", "secret\n");
	snprintf(root, sizeof root, "%s/www", base);
	mkdir(root, 0755);
	put_file("index.html", "index\n");
	put_file("a.txt", "a\n");
	put_file("a b.txt", "a b\n");
	snprintf(path, sizeof path, "%s/sub", root);
	mkdir(path, 0755);
	put_file("sub/index.html", "sub\n");
	snprintf(path, sizeof path, "%s/empty", root);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/fifo", root);
	mkfifo(path, 0644);
	snprintf(path, sizeof path, "%s/up", root);
	if (symlink("../outside/secret", path) < 0)
		abort();
	snprintf(path, sizeof path, "%s/abs", root);
	if (symlink("/etc/passwd", path) < 0)
		abort();
	snprintf(path, sizeof path, "%s/inside", root);
	if (symlink("a.txt", path) < 0)
		abort();
	snprintf(root, sizeof root, "%s/www", base);
	if ((site.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0
	    || !realpath(root, root_real) || file_cache_init(&cache, 8, 60000) < 0)
		abort();
	cached_site.root_fd = site.root_fd;
	/* The base is removed at exit; the root path is base/www. */
	snprintf(root, sizeof root, "%s", base);
}

static void
check_normalized(const char *p, long n)
{
	long i;

	assert(n >= 1 && p[0] == '/' && p[n] == '\0');
	for (i = 0; i < n; i++) {
		assert(p[i] != '\0');
		if (p[i] != '/')
			continue;
		if (i + 1 < n)
			assert(p[i + 1] != '/');
		if (i + 2 <= n && p[i + 1] == '.' && (i + 2 == n || p[i + 2] == '/'))
			assert(!"a '.' segment");
		if (i + 3 <= n && p[i + 1] == '.' && p[i + 2] == '.'
		    && (i + 3 == n || p[i + 3] == '/'))
			assert(!"a '..' segment");
	}
}

/* The response's file is a regular file beneath the root. */
static void
check_opened(const struct http_response *resp)
{
	char link[64], target[PATH_MAX];
	struct stat st;
	size_t root_len;
	ssize_t n;

	assert(resp->status == S_OK);
	assert(fstat(resp->fd, &st) == 0 && S_ISREG(st.st_mode));
	snprintf(link, sizeof link, "/proc/self/fd/%d", resp->fd);
	n = readlink(link, target, sizeof target - 1);
	assert(n > 0);
	target[n] = '\0';
	root_len = strlen(root_real);
	assert(strncmp(target, root_real, root_len) == 0 && target[root_len] == '/');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[MAX_PATH_BYTES + 256];
	struct http_request req;
	struct http_response resp, cached;
	int round;
	long len;

	if (site.root_fd < 0)
		make_root();
	if (size > MAX_PATH_BYTES)
		return 0;
	len = http_normalize_path((const char *)data, size, out, sizeof out);
	if (len >= 0) {
		check_normalized(out, len);
		assert((size_t)len <= size);
	}

	memset(&req, 0, sizeof req);
	req.method = M_GET;
	req.path.p = (const char *)data;
	req.path.len = size;
	http_prepare(&resp, &req, &site, true);
	if (resp.fd >= 0)
		check_opened(&resp);
	else
		assert(resp.status != S_OK || resp.remaining == 0);
	for (round = 0; round < 2; round++) {
		http_prepare(&cached, &req, &cached_site, true);
		assert(cached.status == resp.status && cached.size == resp.size
		    && cached.remaining == resp.remaining
		    && cached.content_type == resp.content_type);
		assert((cached.fd >= 0) == (resp.fd >= 0));
		if (cached.fd >= 0)
			check_opened(&cached);
		http_response_end(&cached);
	}
	assert(cache.open <= 8);
	http_response_end(&resp);
	return 0;
}
