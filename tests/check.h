/*
 * tests/check.h - the unit tests' harness: CHECK(cond) counts a pass, or
 * prints "FAIL - FILE:LINE: cond"; CHECK_ROW(cond, row) does the same in a
 * table's loop, naming the row (a string) that failed. check_done() prints
 * "N passed, N failed" last and returns the exit status.
 */
#ifndef MTLSD_CHECK_H
#define MTLSD_CHECK_H

#include <stdbool.h>
#include <stdio.h>

static int passed, failed;

#define CHECK(cond) check((cond), #cond, NULL, __FILE__, __LINE__)
#define CHECK_ROW(cond, row) check((cond), #cond, (row), __FILE__, __LINE__)

static void
check(bool ok, const char *what, const char *row, const char *file, int line)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("FAIL - %s:%d: %s%s%s\n", file, line, what, row ? ", row " : "",
		    row ? row : "");
	}
}

static int
check_done(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

#endif
