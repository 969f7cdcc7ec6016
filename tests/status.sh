#!/usr/bin/env bash
# tests/status.sh -- --status ADDR:PORT: the plain-HTTP status port.
#
# Scrapes GET /metrics with curl: the Prometheus text format (promtool
# check metrics, where Debian's prometheus package is installed), every
# metric name with its HELP and TYPE, every label value. Checks that the
# counters move as clients are refused (no certificate, unknown CA, expired,
# not yet valid, not allowed, in both --verify-client modes) and served,
# that resumed sessions, connections by state, evictions and reloads are
# counted, that GET /status shows the same figures, 404, 405 and HEAD, that
# silent scrapers are timed out; that --workers 2 answers for both workers,
# and keeps its totals across a reload that replaces them and a worker
# killed outright; that a non-loopback address is refused (-t too). Then a real Prometheus server, started on loopback with a 1 s
# scrape interval, must see mtlsd_handshakes_total{result="no_certificate"}
# and mtlsd_requests_total{code="2xx"} rise through its HTTP API.
# Without prometheus that part is skipped, and under CI=true it fails.
# Prints "N passed, N failed" last.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

need_mtlsd
given_or_make_pki
WWW=$TMPD/www
mkdir -p "$WWW"
printf 'hello\n' >"$WWW/index.html"
cp "$PKI/server2.crt" "$TMPD/server.crt"

# scrape PORT [PATH] -- the page into $TMPD/page, headers into $TMPD/head
scrape() {
	curl -s --max-time 5 -D "$TMPD/head" -o "$TMPD/page" "http://127.0.0.1:$1${2:-/metrics}"
}

# value NAME{LABELS} -- its value in $TMPD/page, or "none"
value() {
	awk -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? "none" : v) }' "$TMPD/page"
}

# client WHO [curl options] -- one request to /; WHO is a PKI name or -
client() {
	local who=$1
	shift
	if [ "$who" = - ]; then
		curl -sk --max-time 5 -o /dev/null "$@" "https://127.0.0.1:$PORT/"
	else
		curl -sk --max-time 5 -o /dev/null --cert "$PKI/$who.crt" --key "$PKI/$who.key" \
			"$@" "https://127.0.0.1:$PORT/"
	fi
	return 0
}

# moved NAME{LABELS} BY -- after a scrape: did it rise by exactly BY since $before?
declare -A before
remember() {
	local k
	for k in "$@"; do before[$k]=$(value "$k"); done
}
moved() {
	local now
	now=$(value "$1")
	if [ "$now" != none ] && [ "${before[$1]}" != none ] && [ $((now - before[$1])) = "$2" ]; then
		ok "$3: $1 +$2"
	else
		fail "$3: $1 +$2" "before ${before[$1]}, now $now"
	fi
}

HS='mtlsd_handshakes_total{result='
ALL_NAMES="mtlsd_handshakes_total mtlsd_requests_total mtlsd_response_bytes_total
mtlsd_connections mtlsd_connection_slots mtlsd_evictions_total
mtlsd_session_cache_hits_total mtlsd_session_cache_misses_total
mtlsd_reloads_total mtlsd_last_reload_timestamp_seconds
mtlsd_certificate_expiry_timestamp_seconds"

# ---- bad uses -----------------------------------------------------------

run_mtlsd -l "127.0.0.1:$(free_port)" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --status "0.0.0.0:$(free_port)"
if [ "$RUN_RC" != 0 ] && grep -q -- '--status 0.0.0.0:[0-9]*: not a loopback address' "$RUN_ERR"; then
	ok "--status on a non-loopback address is refused, naming the option"
else
	fail "--status on a non-loopback address is refused" "rc $RUN_RC: $(cat "$RUN_ERR")"
fi
run_mtlsd -l "127.0.0.1:$(free_port)" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --status "localhost:9"
if [ "$RUN_RC" != 0 ] && grep -q -- '--status localhost:9: localhost is not a numeric' "$RUN_ERR"; then
	ok "--status with a name is refused, naming the option"
else
	fail "--status with a name is refused" "rc $RUN_RC: $(cat "$RUN_ERR")"
fi
run_mtlsd -t -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" -C "$PKI/ca.crt" \
	--status "192.0.2.1:9"
