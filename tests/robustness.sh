#!/usr/bin/env bash
# tests/robustness.sh -- hostile clients and faults against a live mtlsd.
#
#   bash tests/robustness.sh                    # against ./mtlsd
#   MTLSD=./mtlsd-san bash tests/robustness.sh  # the sanitizer build
#   ROUNDS=1 ...                                # one round (no memory check)
#
# Starts the server on loopback with short timeouts and 64 slots, then runs
# every assault of tests/assault.py against it, twice. Each assault checks
# that the offending connections are closed and that an authenticated client
# is served promptly meanwhile; after each one this script checks that the
# server is alive and that its descriptors are back to what it had at rest
# (no slot, socket or file left behind; cached files close 1 s after their
# last use). Between the rounds it compares the server's memory (see
# memory_check). Then accept() failing (EMFILE), SIGTERM with a download in
# flight, ClientHello messages after the handshake (tests/tlshello.c, needs
# a C compiler and libbearssl-dev), and assaults on a server run with
# --proxy-protocol. Prints "N passed, N failed" last.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

ROUNDS=${ROUNDS:-2}
HS=2          # handshake, header, keep-alive and send timeouts, seconds
GRACE=3

need_mtlsd

given_or_make_pki

WWW=$TMPD/www
mkdir -p "$WWW"
printf 'small file for probes\n' >"$WWW/small.txt"
truncate -s 64M "$WWW/big64.bin"
head -c $((8 << 20)) /dev/urandom >"$WWW/big8.bin"
mkfifo "$WWW/fifo"
# a character device (1,3 is /dev/null) inside the root; needs root
mknod "$WWW/chardev" c 1 3 2>/dev/null || true

export TF HS_TIMEOUT=$HS SEND_TIMEOUT=$HS GRACE

# The memory check needs the plain binary: sanitizers and valgrind keep
# allocating for their own bookkeeping.
MEMCHECK=1
case "${MTLSD:-./mtlsd}" in
*valgrind* | *-san*) MEMCHECK=0 ;;
esac

# status_of PID FIELD -- a field of /proc/PID/status, in kB
status_of() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
fds_of() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# settle NAME -- the server is alive and back to its resting descriptors.
# Lingering closes take up to 2 s and unanswered close_notify up to 5 s.
settle() {
	local name=$1 i n
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		fail "$name: server still running" "$(tail -n 3 "$SERVER_ERR")"
		return 1
	fi
	for ((i = 0; i < 160 * TF; i++)); do
		n=$(fds_of "$SERVER_PID")
		[ "$n" -le "$REST_FDS" ] && break
		sleep 0.05
	done
	if [ "$n" -le "$REST_FDS" ]; then
		ok "$name: server alive, descriptors back to $n"
	else
		fail "$name: descriptors back to $REST_FDS" "$n open: $(ls -l "/proc/$SERVER_PID/fd" | tail -n +2 | awk '{print $NF}' | sort | uniq -c | sort -rn | head -n 3 | tr '\n' ' ')"
	fi
}

# assault NAME -- runs one assault; its ok/FAIL lines count here
assault() {
	local name=$1 line
	timeout -k 5 $((120 * TF)) python3 tests/assault.py "$name" "$PORT" "$PKI" "$WWW" \
		>"$TMPD/assault.out" 2>&1
	while IFS= read -r line; do
		case $line in
		'ok - '*) ok "${line#ok - }" ;;
		'FAIL - '*) fail "${line#FAIL - }" ;;
		'skip - '*) skip "${line#skip - }" "" ;;
		*) fail "$name: unexpected output" "$line" ;;
		esac
	done <"$TMPD/assault.out"
	grep -q -E '^(ok|FAIL) - ' "$TMPD/assault.out" || fail "$name: no result" "$(tail -c 300 "$TMPD/assault.out")"
	settle "${PROXY:+proxy: }$name"
}

ASSAULTS=(junk junk-flood alert-flood plain-http slow-hello stalled-handshake
	idle-flood churn no-read pipeline reset-handshake reset-response half-close
	file-change special-files)

# ---- start-up: the slot budget, clamped to the descriptor limit ---------------------

