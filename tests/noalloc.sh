#!/usr/bin/env bash
# tests/noalloc.sh -- proves that mtlsd does not touch the heap while serving.
#
# Runs ./mtlsd with tests/malloc-count.so preloaded (make tests/malloc-count.so),
# sends it over a thousand requests of every kind (40 keep-alive connections
# with 24 requests each: files, 404, 206, 304, 301, 403, 405, fifos; then
# full handshakes without a certificate or with an untrusted one, malformed
# requests, 414 and oversized heads, HEAD, resumed sessions and failed
# handshakes), scrapes its --status port (GET /metrics, /status, a 404, a
# 405, a request that never ends), stops it
# with SIGTERM and reads the counts: malloc, calloc, realloc, free and the
# aligned allocators must have been called zero times between the first and
# the last poll(). Start-up may allocate. Prints "N passed, N failed" last.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

COUNTER=$PWD/tests/malloc-count.so
if [ ! -f "$COUNTER" ] || [ ! -x ./mtlsd ]; then
	fail "no-allocation test" "build ./mtlsd and $COUNTER first (make test does)"
	summary
	exit
fi

given_or_make_pki
WWW=$TMPD/www
mkdir -p "$WWW/dir"
printf 'small file for probes\n' >"$WWW/small.txt"
head -c $((8 << 20)) /dev/urandom >"$WWW/big8.bin"
mkfifo "$WWW/fifo"

# The counter itself must see allocations made after a poll().
LD_PRELOAD=$COUNTER MALLOC_COUNT_OUT=$TMPD/selftest python3 -c '
import select
p = select.poll(); p.poll(0)
x = [bytearray(100000) for _ in range(10)]
p.poll(0)' 2>/dev/null
n=$(awk '$1 == "serving" { print $2 }' "$TMPD/selftest" 2>/dev/null)
if [ "${n:-0}" -ge 10 ]; then
	ok "counter self-test: sees $n heap calls a program makes between two polls"
else
	fail "counter self-test: sees heap calls between two polls" "counted '${n:-nothing}'"
fi

PORT=$(free_port)
SPORT=$(free_port)
export LD_PRELOAD=$COUNTER MALLOC_COUNT_OUT=$TMPD/counts
started=0
start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --max-conns 64 --access-log "$TMPD/access.log" \
	--status "127.0.0.1:$SPORT" && started=1
unset LD_PRELOAD MALLOC_COUNT_OUT
if [ $started = 0 ]; then
	fail "server starts with the counter preloaded" "$(cat "$SERVER_ERR")"
	summary
	exit
fi
timeout -k 5 $((120 * TF)) python3 tests/assault.py mixed "$PORT" "$PKI" "$WWW" >"$TMPD/load.out" 2>&1
while IFS= read -r line; do
	case $line in
	'ok - '*) ok "${line#ok - }" ;;
	'FAIL - '*) fail "${line#FAIL - }" ;;
	*) fail "load: unexpected output" "$line" ;;
	esac
done <"$TMPD/load.out"
# The status port while serving: pages made, refusals, a client cut off.
(exec 3<>"/dev/tcp/127.0.0.1/$SPORT"; printf 'GET /metr' >&3; sleep 0.2) 2>/dev/null
curl -s --max-time 5 -o /dev/null -X POST "http://127.0.0.1:$SPORT/metrics"
curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$SPORT/nothing"
curl -s --max-time 5 -o "$TMPD/status.txt" "http://127.0.0.1:$SPORT/status"
curl -s --max-time 5 -o "$TMPD/metrics.txt" "http://127.0.0.1:$SPORT/metrics"
n=$(awk '$1 ~ /^mtlsd_requests_total[{]/ { n += $2 } END { print n + 0 }' "$TMPD/metrics.txt")
if [ "$n" -ge 1000 ] && grep -q '^handshakes: ok ' "$TMPD/status.txt"; then
	ok "scraped /metrics ($n responses counted) and /status while serving"
else
	fail "scraped /metrics and /status while serving" "$n responses; $(head -c 300 "$TMPD/metrics.txt")"
fi
stop_mtlsd
expect_eq "server exit status" 0 "$SERVER_STATUS"
lines=$(wc -l <"$TMPD/access.log")
if [ "$lines" -ge 1000 ]; then ok "access log: $lines lines written"; else fail "access log: at least 1000 lines" "$lines"; fi
expect_eq "mtlsd_requests_total: one per access log line" "$lines" "$n"

if [ ! -s "$TMPD/counts" ]; then
	fail "counts written at exit" "no $TMPD/counts"
else
	echo "# $(head -n 1 "$TMPD/counts") heap calls during start-up"
	serving=$(awk '$1 == "serving" { print $2 }' "$TMPD/counts")
	if [ "$serving" = 0 ]; then
		ok "no heap calls while serving ($(sed -n 3p "$TMPD/counts"))"
	else
		fail "no heap calls while serving" "$serving: $(sed -n '3,12p' "$TMPD/counts")"
	fi
fi
summary