if [ "$RUN_RC" != 0 ] && grep -q -- '--status 192.0.2.1:9: not a loopback address' "$RUN_ERR"; then
	ok "-t refuses a non-loopback --status too"
else
	fail "-t refuses a non-loopback --status" "rc $RUN_RC: $(cat "$RUN_ERR")"
fi
run_mtlsd -t -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" -C "$PKI/ca.crt" \
	--status "[::1]:9"
expect_eq "-t accepts --status [::1]:PORT" 0 "$RUN_RC"
if ./mtlsd -h 2>&1 | grep -q -- '--status ADDR:PORT .*' && ./mtlsd -h 2>&1 | grep -A1 -- '--status' | grep -q 'default: off'; then
	ok "usage text lists --status with its default"
else
	fail "usage text lists --status with its default"
fi

# ---- one process --------------------------------------------------------

PORT=$(free_port)
SPORT=$(free_port)
start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$TMPD/server.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --access-log off --status "127.0.0.1:$SPORT" ||
	{ fail "server starts with --status" "$(cat "$SERVER_ERR")"; summary; exit; }
for _ in $(seq 50); do port_open 127.0.0.1 "$SPORT" && break; sleep 0.1; done

if scrape "$SPORT" && grep -qi '^content-type: text/plain; version=0.0.4' "$TMPD/head"; then
	ok "GET /metrics: 200, Content-Type text/plain; version=0.0.4"
else
	fail "GET /metrics: 200, text/plain; version=0.0.4" "$(cat "$TMPD/head" 2>/dev/null)"
fi
missing=
for n in $ALL_NAMES; do
	grep -q "^# HELP $n " "$TMPD/page" && grep -q "^# TYPE $n " "$TMPD/page" || missing="$missing $n"
done
expect_eq "every metric has # HELP and # TYPE" "" "$missing"
missing=
for r in ok no_certificate unknown_ca expired not_yet_valid revoked not_allowed bad_certificate; do
	[ "$(value "$HS\"$r\"}")" = 0 ] || missing="$missing $r"
