#!/usr/bin/env bash
# tests/memcheck.sh -- one short run of mtlsd under valgrind memcheck.
#
# Starts ./mtlsd under valgrind (full leak check; definite and possible
# leaks and every memory error count), sends it over a thousand requests of
# every kind (tests/assault.py mixed) and a few assaults (random bytes,
# resets mid-handshake and mid-response, half-closes, 1000 pipelined
# requests, files changed while sent), stops it with SIGTERM and expects
# exit status 0 and not one valgrind report. Prints "N passed, N failed".
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
VALGRIND="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,possible --show-leak-kinds=definite,possible"
export MTLSD=${MTLSD:-$VALGRIND ./mtlsd}
. tests/lib.sh

if ! command -v valgrind >/dev/null 2>&1; then
	fail "valgrind" "not installed (apt-get install valgrind)"
	summary
	exit
fi
given_or_make_pki
WWW=$TMPD/www
mkdir -p "$WWW/dir"
printf 'small file for probes\n' >"$WWW/small.txt"
truncate -s 64M "$WWW/big64.bin"
head -c $((8 << 20)) /dev/urandom >"$WWW/big8.bin"
mkfifo "$WWW/fifo"
export TF HS_TIMEOUT=4 SEND_TIMEOUT=4

PORT=$(free_port)
if ! start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --max-conns 32 --handshake-timeout 4 --header-timeout 4 \
	--keepalive-timeout 4 --send-timeout 4 --access-log "$TMPD/access.log"; then
	fail "server starts under valgrind" "$(cat "$SERVER_ERR")"
	summary
	exit
fi
for a in mixed junk reset-handshake reset-response half-close pipeline file-change; do
	timeout -k 5 $((60 * TF)) python3 tests/assault.py "$a" "$PORT" "$PKI" "$WWW" >"$TMPD/assault.out" 2>&1
	while IFS= read -r line; do
		case $line in
		'ok - '*) ok "valgrind: ${line#ok - }" ;;
		'FAIL - '*) fail "valgrind: ${line#FAIL - }" ;;
		*) fail "valgrind: $a: unexpected output" "$line" ;;
		esac
	done <"$TMPD/assault.out"
	kill -0 "$SERVER_PID" 2>/dev/null || { fail "valgrind: server alive after $a" "$(tail -n 5 "$SERVER_ERR")"; break; }
done
stop_mtlsd
expect_eq "valgrind: exit status 0 (99 = valgrind errors)" 0 "$SERVER_STATUS"
if grep -a -q -E '^==[0-9]+== ' "$SERVER_ERR"; then
	fail "valgrind: no reports" "$(grep -a -E '^==[0-9]+== ' "$SERVER_ERR" | head -n 8)"
else
	ok "valgrind: no reports"
fi
summary