# budget_line FILE -- "N BYTES ENTRIES ENTRY_BYTES TOTAL" from the start-up line
budget_line() { sed -n 's/^mtlsd\/[0-9.]*: \([0-9]*\) connection slots x \([0-9]*\) bytes + open-file cache \([0-9]*\) x \([0-9]*\) bytes = \([0-9.]*\) MiB, allocated once$/\1 \2 \3 \4 \5/p' "$1"; }
# It only starts and stops: no leak check at its exit (under load, once, the
# LeakSanitizer of mtlsd-san hung there), and -k ends it whatever happens.
PORT=$(free_port)
(ulimit -n 100 && ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	exec timeout -k 3 -s TERM $((2 * TF)) "${MTLSD_CMD[@]}" -l "127.0.0.1:$PORT" -r "$WWW" \
	-c "$PKI/server2.crt" -k "$PKI/server2.key" -C "$PKI/ca.crt" --max-conns 1000 \
	--access-log off) >/dev/null 2>"$TMPD/clamp.err"
# 100 descriptors: 16 kept back, 1 listener; the open-file cache at most a
# quarter of the other 83; of the 63 left, a socket each for 56 connections
# and 7 for files (one connection in eight sends a file; the rest wait)
if grep -q -F -- '--open-file-cache 64 lowered to 20 (open file limit 100)' "$TMPD/clamp.err" &&
	grep -q -F -- '--max-conns 1000 lowered to 56 (open file limit 100)' "$TMPD/clamp.err" &&
	grep -q -F -- 'open file limit 100: at most 7 responses send files at once' "$TMPD/clamp.err"; then
	ok "start: --max-conns 1000 with 100 descriptors -> cache 20, 56 slots, 7 files, with warnings"
else
	fail "start: --max-conns and the open-file cache clamped to the descriptor limit" "$(cat "$TMPD/clamp.err")"
fi
read -r n per entries per_entry total <<<"$(budget_line "$TMPD/clamp.err")"
if [ "${n:-}" = 56 ] && [ "${entries:-}" = 20 ] &&
	[ "$(awk -v n="$n" -v p="$per" -v e="$entries" -v q="$per_entry" 'BEGIN { printf "%.1f", (n * p + e * q) / 1048576 }')" = "$total" ]; then
	ok "start: budget printed, $n slots x $per bytes + $entries cache entries x $per_entry bytes = $total MiB"
else
	fail "start: budget printed as N slots x BYTES + open-file cache N x BYTES = TOTAL" "$(cat "$TMPD/clamp.err")"
fi

# ---- the assaults, on one server ----------------------------------------------

# Cached files are closed 1 s after their last use, so that the descriptor
# count at rest is exact again within a settle.
PORT=$(free_port)
if ! start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --max-conns 64 --handshake-timeout $HS --header-timeout $HS \
	--keepalive-timeout $HS --send-timeout $HS --open-file-cache-inactive 1 \
	--access-log "$TMPD/access.log"; then
	fail "server starts" "$(cat "$SERVER_ERR")"
	summary
	exit
fi
sleep 0.2
REST_FDS=$(fds_of "$SERVER_PID")
# SIGPIPE (13) ignored: a reset peer must cost an EPIPE, never the process
sigign=$(awk '$1 == "SigIgn:" { print $2 }' "/proc/$SERVER_PID/status")
if [ $((0x$sigign >> 12 & 1)) = 1 ]; then ok "SIGPIPE ignored (SigIgn $sigign)"; else fail "SIGPIPE ignored" "SigIgn $sigign"; fi
declare -A MEM
MEM[data.0]=$(status_of "$SERVER_PID" VmData)
MEM[anon.0]=$(status_of "$SERVER_PID" RssAnon)
MEM[rss.0]=$(status_of "$SERVER_PID" VmRSS)
echo "# at rest: VmRSS ${MEM[rss.0]} kB, RssAnon ${MEM[anon.0]} kB, VmData ${MEM[data.0]} kB"

for ((round = 1; round <= ROUNDS; round++)); do
	echo "# round $round"
	for a in "${ASSAULTS[@]}"; do
		assault "$a"
	done
	MEM[data.$round]=$(status_of "$SERVER_PID" VmData)
	MEM[anon.$round]=$(status_of "$SERVER_PID" RssAnon)
	MEM[rss.$round]=$(status_of "$SERVER_PID" VmRSS)
	echo "# after round $round: VmRSS ${MEM[rss.$round]} kB, RssAnon ${MEM[anon.$round]} kB, VmData ${MEM[data.$round]} kB"
done

