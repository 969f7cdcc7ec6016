#!/bin/sh
# tests/run.sh - what `make test` runs: the unit tests; the integration,
# robustness, no-allocation, privilege and status suites against ./mtlsd; the fuzz
# corpus replayed; the integration and robustness suites again against the
# ASan+UBSan build (SANITIZE_RUN=0 skips them); one short valgrind run
# (VALGRIND_RUN=0 skips it). Each suite's own summary is prefixed with its
# name; the last line is the total, "N passed, N failed".
#
# UNIT, UNIT_PROXY and MTLSD are the commands for the unit tests and the
# server, word lists so that a wrapper works (tests/cross.sh runs them under
# qemu-user):
#   UNIT='qemu-arm-static build/armhf-static/unit' \
#   MTLSD='qemu-arm-static build/armhf-static/mtlsd' sh tests/run.sh
# With MTLSD set, only the unit and integration suites run: the others
# measure or instrument the native build.
#
# `sh tests/run.sh check` (make check) runs the quick ones only: the unit
# tests, the integration and deploy suites and the docs checks; under a
# minute, no root, nothing installed, loopback only.
set -u
cd "$(dirname "$0")/.." || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/mtlsd-run.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
total_passed=0
total_failed=0

# run_suite NAME COMMAND...: runs it (or waits for it, when start_suite
# started it), shows its lines, adds up its summary.
run_suite() {
	name=$1
	shift
	if [ -e "$work/$name.pid" ]; then
		wait "$(cat "$work/$name.pid")"
		rc=$?
	else
		"$@" > "$work/$name.out" 2>&1
		rc=$?
	fi
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$work/$name.out" | tail -n 1)
	grep -v -E '^[0-9]+ passed, [0-9]+ failed' "$work/$name.out"
	if [ -z "$summary" ]; then
		echo "FAIL - $name: no summary line (exit status $rc)"
		total_failed=$((total_failed + 1))
		return
	fi
	echo "$name: $summary"
	p=${summary%% passed*}
	f=${summary#*passed, }
	f=${f%% failed*}
	total_passed=$((total_passed + p))
	total_failed=$((total_failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL - $name exited with status $rc"
		total_failed=$((total_failed + 1))
	fi
}

# start_suite NAME COMMAND...: starts it in the background; run_suite NAME
# waits for it and reports it.
start_suite() {
	name=$1
	shift
	"$@" > "$work/$name.out" 2>&1 &
	echo $! > "$work/$name.pid"
}

if ! sh tests/mkpki.sh "$work/pki" > "$work/mkpki.log" 2>&1; then
	cat "$work/mkpki.log"
	echo "FAIL - tests/mkpki.sh could not make the test certificates"
	echo "0 passed, 1 failed"
	exit 1
fi
# make check: the integration suite spends most of its time waiting for
# timeouts to pass, so the other quick suites run meanwhile.
if [ "${1:-}" = check ]; then
	start_suite integration bash tests/integration.sh
fi
# shellcheck disable=SC2086 # UNIT is a word list
run_suite unit ${UNIT:-./tests/unit} "$work/pki"
# shellcheck disable=SC2086 # so is UNIT_PROXY
run_suite unit-proxy ${UNIT_PROXY:-./tests/unit-proxy}
if [ "${1:-}" = check ]; then
	run_suite unit-nginx ./tests/unit-nginx
	run_suite deploy bash tests/deploy.sh
	run_suite docs bash tests/docs.sh
	run_suite integration
	echo "$total_passed passed, $total_failed failed"
	[ "$total_failed" -eq 0 ]
	exit
fi
run_suite integration bash tests/integration.sh
run_suite scale bash tests/scale.sh
run_suite http bash tests/http.sh
run_suite differential bash tests/differential.sh
# Deployment: the native build, its installation, containers and browsers;
# then what measures or instruments the native build. Not under a wrapper
# such as make test-cross's qemu: they test the host.
if [ -z "${MTLSD:-}" ]; then
	run_suite identity bash tests/identity.sh
	run_suite allow bash tests/allow.sh
	run_suite status bash tests/status.sh
	run_suite unit-nginx ./tests/unit-nginx
	run_suite nginx-conf bash tests/nginx-conf.sh
	run_suite deploy bash tests/deploy.sh
	run_suite docs bash tests/docs.sh
	run_suite container bash tests/container.sh
	run_suite netns bash tests/netns.sh
	run_suite browser bash tests/browser.sh
	run_suite robustness env PKI="$work/pki" bash tests/robustness.sh
	run_suite noalloc env PKI="$work/pki" bash tests/noalloc.sh
	run_suite privileges env PKI="$work/pki" bash tests/privileges.sh
	run_suite fuzz-corpus sh tests/fuzz-replay.sh "$work/pki"

	# The same suites against the server built with ASan and UBSan: any
	# report ends up on the server's stderr, which both suites check, and
	# makes it exit with status 99 (leaks included), which stop_mtlsd reports.
	if [ "${SANITIZE_RUN:-1}" = 1 ]; then
		export ASAN_OPTIONS="exitcode=99:detect_leaks=1:abort_on_error=0:strict_string_checks=1"
		export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
		run_suite integration-asan env MTLSD=./mtlsd-san TF=2 bash tests/integration.sh
		run_suite robustness-asan env MTLSD=./mtlsd-san TF=2 ROUNDS=1 PKI="$work/pki" \
			bash tests/robustness.sh
		unset ASAN_OPTIONS UBSAN_OPTIONS
	fi
	if [ "${VALGRIND_RUN:-1}" = 1 ]; then
		run_suite valgrind env PKI="$work/pki" bash tests/memcheck.sh
	fi
else
	echo "skip - identity, allow, status, unit-nginx, deploy, netns, browser, robustness, noalloc, privileges, fuzz corpus, sanitizers, valgrind: not run with MTLSD=$MTLSD"
fi
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
