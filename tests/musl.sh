#!/bin/sh
# tests/musl.sh - what `make test-musl` runs: builds build/musl/ from
# scratch with `make MUSL=1` (musl-gcc, warnings as errors), checks that
# mtlsd is fully static and linked with musl, that musl_compat.c's checked
# copies stop an overflowing copy, then runs against the musl binaries what
# tests/run.sh runs with MTLSD set (the unit tests; the integration, scale,
# HTTP and nginx differential suites), and tests/privileges.sh.
#
# Prints one line per check and "N passed, N failed" last.
set -u
cd "$(dirname "$0")/.." || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/mtlsd-musl.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

. tests/tally.sh
finish() {
	total
	exit
}

dir=build/musl
rm -rf "$dir"
if make MUSL=1 all "$dir/unit" "$dir/unit-proxy" >"$work/build.log" 2>&1; then
	ok "make MUSL=1 builds $dir/mtlsd and the unit tests"
else
	fail "make MUSL=1 builds $dir/mtlsd and the unit tests" "$(tail -n 5 "$work/build.log" | oneline)"
	finish
fi

readelf -d "$dir/mtlsd" >"$work/dyn" 2>&1
readelf -l "$dir/mtlsd" >"$work/seg" 2>&1
if grep -q 'There is no dynamic section' "$work/dyn" && ! grep -q INTERP "$work/seg"; then
	ok "$dir/mtlsd is fully static (no dynamic section, no interpreter)"
else
	fail "$dir/mtlsd is fully static" "$(head -n 3 "$work/dyn" | oneline)"
fi
# musl's start-up code, not glibc's (a CC from the environment wins over
# musl-gcc, and would give a static glibc binary).
if nm "$dir/mtlsd" 2>&1 | grep -q ' T __init_libc$'; then
	ok "$dir/mtlsd is linked with musl"
else
	fail "$dir/mtlsd is linked with musl" "no __init_libc; CC=${CC:-unset}"
fi

# The checked copies: a copy that fits is done, one byte too many aborts.
cat >"$work/chk.c" <<'EOF'
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

void *__memcpy_chk(void *, const void *, size_t, size_t);
void *__memmove_chk(void *, const void *, size_t, size_t);
void *__memset_chk(void *, int, size_t, size_t);

int
main(int argc, char **argv)
{
	static char dst[8];
	static const char src[16] = "0123456789abcde";
	size_t n = sizeof dst + (argc > 2);
	struct rlimit nocore = { 0, 0 };

	if (argc < 2)
		return 2;
	setrlimit(RLIMIT_CORE, &nocore);
	if (strcmp(argv[1], "memcpy") == 0)
		__memcpy_chk(dst, src, n, sizeof dst);
	else if (strcmp(argv[1], "memmove") == 0)
		__memmove_chk(dst, src, n, sizeof dst);
	else if (strcmp(argv[1], "memset") == 0)
		__memset_chk(dst, 'x', n, sizeof dst);
	printf("%.8s\n", dst);
	return 0;
}
EOF
if musl-gcc -static -O0 -fno-builtin -o "$work/chk" "$work/chk.c" "$dir/musl_compat.o" \
	>"$work/chk.log" 2>&1; then
	for f in memcpy memmove memset; do
		want=01234567
		[ "$f" = memset ] && want=xxxxxxxx
		fits=$("$work/chk" "$f" 2>&1)
		"$work/chk" "$f" over >"$work/over" 2>&1
		rc=$?
		if [ "$fits" != "$want" ]; then
			fail "__${f}_chk copies what fits" "$(echo "$fits" | oneline)"
		elif [ "$rc" -ne 134 ] || ! grep -q 'buffer overflow detected' "$work/over"; then
			fail "__${f}_chk aborts on overflow" "exit $rc: $(oneline <"$work/over")"
		else
			ok "__${f}_chk copies what fits and aborts one byte past the destination"
		fi
	done
else
	fail "musl_compat.o links into a test program" "$(tail -n 5 "$work/chk.log" | oneline)"
fi

# suite NAME COMMAND...: runs tests/NAME.sh by COMMAND, shows its lines
# marked "musl", adds up its "N passed, N failed" total.
suite() {
	name=$1
	shift
	"$@" >"$work/$name" 2>&1
	rc=$?
	relabel musl "$work/$name"
	tally "tests/$name.sh against $dir" "$work/$name" "$rc"
}

# The suites make test-cross runs too (tests/run.sh with MTLSD set), and
# --user, --chroot and --sandbox, which lean on libc (getpwnam, groups).
suite run env UNIT="$dir/unit" UNIT_PROXY="$dir/unit-proxy" MTLSD="$dir/mtlsd" \
	sh tests/run.sh
suite privileges env MTLSD="$dir/mtlsd" bash tests/privileges.sh
finish