# memory_check -- connection slots are allocated once at start-up and paged
# in as they are first used, down to the last page of each slot's TLS buffers,
# so resident memory may grow up to the budget the server printed. Beyond
# that nothing may grow: VmData (the size of the heap and of anonymous
# mappings) must not change at all after start-up, and RssAnon (anonymous
# pages resident) must stay within the budget printed (slots and open-file
# cache) plus 64 KiB, the slack for stack pages a deeper call path touches
# for the first time. VmRSS also counts code pages of the binary and libc,
# paged in as code first runs; it is shown, not judged.
if [ "$MEMCHECK" = 1 ]; then
	budget=$(sed -n 's/.* slots x [0-9]* bytes.* = \([0-9.]*\) MiB.*/\1/p' "$SERVER_ERR" | head -n 1)
	budget_kb=$(awk -v m="${budget:-0}" 'BEGIN { printf "%d", m * 1024 + 0.5 }')
	for ((round = 1; round <= ROUNDS; round++)); do
		expect_eq "memory: VmData after round $round = at rest (kB)" "${MEM[data.0]}" "${MEM[data.$round]}"
	done
	grow=$((${MEM[anon.$ROUNDS]} - ${MEM[anon.0]}))
	if [ "$grow" -le $((budget_kb + 64)) ]; then
		ok "memory: RssAnon grew by $grow kB over $ROUNDS rounds (slot budget $budget_kb kB + 64)"
	else
		fail "memory: RssAnon grew by at most the slot budget" "grew by $grow kB (${MEM[anon.0]} -> ${MEM[anon.$ROUNDS]}), budget $budget_kb kB"
	fi
else
	skip "memory growth" "not measured under ${MTLSD:-}"
fi

for pat in 'evicted: all slots in use' 'client timed out while SSL handshaking' \
	'client timed out while sending response' 'file shrank while sending response'; do
	if grep -q -F "$pat" "$SERVER_ERR"; then ok "log: '$pat'"; else fail "log: '$pat'" "not in the error log"; fi
done

# A flood of connections must not flood the error log: at most 100 lines
# about clients a second, and a count of those dropped.
worst=$(grep -a -E '^[0-9/]{10} [0-9:]{8} \[[a-z]+\] client ' "$SERVER_ERR" | cut -c1-19 | uniq -c | sort -rn | head -n 1)
if [ "${worst%% 2*}" -le 100 ] && grep -q 'lines about clients were not logged' "$SERVER_ERR"; then
	ok "log: at most 100 client lines a second (busiest:${worst%% 2*}), the rest counted"
else
	fail "log: at most 100 client lines a second, the rest counted" "busiest second: $worst; $(grep -c 'not logged' "$SERVER_ERR") 'not logged' lines"
fi

# ---- accept() failing: EMFILE --------------------------------------------------

SERVER_PID=$SERVER_PID assault emfile
n=$(grep -c 'pausing accepts' "$SERVER_ERR")
# one line per 100 ms back-off: about 20 in the 2 s of the assault
if [ "$n" -ge 1 ] && [ "$n" -le $((40 * TF)) ]; then
	ok "emfile: $n 'pausing accepts' lines in the error log (back-off, not a loop)"
else
	fail "emfile: 1 to $((40 * TF)) 'pausing accepts' lines" "$n lines"
fi
stop_mtlsd
expect_eq "server exit status after SIGTERM" 0 "$SERVER_STATUS"

# ---- SIGTERM with a download in flight, a stalled one and an idle one -----------

PORT=$(free_port)
if start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --shutdown-grace $GRACE --send-timeout 30 --access-log off; then
	timeout -k 5 $((60 * TF)) env SERVER_PID="$SERVER_PID" python3 tests/assault.py shutdown \
		"$PORT" "$PKI" "$WWW" >"$TMPD/assault.out" 2>&1
	while IFS= read -r line; do
		case $line in
		'ok - '*) ok "${line#ok - }" ;;
		'FAIL - '*) fail "${line#FAIL - }" ;;
		*) fail "shutdown: unexpected output" "$line" ;;
		esac
	done <"$TMPD/assault.out"
	wait "$SERVER_PID" 2>/dev/null && st=0 || st=$?
	expect_eq "shutdown: exit status 0 after the grace period" 0 "$st"
	if grep -q 'shutting down' "$SERVER_ERR" && grep -q 'exiting' "$SERVER_ERR"; then
		ok "shutdown: logged"
	else
		fail "shutdown: logged" "$(tail -n 2 "$SERVER_ERR")"
	fi
	SERVER_PID=
else
	fail "shutdown: server starts" "$(cat "$SERVER_ERR")"
fi

