/*
 * musl_compat.c - linked only into the musl build (make MUSL=1).
 *
 * Debian compiles libbearssl.a with _FORTIFY_SOURCE, so its objects call
 * glibc's checked copies, which musl does not have. These are the same
 * checks: dstlen is the size of the destination as the compiler knew it
 * (or (size_t)-1 when it did not), and a copy longer than that is a
 * buffer overflow, so the process stops at once, as glibc's __chk_fail
 * does, rather than write past the object.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *__memcpy_chk(void *dst, const void *src, size_t len, size_t dstlen);
void *__memmove_chk(void *dst, const void *src, size_t len, size_t dstlen);
void *__memset_chk(void *dst, int c, size_t len, size_t dstlen);

static void
overflow(void)
{
	static const char msg[] = "*** buffer overflow detected ***: terminated\n";

	(void)write(2, msg, sizeof msg - 1);
	abort();
}

void *
__memcpy_chk(void *dst, const void *src, size_t len, size_t dstlen)
{
	if (len > dstlen)
		overflow();
	return memcpy(dst, src, len);
}

void *
__memmove_chk(void *dst, const void *src, size_t len, size_t dstlen)
{
	if (len > dstlen)
		overflow();
	return memmove(dst, src, len);
}

void *
__memset_chk(void *dst, int c, size_t len, size_t dstlen)
{
	if (len > dstlen)
		overflow();
	return memset(dst, c, len);
}
