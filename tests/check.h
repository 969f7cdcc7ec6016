/*
 * tests/check.h - the unit tests' harness: CHECK(cond) counts a pass, or
 * prints "FAIL - FILE:LINE: cond"; check_done() prints "N passed, N failed"
 * last and returns the exit status.
 */
#ifndef MTLSD_CHECK_H
#define MTLSD_CHECK_H

#include <stdbool.h>
#include <stdio.h>

static int passed, failed;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)

static void
check(bool ok, const char *what, const char *file, int line)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("FAIL - %s:%d: %s\n", file, line, what);
	}
}

static int
check_done(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

#endif