# SIGINT on an idle server: immediate, status 0
PORT=$(free_port)
if start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --access-log off; then
	t0=$(date +%s%N)
	kill -INT "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null && st=0 || st=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$st" = 0 ] && [ "$ms" -lt $((2000 * TF)) ]; then
		ok "SIGINT on an idle server: exit 0 in $ms ms"
	else
		fail "SIGINT on an idle server: exit 0 at once" "status $st after $ms ms"
	fi
	SERVER_PID=
fi

# ---- ClientHello messages after the handshake (renegotiation, refused) -------------

# tests/tlshello.c sends them in one encrypted record, then a request. One is
# answered with a no_renegotiation alert and the request is served; two once
# left the connection stalled until the header timeout (30 s here).
TLSHELLO=$TMPD/tlshello
if ! ${CC:-cc} -O1 -o "$TLSHELLO" tests/tlshello.c -lbearssl >"$TMPD/tlshello.cc" 2>&1; then
	skip "renegotiation" "cannot build tests/tlshello.c: $(head -c 200 "$TMPD/tlshello.cc")"
else
	openssl pkey -in "$PKI/server1.key" -outform DER -out "$TMPD/server1.key.der"
	openssl x509 -in "$PKI/server1.crt" -outform DER -out "$TMPD/server1.crt.der"
	PORT=$(free_port)
	if start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
		-C "$PKI/ca.crt" --header-timeout 30 --keepalive-timeout 30 --access-log off; then
		for n in 1 2 3; do
			out=$(printf 'GET /small.txt HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n' |
				timeout -k 2 $((40 * TF)) "$TLSHELLO" "$PORT" "$n" "$TMPD/server1.key.der" \
				"$TMPD/server1.crt.der" 2>&1)
			read -r bytes ms <<<"$(sed -n 's/^\([0-9]*\) bytes, closed after \([0-9]*\) ms$/\1 \2/p' <<<"$out")"
			if [ -z "${ms:-}" ] || [ "$ms" -gt $((3000 * TF)) ]; then
				fail "renegotiation: $n ClientHello in one record after the handshake -> closed at once" "$out"
			elif [ "$n" = 1 ] && [ "$bytes" -lt 100 ]; then
				fail "renegotiation: one ClientHello refused, the request then answered" "$out"
			else
				ok "renegotiation: $n ClientHello in one record after the handshake -> alert, $([ "$n" = 1 ] && echo "request answered" || echo "closed") ($bytes bytes, $ms ms)"
			fi
		done
		if grep -q 'client sent a handshake message after the handshake, closing' "$SERVER_ERR"; then
			ok "renegotiation: the stalled connection's close is logged"
		else
			fail "renegotiation: the stalled connection's close is logged" "$(tail -n 2 "$SERVER_ERR")"
		fi
		stop_mtlsd
	else
		fail "renegotiation: server starts" "$(cat "$SERVER_ERR")"
	fi
fi

# ---- behind a load balancer: --proxy-protocol ----------------------------------------

# The same kind of assaults where every connection must start with a PROXY
# header (tests/assault.py sends one when PROXY=1), and bad PROXY headers.
PORT=$(free_port)
if start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --proxy-protocol --max-conns 64 --handshake-timeout $HS \
	--header-timeout $HS --keepalive-timeout $HS --send-timeout $HS \
	--open-file-cache-inactive 1 --access-log off; then
	sleep 0.2
	REST_FDS=$(fds_of "$SERVER_PID")
	export PROXY=1
	for a in proxy-junk junk slow-hello stalled-handshake idle-flood reset-handshake half-close; do
		assault "$a"
	done
	unset PROXY
	stop_mtlsd
	expect_eq "proxy: exit status after SIGTERM" 0 "$SERVER_STATUS"
else
	fail "proxy: server starts with --proxy-protocol" "$(cat "$SERVER_ERR")"
fi

# sanitizer and valgrind reports land on the server's stderr
if grep -l -a -E '^==[0-9]+== |runtime error:|ERROR: (Address|Leak|Undefined)Sanitizer' \
	"$TMPD"/server.*.err >"$TMPD/reports" 2>/dev/null; then
	fail "no valgrind/sanitizer reports on the server's stderr" \
		"$(xargs -d '\n' grep -a -h -m 3 -E '^==[0-9]+== |runtime error:|Sanitizer' <"$TMPD/reports" | head -n 3)"
else
	ok "no valgrind/sanitizer reports on the server's stderr"
fi
summary
