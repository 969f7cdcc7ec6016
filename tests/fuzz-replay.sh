#!/bin/sh
# tests/fuzz-replay.sh [PKI] -- replays the checked-in fuzz corpus through
# the fuzz targets built with ASan and UBSan (tests/replay-*, made by make
# test), plus PEM inputs with real keys made from PKI (tests/mkpki.sh's) when
# given. A crash, a failed assertion, a sanitizer report or a leak fails the
# target. Prints one line per target and "N passed, N failed" last.
cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mtlsd-replay.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -n "${1:-}" ]; then
	sh tests/fuzz-seeds.sh "$1" "$tmp/pem-seeds" || echo "# could not make PEM seeds from $1"
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
for t in http path pem nginx proxy; do
	extra=
	[ "$t" = pem ] && [ -d "$tmp/pem-seeds" ] && extra=$tmp/pem-seeds
	if [ ! -x "tests/replay-$t" ]; then
		echo "FAIL - fuzz corpus $t: tests/replay-$t not built (make tests/replay-$t)"
		failed=$((failed + 1))
		continue
	fi
	# shellcheck disable=SC2086
	if "tests/replay-$t" "tests/corpus/$t" $extra >"$tmp/out" 2>&1; then
		echo "ok - fuzz corpus $t: $(tail -n 1 "$tmp/out") without a report"
		passed=$((passed + 1))
	else
		echo "FAIL - fuzz corpus $t: $(grep -E 'ERROR|runtime error|Assertion|SUMMARY' "$tmp/out" | head -n 3 | tr '\n' ' ')"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