done
# start_mtlsd's probes connected and closed without a handshake: "other".
[ "$(value "$HS\"other\"}")" -ge 1 ] 2>/dev/null || missing="$missing other"
for c in 2xx 3xx 4xx 5xx; do [ "$(value "mtlsd_requests_total{code=\"$c\"}")" = 0 ] || missing="$missing $c"; done
for s in handshake reading sending idle; do
	[ "$(value "mtlsd_connections{state=\"$s\"}")" != none ] || missing="$missing $s"
done
for r in ok failed; do [ "$(value "mtlsd_reloads_total{result=\"$r\"}")" = 0 ] || missing="$missing reload-$r"; done
expect_eq "every label value is there from the start, at 0" "" "$missing"
expect_eq "mtlsd_connection_slots" 1024 "$(value mtlsd_connection_slots)"
if grep -q '^mtlsd_certificate_expiry_timestamp_seconds{kind="server",subject="CN=server2,[^"]*"} [0-9]\{10\}$' "$TMPD/page" &&
	grep -q '^mtlsd_certificate_expiry_timestamp_seconds{kind="ca",subject="CN=ca.com,[^"]*"} [0-9]\{10\}$' "$TMPD/page"; then
	ok "certificate expiry: server and CA, with subjects"
else
	fail "certificate expiry: server and CA, with subjects" "$(grep expiry "$TMPD/page")"
fi
bad=$(grep -v '^#' "$TMPD/page" | grep -cv '^[a-z_]*\({[a-z_]*="\([^"\\]\|\\.\)*"\(,[a-z_]*="\([^"\\]\|\\.\)*"\)*}\)\? [0-9]\+$')
expect_eq "every sample line is NAME{LABELS} VALUE" 0 "$bad"
if command -v promtool >/dev/null; then
	if out=$(promtool check metrics <"$TMPD/page" 2>&1); then
		ok "promtool check metrics: no problem"
	else
		fail "promtool check metrics" "$out"
	fi
fi

# Counters move.
scrape "$SPORT"
remember "$HS\"ok\"}" "$HS\"no_certificate\"}" "$HS\"unknown_ca\"}" "$HS\"expired\"}" \
	"$HS\"not_yet_valid\"}" 'mtlsd_requests_total{code="2xx"}' 'mtlsd_requests_total{code="4xx"}' \
	mtlsd_response_bytes_total mtlsd_session_cache_misses_total mtlsd_session_cache_hits_total
client -
client -
client other-client
client expired
client notyet
client server1
client server1
client server1
scrape "$SPORT"
moved "$HS\"no_certificate\"}" 2 "clients without a certificate"
moved "$HS\"unknown_ca\"}" 1 "a client of another CA"
moved "$HS\"expired\"}" 1 "an expired client certificate"
moved "$HS\"not_yet_valid\"}" 1 "a client certificate not yet valid"
moved "$HS\"ok\"}" 3 "verified clients"
moved 'mtlsd_requests_total{code="2xx"}' 3 "served requests"
moved 'mtlsd_requests_total{code="4xx"}' 5 "refused clients' 400s"
moved mtlsd_session_cache_misses_total 8 "full handshakes"
b=${before[mtlsd_response_bytes_total]}
n=$(value mtlsd_response_bytes_total)
if [ "$n" != none ] && [ "$n" -gt $((b + 3 * 6)) ]; then
	ok "mtlsd_response_bytes_total grows by more than the bodies ($b -> $n)"
else
	fail "mtlsd_response_bytes_total grows" "$b -> $n"
fi

# A resumed session is a cache hit.
remember mtlsd_session_cache_hits_total
python3 - "$PORT" "$PKI" <<'EOF' >"$TMPD/resume.out" 2>&1
import socket, ssl, sys
port, pki = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(pki + "/server1.crt", pki + "/server1.key")
sess = None
for i in range(3):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, session=sess) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while s.recv(4096):
                pass
            print("resumed" if s.session_reused else "full")
            sess = s.session
EOF
scrape "$SPORT"
moved mtlsd_session_cache_hits_total 2 "resumed sessions ($(tr '\n' ' ' <"$TMPD/resume.out"))"

# /status, 404, 405, HEAD.
scrape "$SPORT" /status
if grep -q '^handshakes: ok [0-9]*, no_certificate [0-9]*, unknown_ca 1,' "$TMPD/page" &&
	grep -q '^requests: 2xx [0-9]*, 3xx 0, 4xx 5, 5xx 0' "$TMPD/page" && grep -q '^  server CN=server2' "$TMPD/page"; then
	ok "GET /status: the same figures, for people"
else
	fail "GET /status: the same figures" "$(head -c 600 "$TMPD/page")"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SPORT/metricsx")
expect_eq "GET /metricsx: 404" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$SPORT/metrics")
expect_eq "POST /metrics: 405" 405 "$code"
allow=$(curl -s -D - -o /dev/null -X DELETE "http://127.0.0.1:$SPORT/status" | tr -d '\r' | grep -i '^allow:')
expect_eq "405 names the methods" "Allow: GET, HEAD" "$allow"
len=$(curl -s -I "http://127.0.0.1:$SPORT/metrics" | tr -d '\r' | awk -F': ' 'tolower($1) == "content-length" { print $2 }')
body=$(curl -s --head "http://127.0.0.1:$SPORT/metrics" -o - | tr -d '\r' | sed '1,/^$/d' | wc -c)
if [ "${len:-0}" -gt 1000 ] && [ "$body" = 0 ]; then
	ok "HEAD /metrics: the length, no body"
else
	fail "HEAD /metrics: the length, no body" "length '$len', body $body bytes"
fi
# Scrapers that do not send a request are timed out; the others still get answers.
silent=()
for _ in 1 2 3 4 5 6; do
	(exec 3<>"/dev/tcp/127.0.0.1/$SPORT"; sleep 3) 2>/dev/null &
	silent+=($!)
done
sleep 0.3
code=$(curl -s --max-time 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SPORT/metrics")
expect_eq "with every status slot taken by silent clients, a scrape waits and is answered" 200 "$code"
wait "${silent[@]}"

# Reloads: one that works, one that fails.
scrape "$SPORT"
remember 'mtlsd_reloads_total{result="ok"}' 'mtlsd_reloads_total{result="failed"}'
t0=$(value mtlsd_last_reload_timestamp_seconds)
sleep 1.1
kill -HUP "$SERVER_PID"
wait_for_match "$SERVER_ERR" 'reloaded certificates' 5 >/dev/null 2>&1 || sleep 1
scrape "$SPORT"
moved 'mtlsd_reloads_total{result="ok"}' 1 "a reload"
t1=$(value mtlsd_last_reload_timestamp_seconds)
if [ "$t1" -gt "$t0" ]; then ok "mtlsd_last_reload_timestamp_seconds moves ($t0 -> $t1)"; else fail "last reload timestamp moves" "$t0 -> $t1"; fi
printf 'not a certificate\n' >"$TMPD/server.crt"
kill -HUP "$SERVER_PID"
wait_for_match "$SERVER_ERR" 'reload failed' 5 >/dev/null 2>&1 || sleep 1
scrape "$SPORT"
moved 'mtlsd_reloads_total{result="failed"}' 1 "a reload that fails"
expect_eq "a failed reload keeps the last timestamp" "$t1" "$(value mtlsd_last_reload_timestamp_seconds)"
cp "$PKI/server2.crt" "$TMPD/server.crt"
stop_mtlsd
expect_eq "server exit status" 0 "$SERVER_STATUS"

# ---- connections by state, evictions --------------------------------------

PORT=$(free_port)
SPORT=$(free_port)
start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --access-log off --status "127.0.0.1:$SPORT" --max-conns 3 ||
	fail "server with 3 slots starts" "$(cat "$SERVER_ERR")"
for _ in $(seq 50); do port_open 127.0.0.1 "$SPORT" && break; sleep 0.1; done
scrape "$SPORT"
remember mtlsd_evictions_total
# One keep-alive connection idle after its answer, then one that never starts
# its handshake; then (stage 2) two more of those: the third slot fills, and
# the fourth evicts the oldest unanswered one.
python3 - "$PORT" "$PKI" "$TMPD/stage" <<'PY' >"$TMPD/hold.out" 2>&1 &
import socket, ssl, sys, time
port, pki, stage = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(pki + "/server1.crt", pki + "/server1.key")
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5))
t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
got = b""
while b"hello" not in got:
    got += t.recv(4096)
raw = [socket.create_connection(("127.0.0.1", port))]
time.sleep(0.3)
open(stage, "w").write("1")
time.sleep(1.5)
raw += [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
time.sleep(0.3)
open(stage, "w").write("2")
time.sleep(1.5)
PY
HOLD=$!
for _ in $(seq 50); do [ -s "$TMPD/stage" ] && break; sleep 0.1; done
scrape "$SPORT"
got="$(value 'mtlsd_connections{state="idle"}') $(value 'mtlsd_connections{state="handshake"}')"
got="$got $(value 'mtlsd_connections{state="reading"}') $(value 'mtlsd_connections{state="sending"}')"
expect_eq "mtlsd_connections: idle, handshake, reading, sending" "1 1 0 0" "$got"
for _ in $(seq 50); do [ "$(cat "$TMPD/stage")" = 2 ] && break; sleep 0.1; done
scrape "$SPORT"
moved mtlsd_evictions_total 1 "a fourth connection for three slots"
expect_eq "after the eviction: idle, handshake" "1 2" \
	"$(value 'mtlsd_connections{state="idle"}') $(value 'mtlsd_connections{state="handshake"}')"
wait "$HOLD"
stop_mtlsd

# ---- --verify-client strict, --allow-cn ----------------------------------

PORT=$(free_port)
SPORT=$(free_port)
start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --access-log off --status "127.0.0.1:$SPORT" --verify-client strict \
	--allow-cn server1 || { fail "strict server starts" "$(cat "$SERVER_ERR")"; }
for _ in $(seq 50); do port_open 127.0.0.1 "$SPORT" && break; sleep 0.1; done
scrape "$SPORT"
remember "$HS\"no_certificate\"}" "$HS\"unknown_ca\"}" "$HS\"not_allowed\"}" "$HS\"ok\"}" \
	'mtlsd_requests_total{code="4xx"}'
client -
client other-client
client ec-client
client server1
scrape "$SPORT"
moved "$HS\"no_certificate\"}" 1 "strict: no certificate"
moved "$HS\"unknown_ca\"}" 1 "strict: another CA"
moved "$HS\"not_allowed\"}" 1 "strict: a CN outside --allow-cn"
moved "$HS\"ok\"}" 1 "strict: an allowed client"
moved 'mtlsd_requests_total{code="4xx"}' 0 "strict: refused in the handshake, no HTTP answer"
stop_mtlsd

# ---- --workers 2: the supervisor answers for both ------------------------

PORT=$(free_port)
SPORT=$(free_port)
start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$PKI/ca.crt" --access-log off --status "127.0.0.1:$SPORT" --workers 2 --max-conns 100 \
	--shutdown-grace 3 || { fail "server starts with --workers 2" "$(cat "$SERVER_ERR")"; }
for _ in $(seq 50); do port_open 127.0.0.1 "$SPORT" && break; sleep 0.1; done
# the workers are forked after the ports are open: until both have started
slots_are() { scrape "$SPORT" && [ "$(value mtlsd_connection_slots)" = "$1" ]; }
wait_until 5 slots_are 200
scrape "$SPORT"
expect_eq "--workers 2: mtlsd_connection_slots counts both workers' slots" 200 "$(value mtlsd_connection_slots)"
remember 'mtlsd_requests_total{code="2xx"}' "$HS\"no_certificate\"}"
for _ in $(seq 20); do client server1; done
for _ in $(seq 12); do client -; done
scrape "$SPORT"
moved 'mtlsd_requests_total{code="2xx"}' 20 "--workers 2: requests of both workers"
moved "$HS\"no_certificate\"}" 12 "--workers 2: refusals of both workers"
w1=$(grep -c 'worker 1: .*no required SSL certificate' "$SERVER_ERR")
w2=$(grep -c 'worker 2: .*no required SSL certificate' "$SERVER_ERR")
if [ "$w1" -ge 1 ] && [ "$w2" -ge 1 ] && [ $((w1 + w2)) = 12 ]; then
	ok "--workers 2: both workers refused some ($w1 + $w2), and the sum is the total"
else
	fail "--workers 2: both workers refused some" "worker 1: $w1, worker 2: $w2"
fi
# A reload replaces both workers: nothing counted before is lost or doubled,
# while the old ones finish and after they have exited.
remember 'mtlsd_requests_total{code="2xx"}' 'mtlsd_reloads_total{result="ok"}'
old=$(pgrep -P "$SERVER_PID" | sort | tr '\n' ' ')
kill -HUP "$SERVER_PID"
for _ in $(seq 100); do
	now=$(pgrep -P "$SERVER_PID" | sort | tr '\n' ' ')
	gone=1
	for p in $old; do case " $now " in *" $p "*) gone=0 ;; esac; done
	[ $gone = 1 ] && [ "$(echo "$now" | wc -w)" = 2 ] && break
	sleep 0.1
done
scrape "$SPORT"
moved 'mtlsd_reloads_total{result="ok"}' 1 "--workers 2: the supervisor's reload"
moved 'mtlsd_requests_total{code="2xx"}' 0 "--workers 2: totals kept once the old workers have exited"
for _ in $(seq 10); do client server1; done
scrape "$SPORT"
moved 'mtlsd_requests_total{code="2xx"}' 10 "--workers 2: the new workers count on top"
expect_eq "--workers 2: slots after the reload" 200 "$(value mtlsd_connection_slots)"
# A worker killed outright: its counts stay in the totals.
remember 'mtlsd_requests_total{code="2xx"}'
victim=$(pgrep -P "$SERVER_PID" | head -n 1)
kill -KILL "$victim"
sleep 0.5
scrape "$SPORT"
moved 'mtlsd_requests_total{code="2xx"}' 0 "--workers 2: a killed worker's counts stay"
stop_mtlsd

# ---- a real Prometheus ---------------------------------------------------

prometheus_missing() {
	if [ "${CI:-}" = true ]; then fail "$1" "cannot be skipped under CI=true: $2"; else skip "$1" "$2"; fi
}
if ! command -v prometheus >/dev/null; then
	prometheus_missing "Prometheus scrapes --status" "no prometheus (Debian package prometheus)"
	summary
	exit
fi
PORT=$(free_port)
SPORT=$(free_port)
PPORT=$(free_port)
# A second pinned CA whose subject needs escaping in a label value.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMPD/odd.key" -out "$TMPD/odd.crt" -days 30 \
	-subj '/CN=odd "quoted" \\back\\slash/O=Example' -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1
cat "$PKI/ca.crt" "$TMPD/odd.crt" >"$TMPD/bundle.crt"
start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" \
	-C "$TMPD/bundle.crt" --access-log off --status "127.0.0.1:$SPORT" ||
	fail "server starts for Prometheus" "$(cat "$SERVER_ERR")"
mkdir -p "$TMPD/prom"
cat >"$TMPD/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mtlsd
    static_configs:
      - targets: ['127.0.0.1:$SPORT']
EOF
prometheus --config.file="$TMPD/prom/prometheus.yml" --storage.tsdb.path="$TMPD/prom/data" \
	--web.listen-address="127.0.0.1:$PPORT" >"$TMPD/prom/log" 2>&1 &
PROM_PID=$!
SERVER_PIDS+=("$PROM_PID")   # stopped by the cleanup too

# promql QUERY -- the instant value of one series, or "none"
promql() {
	curl -s --max-time 5 -G "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
		python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "none")
except Exception:
    print("none")'
}
# until_value QUERY TEST -- waits (20 s at most) until the value passes the test
until_value() {
	local v i
	for i in $(seq 100); do
		v=$(promql "$1")
		if [ "$v" != none ] && python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if $2 else 1)" "$v"; then
			echo "$v"
			return 0
		fi
		sleep 0.2
	done
	echo "$v"
	return 1
}
if up=$(until_value 'up{job="mtlsd"}' 'v == 1'); then
	ok "Prometheus scrapes the status port (up == 1)"
