/*
 * tests/malloc-count.c - an LD_PRELOAD library that counts heap calls
 * (malloc, calloc, realloc, free, the aligned ones) made while mtlsd serves.
 *
 * Start-up may allocate (loading keys, the slots); serving must not. The
 * server's first poll() marks the end of start-up; calls counted up to its
 * last poll() are "serving" calls (what exit does afterwards is not). At
 * exit the counts, and a backtrace of the first few serving calls, are
 * written to the file named by MALLOC_COUNT_OUT:
 *
 *   startup 123
 *   serving 0
 *   malloc 0 calloc 0 realloc 0 free 0 aligned 0
 *
 * The real allocator is glibc's, reached through its __libc_* entry points
 * (no dlsym, which itself allocates).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern int __poll(struct pollfd *, nfds_t, int);

enum { K_MALLOC, K_CALLOC, K_REALLOC, K_FREE, K_ALIGNED, K_COUNT };
static const char *const kind_names[K_COUNT] = {
	"malloc", "calloc", "realloc", "free", "aligned"
};

#define TRACES 4
#define DEPTH 12

static int serving;                     /* set by the first poll() */
static unsigned long startup_calls;
static unsigned long serving_calls, settled_calls;
static unsigned long kinds[K_COUNT], settled_kinds[K_COUNT];
static void *traces[TRACES][DEPTH];
static int trace_depth[TRACES], trace_kind[TRACES];
static __thread int inside;             /* backtrace() may allocate */
static char out_path[512];

static void
count(int kind)
{
	unsigned long n;

	if (!serving) {
		startup_calls++;
		return;
	}
	n = serving_calls++;
	kinds[kind]++;
	if (n < TRACES && !inside) {
		inside = 1;
		trace_kind[n] = kind;
		trace_depth[n] = backtrace(traces[n], DEPTH);
		inside = 0;
	}
}

void *
malloc(size_t size)
{
	count(K_MALLOC);
	return __libc_malloc(size);
}

void *
calloc(size_t n, size_t size)
{
	count(K_CALLOC);
	return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t size)
{
	count(K_REALLOC);
	return __libc_realloc(p, size);
}

void
free(void *p)
{
	if (p)
		count(K_FREE);
	__libc_free(p);
}

void *
memalign(size_t align, size_t size)
{
	count(K_ALIGNED);
	return __libc_memalign(align, size);
}

void *
aligned_alloc(size_t align, size_t size)
{
	count(K_ALIGNED);
	return __libc_memalign(align, size);
}

int
posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	count(K_ALIGNED);
	if (!(p = __libc_memalign(align, size)))
		return ENOMEM;
	*out = p;
	return 0;
}

int
poll(struct pollfd *fds, nfds_t n, int timeout)
{
	int k;

	serving = 1;
	settled_calls = serving_calls;
	for (k = 0; k < K_COUNT; k++)
		settled_kinds[k] = kinds[k];
	return __poll(fds, n, timeout);
}

__attribute__((constructor)) static void
start(void)
{
	void *warm[2];
	const char *p = getenv("MALLOC_COUNT_OUT");

	if (p)
		snprintf(out_path, sizeof out_path, "%s", p);
	/* The first backtrace() loads the unwinder: do it now, not while serving. */
	inside = 1;
	backtrace(warm, 2);
	inside = 0;
}

__attribute__((destructor)) static void
report(void)
{
	char line[256];
	int fd, i, k, len;

	if (!out_path[0] || (fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return;
	len = snprintf(line, sizeof line, "startup %lu\nserving %lu\n", startup_calls,
	    settled_calls);
	if (write(fd, line, (size_t)len) < 0)
		goto done;
	for (k = 0; k < K_COUNT; k++) {
		len = snprintf(line, sizeof line, "%s%s %lu", k ? " " : "", kind_names[k],
		    settled_kinds[k]);
		if (write(fd, line, (size_t)len) < 0)
			goto done;
	}
	if (write(fd, "\n", 1) < 0)
		goto done;
	for (i = 0; i < TRACES && (unsigned long)i < settled_calls; i++) {
		len = snprintf(line, sizeof line, "-- serving call %d: %s\n", i + 1,
		    kind_names[trace_kind[i]]);
		if (write(fd, line, (size_t)len) < 0)
			goto done;
		backtrace_symbols_fd(traces[i], trace_depth[i], fd);
	}
done:
	close(fd);
}
