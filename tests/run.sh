#!/bin/sh
# tests/run.sh - what `make test` runs: the unit tests; the integration,
# robustness, no-allocation, privilege and status suites against ./mtlsd; the fuzz
# corpus replayed; the integration and robustness suites again against the
# ASan+UBSan build (SANITIZE_RUN=0 skips them); one short valgrind run
# (VALGRIND_RUN=0 skips it). Each suite's output is shown in one piece when
# it ends, followed by its summary prefixed with its name and its time; the
# last line is the total, "N passed, N failed".
#
# Most suites spend their time waiting (for timeouts, for servers, for
# clients), so JOBS of them (default 3) run at once, each with its own
# servers on free ports and its own temporary directory; the longest start
# first. JOBS=1 runs them one after the other.
#
# UNIT, UNIT_PROXY and MTLSD are the commands for the unit tests and the
# server, word lists so that a wrapper works (tests/cross.sh runs them under
# qemu-user):
#   UNIT='qemu-arm-static build/armhf-static/unit' \
#   MTLSD='qemu-arm-static build/armhf-static/mtlsd' sh tests/run.sh
# With MTLSD set, only the unit, integration, scale, HTTP and differential
# suites run, one at a time unless JOBS says otherwise: the others measure or
# instrument the native build.
#
# `sh tests/run.sh check` (make check) runs the quick ones only: the unit
# tests, the integration and deploy suites and the docs checks; under a
# minute, no root, nothing installed, loopback only.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/tally.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/mtlsd-run.XXXXXX")
# the ports the suites have drawn (tests/lib.sh free_port)
export MTLSD_TEST_PORTS="$work/ports"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# suite NAME: runs the suite called NAME.
# shellcheck disable=SC2086 # UNIT and UNIT_PROXY are word lists
suite() {
	case $1 in
	unit) ${UNIT:-./tests/unit} "$work/pki" ;;
	unit-proxy) ${UNIT_PROXY:-./tests/unit-proxy} ;;
	unit-nginx) ./tests/unit-nginx ;;
	robustness | noalloc | privileges) PKI=$work/pki bash "tests/$1.sh" ;;
	fuzz-corpus) sh tests/fuzz-replay.sh "$work/pki" ;;
	# The same suites against the server built with ASan and UBSan: any
	# report ends up on the server's stderr, which both suites check, and
	# makes it exit with status 99 (leaks included), which stop_mtlsd
	# reports.
	*-asan)
		ASAN_OPTIONS="exitcode=99:detect_leaks=1:abort_on_error=0:strict_string_checks=1" \
			UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99" \
			MTLSD=./mtlsd-san TF=2 ROUNDS=1 PKI=$work/pki bash "tests/${1%-asan}.sh" ;;
	valgrind) PKI=$work/pki bash tests/memcheck.sh ;;
	*) bash "tests/$1.sh" ;;
	esac
}

# report NAME: shows the output of suite NAME, then its summary and time,
# and adds it to the totals.
report() {
	rc=$(cat "$work/$1.rc")
	grep -v -E '^[0-9]+ passed, [0-9]+ failed' "$work/$1.out"
	tally "$1" "$work/$1.out" "$rc" && echo "$1: $SUMMARY ($(cat "$work/$1.time") s)"
}

# worker NAME...: runs the suites named that no other worker has taken yet
# (mkdir is the lock), one after the other; each one's output goes to
# NAME.out, then its exit status to NAME.rc and its name to descriptor 3.
worker() {
	for name in "$@"; do
		mkdir "$work/$name.taken" 2>/dev/null || continue
		start=$(date +%s)
		suite "$name" >"$work/$name.out" 2>&1 </dev/null
		echo $? >"$work/$name.rc"
		echo $(($(date +%s) - start)) >"$work/$name.time"
		echo "$name" >&3
	done
}

# pool NAME...: runs the suites, JOBS at a time, in that order, and reports
# each one as it ends.
pool() {
	left=$#
	i=0
	worker "$@" &
	while [ $((i += 1)) -lt "${JOBS:-3}" ] && [ "$i" -lt $# ]; do
		worker "$@" &
	done
	while [ "$left" -gt 0 ] && read -r name <&3; do
		report "$name"
		left=$((left - 1))
	done
	wait
}

if ! sh tests/mkpki.sh "$work/pki" > "$work/mkpki.log" 2>&1; then
	cat "$work/mkpki.log"
	echo "FAIL - tests/mkpki.sh could not make the test certificates"
	echo "0 passed, 1 failed"
	exit 1
fi
# The workers say on this pipe which suite has ended.
mkfifo "$work/ended"
exec 3<>"$work/ended"

if [ "${1:-}" = check ]; then
	pool integration unit unit-proxy unit-nginx deploy docs
elif [ -n "${MTLSD:-}" ]; then
	JOBS=${JOBS:-1} pool unit unit-proxy integration scale http differential
	echo "skip - identity, allow, status, unit-nginx, deploy, netns, browser, robustness, noalloc, privileges, fuzz corpus, sanitizers, valgrind: not run with MTLSD=$MTLSD"
else
	# Deployment: the native build, its installation, containers and
	# browsers; what measures or instruments the native build. Not under a
	# wrapper such as make test-cross's qemu: they test the host. The
	# longest first (the assaults wait out their timeouts for 2.5 minutes),
	# so that the workers end together. The assaults check that an
	# authenticated client is served within 1.5 s (3 s under the sanitizers)
	# meanwhile; they do so beside stress-ng --cpu 2 too.
	set -- robustness
	[ "${SANITIZE_RUN:-1}" = 1 ] && set -- "$@" robustness-asan
	set -- "$@" identity http integration
	[ "${SANITIZE_RUN:-1}" = 1 ] && set -- "$@" integration-asan
	[ "${VALGRIND_RUN:-1}" = 1 ] && set -- "$@" valgrind
	pool "$@" scale nginx-conf status deploy netns container differential allow \
		browser docs privileges noalloc unit-nginx unit unit-proxy fuzz-corpus
fi
total