else
	fail "Prometheus scrapes the status port" "up = $up; $(tail -n 3 "$TMPD/prom/log" | tr '\n' ' ')"
fi
nc0=$(until_value 'mtlsd_handshakes_total{result="no_certificate"}' 'v >= 0')
ok0=$(until_value 'mtlsd_requests_total{code="2xx"}' 'v >= 0')
for _ in 1 2 3; do client -; done
for _ in 1 2; do client server1; done
if v=$(until_value 'mtlsd_handshakes_total{result="no_certificate"}' "v >= ${nc0%.*} + 3"); then
	ok "Prometheus: mtlsd_handshakes_total{result=\"no_certificate\"} rises after refused clients ($nc0 -> $v)"
else
	fail "Prometheus: no_certificate rises" "$nc0 -> $v"
fi
if v=$(until_value 'mtlsd_requests_total{code="2xx"}' "v >= ${ok0%.*} + 2"); then
	ok "Prometheus: mtlsd_requests_total{code=\"2xx\"} rises after served clients ($ok0 -> $v)"
else
	fail "Prometheus: 2xx rises" "$ok0 -> $v"
fi
v=$(promql 'count(mtlsd_certificate_expiry_timestamp_seconds)')
expect_eq "Prometheus: the certificate expiry series (server, two CAs)" 3 "$v"
# The subjects Prometheus decoded are the ones GET /status shows as they are.
curl -s -G "http://127.0.0.1:$PPORT/api/v1/series" \
	--data-urlencode 'match[]=mtlsd_certificate_expiry_timestamp_seconds' |
	python3 -c 'import json, sys
for s in sorted(x["subject"] for x in json.load(sys.stdin)["data"]): print(s)' >"$TMPD/prom-subjects"
scrape "$SPORT" /status
sed -n 's/^  \(server\|CA    \|CRL   \) \(.*\): \(expires\|next update\) .*/\2/p' "$TMPD/page" | sort >"$TMPD/status-subjects"
if grep -qF 'CN=odd \"quoted\" \\back\\slash' "$TMPD/prom-subjects" &&
	cmp -s "$TMPD/prom-subjects" "$TMPD/status-subjects"; then
	ok "Prometheus: subject labels with quotes and backslashes arrive intact"
else
	fail "Prometheus: subject labels arrive intact" "$(cat "$TMPD/prom-subjects") | $(cat "$TMPD/status-subjects")"
fi
kill -TERM "$PROM_PID" 2>/dev/null
wait "$PROM_PID" 2>/dev/null
stop_mtlsd
expect_eq "server exit status" 0 "$SERVER_STATUS"
summary
