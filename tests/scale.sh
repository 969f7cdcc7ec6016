#!/usr/bin/env bash
# tests/scale.sh -- scaling out: --workers (the supervisor, restarts,
# signals, start-up errors), --proxy-protocol (raw v1/v2 clients, then
# HAProxy with send-proxy-v2 in front of two mtlsd, using deploy/haproxy.cfg)
# and the deploy/ files deploy/README.md shows.
#
#   bash tests/scale.sh          # against ./mtlsd (build it first)
#   KEEP_TMP=1 ...               # keep the temp dir (logs, PKI, configs)
#
# Prints one line per check and "N passed, N failed" last.  The HAProxy
# checks are skipped when haproxy is not installed, the manifest's when
# python3-yaml is not.  Traffic stays on 127.0.0.1/127.0.0.2.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

if [ "$TARGET" != mtlsd ]; then
	skip "scale" "mtlsd only"
	summary
	exit
fi
need_mtlsd

# ---- fixtures -----------------------------------------------------------------

make_pki
WWW=$TMPD/www
mkdir -p "$WWW/sub"
printf '<p>scale test</p>\n' >"$WWW/index.html"
printf '<p>sub</p>\n' >"$WWW/sub/index.html"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$WWW/big.bin"
SRV=(-r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" -C "$PKI/ca.crt")
B=$TMPD/body
H=$TMPD/headers

# get PORT [curl args...] -- GET https://server2:PORT/ with server1's
# certificate (unless --no-cert comes first); sets CODE and CRC, body in $B
get() {
	local port=$1 certs=(--cert "$PKI/server1.crt" --key "$PKI/server1.key") path=/
	shift
	if [ "${1:-}" = --no-cert ]; then certs=(); shift; fi
	if [ "${1:-}" = --path ]; then path=$2; shift 2; fi
	: >"$B"
	: >"$H"
	CODE=$(curl -sS --max-time $((10 * TF)) --resolve "server2:$port:127.0.0.1" \
		--cacert "$PKI/ca.crt" "${certs[@]}" -D "$H" -o "$B" -w '%{http_code}' \
		"$@" "https://server2:$port$path" 2>"$TMPD/curl.err") && CRC=0 || CRC=$?
}

# get_many N PORT [args] -- N GETs; prints how many were 200 with the index
get_many() {
	local n=$1 i good=0
	shift
	for ((i = 0; i < n; i++)); do
		get "$@"
		[ "$CODE" = 200 ] && cmp -s "$B" "$WWW/index.html" && good=$((good + 1))
	done
	echo "$good"
}

# log_mark FILE; log_new FILE ERE [SECONDS] -- a matching line after the mark
log_mark() { MARK=$(wc -c <"$1"); }
log_new() {
	local i
	for ((i = 0; i < ${3:-3} * 20 * TF; i++)); do
		tail -c +$((MARK + 1)) "$1" | grep -a -E -q -- "$2" && return 0
		sleep 0.05
	done
	return 1
}
since_mark() { tail -c +$((MARK + 1)) "$1"; }

# stop_within SECONDS PID -- SIGTERM, wait up to SECONDS, then SIGKILL;
# sets SERVER_STATUS
stop_within() {
	local i
	kill -TERM "$2" 2>/dev/null
	for ((i = 0; i < $1 * 20 * TF; i++)); do
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$2" 2>/dev/null
	wait "$2" 2>/dev/null && SERVER_STATUS=0 || SERVER_STATUS=$?
	[ "$2" = "${SERVER_PID:-}" ] && SERVER_PID=
	return 0
}

# workers_of PID -- the supervisor's children, one per line
workers_of() { pgrep -P "$1" | sort; }
# has_workers PID N -- PID has N children or more
has_workers() { [ "$(workers_of "$1" | grep -c .)" -ge "$2" ]; }
# started_since_mark N -- N "worker N started" lines or more after the mark
started_since_mark() { [ "$(since_mark "$SERVER_ERR" | grep -c 'worker [12] started')" -ge "$1" ]; }

# wait_gone PID... -- up to 5 s for all to exit
wait_gone() {
	local i p alive
	for ((i = 0; i < 100 * TF; i++)); do
		alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && return 0
		sleep 0.05
	done
	return 1
}

# proxy_client [options] PORT -- tests/lib.sh's idea of a raw client, with a
# PROXY header first: --v1 TEXT (\r\n escapes), --v2 tcp4|tcp6|local|long,
# --dribble (one byte per write), --no-tls (send the header, report whether
# the server closes: "closed" or "open").  Prints the status line.
cat >"$TMPD/proxy_client.py" <<'EOF'
import argparse, os, socket, ssl, struct, sys, time
p = argparse.ArgumentParser()
p.add_argument('--v1'); p.add_argument('--v2')
p.add_argument('--dribble', action='store_true'); p.add_argument('--no-tls', action='store_true')
p.add_argument('--cert'); p.add_argument('--key'); p.add_argument('--cafile')
p.add_argument('--timeout', type=float, default=5)
p.add_argument('port', type=int)
a = p.parse_args()
a.timeout *= float(os.environ.get('TF', '1'))
sig = b'\r\n\r\n\x00\r\nQUIT\n'
if a.v1 is not None:
    header = a.v1.encode().decode('unicode_escape').encode('latin1')
elif a.v2 == 'tcp4':   # 198.51.100.9:40001 -> 127.0.0.1:PORT, with a NOOP TLV
    block = socket.inet_aton('198.51.100.9') + socket.inet_aton('127.0.0.1') + \
        struct.pack('!HH', 40001, a.port) + b'\x04\x00\x03pad'
    header = sig + b'\x21\x11' + struct.pack('!H', len(block)) + block
elif a.v2 == 'tcp6':
    block = socket.inet_pton(socket.AF_INET6, '2001:db8::9') + \
        socket.inet_pton(socket.AF_INET6, '::1') + struct.pack('!HH', 40002, a.port)
    header = sig + b'\x21\x21' + struct.pack('!H', len(block)) + block
elif a.v2 == 'local':
    header = sig + b'\x20\x00\x00\x00'
elif a.v2 == 'long':
    header = sig + b'\x21\x11' + struct.pack('!H', 600)
else:
    header = b''
s = socket.create_connection(('127.0.0.1', a.port), timeout=a.timeout)
if a.dribble:
    for i in range(len(header)):
        s.send(header[i:i + 1])
        time.sleep(0.003)
else:
    s.sendall(header)
if a.no_tls:
    try:
        print('closed' if not s.recv(100) else 'data')
    except ConnectionResetError:
        print('closed')
    except socket.timeout:
        print('open')
    sys.exit(0)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(a.cafile)
ctx.check_hostname = False
if a.cert:
    ctx.load_cert_chain(a.cert, a.key)
got = b''
try:
    t = ctx.wrap_socket(s, server_hostname='server2')
    t.sendall(b'GET / HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n')
    while True:
        b = t.recv(65536)
        if not b:
            break
        got += b
except (ssl.SSLError, OSError) as e:
    if not got:
        print('ERROR: %s' % e)
        sys.exit(1)
print(got.split(b'\r\n')[0].decode('latin1'))
EOF
proxy_client() {
	python3 "$TMPD/proxy_client.py" --cafile "$PKI/ca.crt" --cert "$PKI/server1.crt" \
		--key "$PKI/server1.key" "$@" 2>&1
}

# ==== 1. --workers ==============================================================

workers_group() {
	local p pids w1 w2 w1b good sup alog i dl dlrc t0 old

	p=$(free_port)
	alog=$TMPD/workers-access.log
	if ! start_mtlsd -l "127.0.0.1:$p" "${SRV[@]}" --workers 2 --access-log "$alog"; then
		fail "workers: --workers 2 starts" "$(cat "$SERVER_ERR")"
		return
	fi
	sup=$SERVER_PID
	wait_for_match "$SERVER_ERR" 'listening on' 2
	# the workers are forked after the port is open
	wait_until 5 has_workers "$sup" 2
	pids=$(workers_of "$sup")
	expect_eq "workers: the supervisor has 2 worker processes" 2 "$(echo "$pids" | grep -c .)"
	if grep -q -E '^mtlsd/0\.1\.0: 1024 connection slots x [0-9]+ bytes \+ open-file cache 64 x [0-9]+ bytes = [0-9.]+ MiB per worker, allocated once; 2 workers: [0-9.]+ MiB$' "$SERVER_ERR"; then
		ok "workers: the memory budget is printed once, per worker and in all"
	else
		fail "workers: the memory budget is printed once, per worker and in all" "$(cat "$SERVER_ERR")"
	fi
	expect_eq "workers: one 'listening on' line" 1 "$(grep -c "listening on 127.0.0.1:$p\$" "$SERVER_ERR")"

	good=$(get_many 10 "$p")
	expect_eq "workers: 10 GETs with a client certificate -> 200" 10 "$good"
	# The kernel spreads connections by their addresses and ports: with 20
	# connections both workers answer (each logs the refusals it made).
	for ((i = 0; i < 20; i++)); do get "$p" --no-cert; done
	if grep -q 'worker 1: client 127.0.0.1:[0-9]*: client sent no required SSL certificate' "$SERVER_ERR" &&
		grep -q 'worker 2: client 127.0.0.1:[0-9]*: client sent no required SSL certificate' "$SERVER_ERR"; then
		ok "workers: both workers serve the port, and say so in the error log"
	else
		fail "workers: both workers serve the port, and say so in the error log" "$(grep 'no required' "$SERVER_ERR" | head -n 3)"
	fi
	# A worker logs a response once it is sent, which may be just after
	# curl has it (under qemu, noticeably).
	for ((i = 0; i < 60 * TF && $(grep -c . "$alog") < 30; i++)); do sleep 0.05; done
	if [ "$(grep -c . "$alog")" = 30 ] && ! grep -a -v -q -E '^127\.0\.0\.1 - (server1|-) \[[^]]+\] "GET / HTTP/1\.1" (200|400) [0-9]+ "-" "curl/[^"]*"$' "$alog"; then
		ok "workers: one whole access-log line per response from both workers"
	else
		fail "workers: one whole access-log line per response from both workers" "$(grep -c . "$alog") lines: $(head -c 300 "$alog")"
	fi

	# kill -9 a worker: it is started again, and the port keeps serving,
	# even the connections the kernel queued for it while it was down
	w1=$(echo "$pids" | head -n 1)
	log_mark "$SERVER_ERR"
	kill -KILL "$w1"
	good=$(get_many 6 "$p")
	expect_eq "workers: the port serves right after kill -9 of a worker" 6 "$good"
	if log_new "$SERVER_ERR" "worker [12] \\(pid $w1\\) killed by signal 9 \\(Killed\\); restarting it in 0\\.1s" &&
		log_new "$SERVER_ERR" 'worker [12] started, pid [0-9]+'; then
		ok "workers: the dead worker is logged and restarted after 0.1 s"
	else
		fail "workers: the dead worker is logged and restarted after 0.1 s" "$(since_mark "$SERVER_ERR")"
	fi
	for ((i = 0; i < 40; i++)); do
		[ "$(workers_of "$sup" | grep -c .)" = 2 ] && ! workers_of "$sup" | grep -q -x "$w1" && break
		sleep 0.05
	done
	pids=$(workers_of "$sup")
	w1b=$(since_mark "$SERVER_ERR" | sed -n 's/.*started, pid \([0-9]*\)$/\1/p' | tail -n 1)
	if [ -n "$w1b" ] && echo "$pids" | grep -q -x "$w1b" && [ "$(echo "$pids" | grep -c .)" = 2 ]; then
		ok "workers: two workers again, one of them new"
	else
		fail "workers: two workers again, one of them new" "children: $(echo "$pids" | tr '\n' ' '), new: $w1b"
	fi
	good=$(get_many 10 "$p")
	expect_eq "workers: 10 GETs after the restart -> 200" 10 "$good"
	# the new worker dies young: the next restart waits twice as long
	log_mark "$SERVER_ERR"
	kill -KILL "$w1b"
	if log_new "$SERVER_ERR" "\\(pid $w1b\\) killed by signal 9 \\(Killed\\); restarting it in 0\\.2s"; then
		ok "workers: a worker that keeps dying young is restarted later and later"
	else
		fail "workers: a worker that keeps dying young is restarted later and later" "$(since_mark "$SERVER_ERR")"
	fi
	log_new "$SERVER_ERR" 'started, pid' >/dev/null
	for ((i = 0; i < 40; i++)); do
		[ "$(workers_of "$sup" | grep -c .)" = 2 ] && break
		sleep 0.05
	done

	# SIGHUP: the supervisor reads the files and starts two new workers; the
	# old ones finish what they have and exit
	log_mark "$SERVER_ERR"
	old=$(workers_of "$sup" | sort)
	kill -HUP "$sup"
	if log_new "$SERVER_ERR" '\[notice\] reloaded certificates.*new workers serve'; then
		wait_until 5 started_since_mark 2
		expect_eq "workers: SIGHUP -> one reload line, two new workers" "1 2" \
			"$(since_mark "$SERVER_ERR" | grep -c 'reloaded certificates') $(since_mark "$SERVER_ERR" | grep -c 'worker [12] started')"
	else
		fail "workers: SIGHUP -> one reload line, two new workers" "$(since_mark "$SERVER_ERR")"
	fi
	for ((i = 0; i < 40; i++)); do
		[ -z "$(comm -12 <(echo "$old") <(workers_of "$sup" | sort))" ] && break
		sleep 0.05
	done
	expect_eq "workers: SIGHUP -> the old workers have exited" "" "$(comm -12 <(echo "$old") <(workers_of "$sup" | sort) | tr '\n' ' ')"
	good=$(get_many 4 "$p")
	expect_eq "workers: still serving after SIGHUP" 4 "$good"

	# SIGTERM while a response is in flight: it finishes, then all exit 0
	pids=$(workers_of "$sup")
	curl -sS --max-time $((10 * TF)) --limit-rate 2M --resolve "server2:$p:127.0.0.1" \
		--cacert "$PKI/ca.crt" --cert "$PKI/server1.crt" --key "$PKI/server1.key" \
		-o "$TMPD/big.out" "https://server2:$p/big.bin" 2>"$TMPD/big.err" &
	dl=$!
	sleep 0.5
	log_mark "$SERVER_ERR"
	stop_mtlsd "$sup"
	wait "$dl" && dlrc=0 || dlrc=$?
	expect_eq "workers: SIGTERM -> the supervisor exits 0" 0 "$SERVER_STATUS"
	if [ "$dlrc" = 0 ] && cmp -s "$TMPD/big.out" "$WWW/big.bin"; then
		ok "workers: SIGTERM -> a download in flight completes"
	else
		fail "workers: SIGTERM -> a download in flight completes" "curl exit $dlrc: $(cat "$TMPD/big.err")"
	fi
	# shellcheck disable=SC2086
	if wait_gone $pids; then
		ok "workers: SIGTERM -> no worker remains"
	else
		fail "workers: SIGTERM -> no worker remains" "still running: $(ps -o pid=,args= -p "$(echo $pids | tr ' ' ,)")"
	fi
	if grep -q 'worker 1: exiting' "$SERVER_ERR" && grep -q 'worker 2: exiting' "$SERVER_ERR" &&
		tail -n 1 "$SERVER_ERR" | grep -q '\[notice\] exiting$'; then
		ok "workers: each worker, then the supervisor, logs its exit"
	else
		fail "workers: each worker, then the supervisor, logs its exit" "$(since_mark "$SERVER_ERR")"
	fi
	if port_open 127.0.0.1 "$p"; then
		fail "workers: the port is closed after SIGTERM"
	else
		ok "workers: the port is closed after SIGTERM"
	fi

	# a worker that does not stop is killed after --shutdown-grace + 3 s
	p=$(free_port)
	if ! start_mtlsd -l "127.0.0.1:$p" "${SRV[@]}" --workers 2 --shutdown-grace 1 --access-log off; then
		fail "workers: start with --shutdown-grace 1" "$(cat "$SERVER_ERR")"
		return
	fi
	sup=$SERVER_PID
	wait_for_match "$SERVER_ERR" 'listening on' 2
	# the workers are forked after the port is open
	wait_until 5 has_workers "$sup" 2
	pids=$(workers_of "$sup")
	w2=$(echo "$pids" | tail -n 1)
	kill -STOP "$w2"
	t0=$SECONDS
	stop_within 8 "$sup"
	kill -CONT "$w2" 2>/dev/null
	kill -KILL "$w2" 2>/dev/null
	if [ "$SERVER_STATUS" = 1 ] && grep -q -E "worker [12] \\(pid $w2\\) still running 4s after SIGTERM; killing it" "$SERVER_ERR" &&
		[ $((SECONDS - t0)) -ge 3 ]; then
		ok "workers: a hung worker is killed after grace + 3 s, exit 1"
	else
		fail "workers: a hung worker is killed after grace + 3 s, exit 1" "exit $SERVER_STATUS after $((SECONDS - t0))s: $(tail -n 3 "$SERVER_ERR")"
	fi
	# shellcheck disable=SC2086
	if wait_gone $pids; then
		ok "workers: no worker remains after the kill"
	else
		fail "workers: no worker remains after the kill" "$pids"
	fi

	# a supervisor killed outright takes its workers with it
	p=$(free_port)
	if start_mtlsd -l "127.0.0.1:$p" "${SRV[@]}" --workers 2 --access-log off; then
		sup=$SERVER_PID
		wait_for_match "$SERVER_ERR" 'listening on' 2
		pids=$(workers_of "$sup")
		kill -KILL "$sup"
		wait "$sup" 2>/dev/null
		SERVER_PID=
		# shellcheck disable=SC2086
		if [ -n "$pids" ] && wait_gone $pids && ! port_open 127.0.0.1 "$p"; then
			ok "workers: kill -9 of the supervisor -> the workers stop, the port closes"
		else
			fail "workers: kill -9 of the supervisor -> the workers stop, the port closes" "workers: $pids"
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null
		fi
	else
		fail "workers: start for the supervisor kill" "$(cat "$SERVER_ERR")"
	fi
}

# ==== 1b. one session cache for all workers =====================================

# resume_client [--hold FILE GO] PORT N CERT:KEY:TAG... -- for each client,
# one full handshake, then N connections offering that first session (as
# openssl s_client -sess_in); each GETs /?c=TAG&r=0|1 (r: resumed) with
# Connection: close.  Prints "TAG resumed ok" per client.  With --hold, it
# writes FILE after the first round, waits for GO to exist, then does N more
# connections with the same sessions and prints their line too, "TAG2 ...".
cat >"$TMPD/resume_client.py" <<'EOF2'
import os, socket, ssl, sys, time
args = sys.argv[1:]
hold = None
if args[0] == '--hold':
    hold = (args[1], args[2]); args = args[3:]
port, n, ca = int(args[0]), int(args[1]), args[2]
clients = []
for spec in args[3:]:
    cert, key, tag = spec.split(':')
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.check_hostname = False
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    clients.append([ctx, tag, None])
tf = float(os.environ.get('TF', '1'))
def one(c, tag):
    s = socket.create_connection(('127.0.0.1', port), timeout=10 * tf)
    t = c[0].wrap_socket(s, server_hostname='server2', session=c[2])
    r = 1 if t.session_reused else 0
    t.sendall(b'GET /?c=%s&r=%d HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n' % (tag.encode(), r))
    got = b''
    while True:
        b = t.recv(65536)
        if not b:
            break
        got += b
    if c[2] is None:
        c[2] = t.session
    t.close()
    return r, got.startswith(b'HTTP/1.1 200 ')
def rounds(suffix):
    counts = {c[1]: [0, 0] for c in clients}
    for i in range(n):
        for c in clients:
            r, good = one(c, c[1] + suffix)
            counts[c[1]][0] += r
            counts[c[1]][1] += good
    for c in clients:
        print(c[1] + suffix, counts[c[1]][0], counts[c[1]][1], flush=True)
for c in clients:
    one(c, c[1] + 'full')
rounds('')
if hold:
    open(hold[0], 'w').close()
    while not os.path.exists(hold[1]):
        time.sleep(0.05)
    rounds('2')
EOF2

sessions_group() {
	local p sup alog out n=40 a_res a_ok b_res b_ok bad old i

	p=$(free_port)
	alog=$TMPD/sessions-access.log
	if ! start_mtlsd -l "127.0.0.1:$p" "${SRV[@]}" --workers 2 --access-log "$alog"; then
		fail "sessions: --workers 2 starts" "$(cat "$SERVER_ERR")"
		return
	fi
	sup=$SERVER_PID
	wait_for_match "$SERVER_ERR" 'listening on' 2
	if grep -q -E '^mtlsd/0\.1\.0: session cache: 1024 sessions x [0-9]+ bytes = [0-9.]+ MiB of shared memory, mapped once, one cache for all workers$' "$SERVER_ERR"; then
		ok "sessions: the memory budget names the one shared session cache"
	else
		fail "sessions: the memory budget names the one shared session cache" "$(grep 'session cache' "$SERVER_ERR")"
	fi
	rm -f "$TMPD/held" "$TMPD/go"
	python3 "$TMPD/resume_client.py" --hold "$TMPD/held" "$TMPD/go" "$p" "$n" "$PKI/ca.crt" \
		"$PKI/server1.crt:$PKI/server1.key:A" "$PKI/ec-client.crt:$PKI/ec-client.key:B" \
		>"$TMPD/resume.out" 2>"$TMPD/resume.err" &
	local cl=$!
	for ((i = 0; i < 400 * TF; i++)); do
		[ -e "$TMPD/held" ] && break
		kill -0 "$cl" 2>/dev/null || break
		sleep 0.05
	done
	read -r _ a_res a_ok < <(grep '^A ' "$TMPD/resume.out")
	read -r _ b_res b_ok < <(grep '^B ' "$TMPD/resume.out")
	echo "# sessions: --workers 2, $n connections per client offering its first session: resumed A ${a_res:-?}/$n, B ${b_res:-?}/$n"
	if [ "${a_ok:-0}" = "$n" ] && [ "${b_ok:-0}" = "$n" ] &&
		[ $((a_res * 100)) -ge $((n * 95)) ] && [ $((b_res * 100)) -ge $((n * 95)) ]; then
		ok "sessions: --workers 2 -> at least 95% of the connections resume (A $a_res/$n, B $b_res/$n), all 200"
	else
		fail "sessions: --workers 2 -> at least 95% of the connections resume (A $a_res/$n, B $b_res/$n), all 200" "$(cat "$TMPD/resume.out" "$TMPD/resume.err")"
	fi
	# both workers served them: the kernel spread the connections
	for ((i = 0; i < 60 * TF && $(grep -c . "$alog") < 2 * n + 2; i++)); do sleep 0.05; done
	# each resumed connection has the identity of its own full handshake
	bad=$(grep -a -E 'GET /\?c=A&r=1 ' "$alog" | grep -a -v -c '^127\.0\.0\.1 - server1 ')
	bad=$((bad + $(grep -a -E 'GET /\?c=B&r=1 ' "$alog" | grep -a -v -c '^127\.0\.0\.1 - ec-client ')))
	expect_eq "sessions: every resumed connection logs the CN of its session's full handshake ($((a_res + b_res)) lines)" \
		"$((a_res + b_res)) 0" "$(grep -a -c -E 'GET /\?c=[AB]&r=1 ' "$alog") $bad"

	# SIGHUP: the new generation of workers resumes none of the old sessions
	log_mark "$SERVER_ERR"
	old=$(workers_of "$sup")
	kill -HUP "$sup"
	log_new "$SERVER_ERR" '\[notice\] reloaded certificates.*new workers serve' >/dev/null
	for ((i = 0; i < 100 * TF; i++)); do
		[ -z "$(comm -12 <(echo "$old" | sort) <(workers_of "$sup" | sort))" ] && break
		sleep 0.05
	done
	touch "$TMPD/go"
	wait "$cl"
	read -r _ a_res a_ok < <(grep '^A2 ' "$TMPD/resume.out")
	read -r _ b_res b_ok < <(grep '^B2 ' "$TMPD/resume.out")
	expect_eq "sessions: after SIGHUP no session of the old workers resumes; full handshakes, all 200" \
		"0 $n 0 $n" "${a_res:-?} ${a_ok:-?} ${b_res:-?} ${b_ok:-?}"
	stop_mtlsd "$sup"

	# The cache outlives the processes: sessions made before kill -9 of
	# both workers resume on the workers started in their place (with one
	# cache per process, none would: deterministic, whatever the kernel's
	# spread of connections)
	p=$(free_port)
	if ! start_mtlsd -l "127.0.0.1:$p" "${SRV[@]}" --workers 2 --access-log off; then
		fail "sessions: --workers 2 starts again" "$(cat "$SERVER_ERR")"
		return
	fi
	sup=$SERVER_PID
	wait_for_match "$SERVER_ERR" 'listening on' 2
	rm -f "$TMPD/held" "$TMPD/go"
	python3 "$TMPD/resume_client.py" --hold "$TMPD/held" "$TMPD/go" "$p" 10 "$PKI/ca.crt" \
		"$PKI/server1.crt:$PKI/server1.key:A" >"$TMPD/resume.out" 2>"$TMPD/resume.err" &
	cl=$!
	for ((i = 0; i < 400 * TF; i++)); do
		[ -e "$TMPD/held" ] && break
		kill -0 "$cl" 2>/dev/null || break
		sleep 0.05
	done
	old=$(workers_of "$sup")
	# shellcheck disable=SC2086
	kill -KILL $old
	for ((i = 0; i < 100 * TF; i++)); do
		[ "$(workers_of "$sup" | grep -c .)" = 2 ] &&
			[ -z "$(comm -12 <(echo "$old" | sort) <(workers_of "$sup" | sort))" ] && break
		sleep 0.05
	done
	touch "$TMPD/go"
	wait "$cl"
	expect_eq "sessions: after kill -9 of both workers, the new ones resume every session (10/10, all 200)" \
		"A 10 10 A2 10 10" "$(tr '\n' ' ' <"$TMPD/resume.out" | sed 's/^Afull[^A]*//; s/ $//')"
	stop_mtlsd "$sup"
}

# ==== 2. start-up errors with --workers ========================================

startup_group() {
	local p bad first

	# startup_fails NAME PATTERN [options] -- exit 1, exactly one stderr line
	# containing PATTERN, nothing started
	startup_fails() {
		local name=$1 pat=$2
		shift 2
		run_mtlsd "$@"
		if [ "$RUN_RC" != 1 ]; then
			fail "$name" "exit $RUN_RC, expected 1; stderr '$(cat "$RUN_ERR")'"
		# musl's strerror(EADDRINUSE) is "Address in use" (make test-musl).
		elif ! grep -q -F -- "$pat" "$RUN_ERR" &&
			! grep -q -F -- "${pat/Address already in use/Address in use}" "$RUN_ERR"; then
			fail "$name" "stderr does not mention '$pat': '$(cat "$RUN_ERR")'"
		elif [ "$(grep -c . "$RUN_ERR")" != 1 ]; then
			fail "$name" "expected one line on stderr, got: '$(cat "$RUN_ERR")'"
		else
			ok "$name"
		fi
	}
	p=$(free_port)
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5); time.sleep(30)' "$p" &
	bad=$!
	for _ in $(seq 50); do port_open 127.0.0.1 "$p" && break; sleep 0.05; done
	startup_fails "start: --workers 2, port in use (other program) -> one line, exit 1" "127.0.0.1:$p: Address already in use" \
		-l "127.0.0.1:$p" "${SRV[@]}" --workers 2
	kill "$bad" 2>/dev/null
	wait "$bad" 2>/dev/null

	# SO_REUSEPORT must not let a second mtlsd share the port with the first
	p=$(free_port)
	if start_mtlsd -l "127.0.0.1:$p" "${SRV[@]}" --workers 2 --access-log off; then
		first=$SERVER_PID
		startup_fails "start: --workers 2, port held by a first mtlsd --workers 2 -> exit 1" "Address already in use" \
			-l "127.0.0.1:$p" "${SRV[@]}" --workers 2
		startup_fails "start: port held by mtlsd --workers 2, single process -> exit 1" "Address already in use" \
			-l "127.0.0.1:$p" "${SRV[@]}"
		expect_eq "start: the first mtlsd still serves" 3 "$(get_many 3 "$p")"
		stop_mtlsd "$first"
	else
		fail "start: first mtlsd --workers 2" "$(cat "$SERVER_ERR")"
	fi
	p=$(free_port)
	startup_fails "start: --workers 3, missing certificate -> one line, exit 1" "$PKI/missing.crt" \
		-l "127.0.0.1:$p" -r "$WWW" -c "$PKI/missing.crt" -k "$PKI/server2.key" -C "$PKI/ca.crt" --workers 3
	startup_fails "start: --workers 2, root missing -> one line, exit 1" "$TMPD/no-root" \
		-l "127.0.0.1:$p" -r "$TMPD/no-root" -c "$PKI/server2.crt" -k "$PKI/server2.key" -C "$PKI/ca.crt" --workers 2
	if port_open 127.0.0.1 "$p"; then fail "start: nothing listens after failed starts"; else ok "start: nothing listens after failed starts"; fi
	for bad in 0 65 two; do
		run_mtlsd -l "127.0.0.1:$p" "${SRV[@]}" --workers "$bad"
		if [ "$RUN_RC" = 2 ] && grep -q -- "--workers $bad: expected a number from 1 to 64" "$RUN_ERR"; then
			ok "cli: --workers $bad -> exit 2"
		else
			fail "cli: --workers $bad -> exit 2" "exit $RUN_RC: $(cat "$RUN_ERR")"
		fi
	done
}

# ==== 3. --proxy-protocol, raw clients ===========================================

proxy_group() {
	local p alog out

	p=$(free_port)
	alog=$TMPD/proxy-access.log
	if ! start_mtlsd -l "127.0.0.1:$p" "${SRV[@]}" --proxy-protocol --handshake-timeout 1 --access-log "$alog"; then
		fail "proxy: --proxy-protocol starts" "$(cat "$SERVER_ERR")"
		return
	fi

	# expect_line NAME OUTPUT ADDRESS -- the client got 200, and the access
	# log's line for it (written after ALOG_MARK) names ADDRESS
	expect_line() {
		if [ "$2" = "HTTP/1.1 200 OK" ] && wait_for_match "$alog" . 1 &&
			tail -c +$((ALOG_MARK + 1)) "$alog" | grep -q -E "^$3 - server1 .* 200 "; then
			ok "$1"
		else
			fail "$1" "client: $2; log: $(tail -c +$((ALOG_MARK + 1)) "$alog")"
		fi
		ALOG_MARK=$(wc -c <"$alog")
	}
	: >"$alog"
	ALOG_MARK=0

	log_mark "$SERVER_ERR"
	get "$p"
	if [ "$CODE" = 000 ] && [ "$CRC" != 0 ] && log_new "$SERVER_ERR" "client 127\\.0\\.0\\.1:[0-9]+: no PROXY protocol header, closing"; then
		ok "proxy: a direct TLS client (no header) is refused and logged"
	else
		fail "proxy: a direct TLS client (no header) is refused and logged" "status $CODE, curl exit $CRC; $(since_mark "$SERVER_ERR")"
	fi

	out=$(proxy_client --v1 "PROXY TCP4 203.0.113.7 127.0.0.1 40000 $p\\r\\n" "$p")
	expect_line "proxy: v1 TCP4 header -> 200, the access log shows 203.0.113.7" "$out" '203\.0\.113\.7'
	out=$(proxy_client --dribble --v1 "PROXY TCP4 203.0.113.8 127.0.0.1 40000 $p\\r\\n" "$p")
	expect_line "proxy: v1 header sent one byte at a time -> 200, 203.0.113.8 logged" "$out" '203\.0\.113\.8'
	out=$(proxy_client --v1 "PROXY TCP6 2001:db8::7 ::1 40000 $p\\r\\n" "$p")
	expect_line "proxy: v1 TCP6 header -> 200, 2001:db8::7 logged" "$out" '2001:db8::7'
	out=$(proxy_client --v1 'PROXY UNKNOWN\r\n' "$p")
	expect_line "proxy: v1 UNKNOWN -> 200, the socket's address logged" "$out" '127\.0\.0\.1'
	out=$(proxy_client --v2 tcp4 "$p")
	expect_line "proxy: v2 TCP4 header with a TLV -> 200, 198.51.100.9 logged" "$out" '198\.51\.100\.9'
	out=$(proxy_client --dribble --v2 tcp6 "$p")
	expect_line "proxy: v2 TCP6 header, one byte at a time -> 200, 2001:db8::9 logged" "$out" '2001:db8::9'
	out=$(proxy_client --v2 local "$p")
	expect_line "proxy: v2 LOCAL (health check) -> 200, the socket's address logged" "$out" '127\.0\.0\.1'
	log_mark "$SERVER_ERR"
	out=$(proxy_client --v1 "PROXY TCP4 203.0.113.7 127.0.0.1 040000 $p\\r\\n" "$p")
	if [[ $out == ERROR* ]] && log_new "$SERVER_ERR" 'client 127\.0\.0\.1:[0-9]+: malformed PROXY protocol v1 header, closing'; then
		ok "proxy: malformed v1 header (heading zero) -> refused, logged"
	else
		fail "proxy: malformed v1 header (heading zero) -> refused, logged" "$out; $(since_mark "$SERVER_ERR")"
	fi
	log_mark "$SERVER_ERR"
	out=$(proxy_client --no-tls --v2 long "$p")
	if [ "$out" = closed ] && log_new "$SERVER_ERR" 'PROXY protocol v2 header longer than 536 bytes, closing'; then
		ok "proxy: over-long v2 header -> closed at once, logged"
	else
		fail "proxy: over-long v2 header -> closed at once, logged" "$out; $(since_mark "$SERVER_ERR")"
	fi
	log_mark "$SERVER_ERR"
	out=$(proxy_client --no-tls --v1 "PROXY TCP4 203.0.113.7 127.0.0.1 40000 $p" "$p")
	if [ "$out" = closed ] && log_new "$SERVER_ERR" 'client timed out while sending the PROXY protocol header'; then
		ok "proxy: a header that never ends -> closed after --handshake-timeout, logged"
	else
		fail "proxy: a header that never ends -> closed after --handshake-timeout, logged" "$out; $(since_mark "$SERVER_ERR")"
	fi
	log_mark "$SERVER_ERR"
	out=$(proxy_client --no-tls --v1 "" "$p")   # connects, sends nothing; the server waits
	if [ "$out" = closed ] && log_new "$SERVER_ERR" 'client timed out while sending the PROXY protocol header'; then
		ok "proxy: a silent connection -> timed out, logged"
	else
		fail "proxy: a silent connection -> timed out, logged" "$out; $(since_mark "$SERVER_ERR")"
	fi
	stop_mtlsd
}

# ==== 4. HAProxy in front of two mtlsd ================================================

haproxy_group() {
	local p0 p1 p2 cfg alog_a alog_b hpid i st good err_a pid_a

	if ! command -v haproxy >/dev/null 2>&1; then
		skip "haproxy: TCP passthrough with send-proxy-v2" "haproxy is not installed (apt-get install haproxy)"
		return
	fi
	p0=$(free_port)
	p1=$(free_port)
	p2=$(free_port)
	alog_a=$TMPD/backend-a.log
	alog_b=$TMPD/backend-b.log
	# backend a has two workers, b is one process: both take PROXY v2
	if ! start_mtlsd -l "127.0.0.1:$p1" "${SRV[@]}" --proxy-protocol --workers 2 --access-log "$alog_a"; then
		fail "haproxy: backend a starts" "$(cat "$SERVER_ERR")"
		return
	fi
	err_a=$SERVER_ERR
	pid_a=$SERVER_PID
	if ! start_mtlsd -l "127.0.0.1:$p2" "${SRV[@]}" --proxy-protocol --access-log "$alog_b"; then
		fail "haproxy: backend b starts" "$(cat "$SERVER_ERR")"
		stop_mtlsd "$pid_a"
		return
	fi
	local err_b=$SERVER_ERR

	# deploy/haproxy.cfg as deploy/README.md shows it, on these ports and files
	cat "$PKI/server1.crt" "$PKI/server1.key" >"$TMPD/health.pem"
	cfg=$TMPD/haproxy.cfg
	sed -e "s|^\\(    bind \\):443\$|\\1127.0.0.1:$p0|" \
		-e "s|192\\.0\\.2\\.11:443|127.0.0.1:$p1|" \
		-e "s|192\\.0\\.2\\.12:443|127.0.0.1:$p2|" \
		-e "s|/etc/haproxy/mtlsd/ca\\.crt|$PKI/ca.crt|" \
		-e "s|/etc/haproxy/mtlsd/health\\.pem|$TMPD/health.pem|" \
		-e "/^global\$/a\\    stats socket $TMPD/haproxy.sock" \
		deploy/haproxy.cfg >"$cfg"
	if grep -v '^ *#' "$cfg" | grep -q -E '192\.0\.2\.|/etc/haproxy|:443$'; then
		fail "haproxy: deploy/haproxy.cfg adapted to the test" "left over: $(grep -v '^ *#' "$cfg" | grep -E '192\.0\.2\.|/etc/haproxy|:443$')"
		stop_mtlsd
		stop_mtlsd "$pid_a"
		return
	fi
	check "haproxy: deploy/haproxy.cfg is valid (haproxy -c)" haproxy -c -q -f "$cfg"
	# start_mtlsd's own probes (connect, close) are behind us
	local mark_a mark_b
	mark_a=$(wc -c <"$err_a")
	mark_b=$(wc -c <"$err_b")
	haproxy -db -f "$cfg" >"$TMPD/haproxy.out" 2>&1 </dev/null &
	hpid=$!
	SERVER_PIDS+=("$hpid")
	for ((i = 0; i < 100; i++)); do port_open 127.0.0.1 "$p0" && break; sleep 0.05; done

	# health checks: PROXY v2 LOCAL, then TLS with a client certificate
	for ((i = 0; i < 100 * TF; i++)); do
		st=$(python3 - "$TMPD/haproxy.sock" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'show stat\n')
d = b''
while True:
    b = s.recv(65536)
    if not b:
        break
    d += b
lines = d.decode().splitlines()
names = lines[0].lstrip('# ').split(',')
for l in lines[1:]:
    f = dict(zip(names, l.split(',')))
    if f.get('pxname') == 'mtlsd' and f.get('svname') in ('a', 'b'):
        print(f['svname'], f['status'], f['check_status'])
EOF
		)
		[ "$st" = $'a UP L6OK\nb UP L6OK' ] && break
		sleep 0.05
	done
	expect_eq "haproxy: health checks (PROXY v2 LOCAL + TLS with a client certificate) pass on both" \
		"a UP L6OK b UP L6OK" "$(echo "$st" | tr '\n' ' ' | sed 's/ $//')"

	# curl from 127.0.0.2, so the address HAProxy saw differs from its own
	good=0
	for ((i = 0; i < 6; i++)); do
		get "$p0" --interface 127.0.0.2
		[ "$CODE" = 200 ] && cmp -s "$B" "$WWW/index.html" && good=$((good + 1))
	done
	expect_eq "haproxy: 6 GETs with a client certificate through HAProxy -> 200" 6 "$good"
	wait_for_match "$alog_b" . 2
	if grep -q -E '^127\.0\.0\.2 - server1 .*"GET / HTTP/1\.1" 200 ' "$alog_a" &&
		grep -q -E '^127\.0\.0\.2 - server1 .*"GET / HTTP/1\.1" 200 ' "$alog_b"; then
		ok "haproxy: both backends served, each logging the client's 127.0.0.2"
	else
		fail "haproxy: both backends served, each logging the client's 127.0.0.2" "a: $(head -n 2 "$alog_a"); b: $(head -n 2 "$alog_b")"
	fi
	if grep -q -E '^127\.0\.0\.1 ' "$alog_a" "$alog_b"; then
		fail "haproxy: no access-log line shows HAProxy's own address" "$(grep -h -E '^127\.0\.0\.1 ' "$alog_a" "$alog_b" | head -n 2)"
	else
		ok "haproxy: no access-log line shows HAProxy's own address"
	fi

	get "$p0" --no-cert --interface 127.0.0.2
	if [ "$CODE" = 400 ] && grep -q '<title>400 No required SSL certificate was sent</title>' "$B"; then
		ok "haproxy: no client certificate -> the 400 page through HAProxy"
	else
		fail "haproxy: no client certificate -> the 400 page through HAProxy" "status $CODE: $(head -c 200 "$B")"
	fi
	if grep -q -h 'client 127\.0\.0\.2:[0-9]*: client sent no required SSL certificate' "$err_a" "$err_b"; then
		ok "haproxy: the error log names the client's address too"
	else
		fail "haproxy: the error log names the client's address too" "$(grep -h 'no required' "$err_a" "$err_b")"
	fi
	# a redirect points at the address the client connected to (HAProxy's)
	get "$p0" --path /sub --interface 127.0.0.2
	expect_eq "haproxy: /sub -> 301 to HAProxy's port, from the PROXY header" \
		"301 https://server2:$p0/sub/" "$CODE $(hdr "$H" Location)"
	if { tail -c +$((mark_a + 1)) "$err_a"; tail -c +$((mark_b + 1)) "$err_b"; } | grep -q -i -E 'PROXY|timed out'; then
		fail "haproxy: no PROXY errors in the backends' logs" "$({ tail -c +$((mark_a + 1)) "$err_a"; tail -c +$((mark_b + 1)) "$err_b"; } | grep -i -E 'PROXY|timed out' | head -n 2)"
	else
		ok "haproxy: no PROXY errors in the backends' logs"
	fi

	kill -TERM "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
	stop_mtlsd
	stop_mtlsd "$pid_a"
}

# ==== 5. deploy/ files and deploy/README.md ============================================

deploy_group() {
	local out args

	# deploy/README.md shows deploy/haproxy.cfg verbatim
	if python3 - deploy/haproxy.cfg deploy/README.md <<'EOF'
import re, sys
cfg = open(sys.argv[1]).read()
blocks = re.findall(r'^```[a-z]*\n(.*?)^```$', open(sys.argv[2]).read(), re.S | re.M)
sys.exit(0 if cfg in blocks else 1)
EOF
	then
		ok "deploy: deploy/README.md shows deploy/haproxy.cfg verbatim"
	else
		fail "deploy: deploy/README.md shows deploy/haproxy.cfg verbatim"
	fi

	if ! python3 -c 'import yaml' 2>/dev/null; then
		skip "deploy: kubernetes.yaml" "python3-yaml is not installed"
		return
	fi
	# Not applied to a cluster here: parsed, and its parts checked against
	# each other and against mtlsd's option parser.
	out=$(python3 - deploy/kubernetes.yaml deploy/Dockerfile <<'EOF' 2>&1
import re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
dockerfile = open(sys.argv[2]).read()
kinds = {d['kind']: d for d in docs}
assert sorted(kinds) == ['Deployment', 'Secret', 'Service'], sorted(kinds)
sec, dep, svc = kinds['Secret'], kinds['Deployment'], kinds['Service']
pod = dep['spec']['template']
assert dep['spec']['selector']['matchLabels'].items() <= pod['metadata']['labels'].items()
assert svc['spec']['selector'].items() <= pod['metadata']['labels'].items(), 'Service selects no pod'
(c,) = pod['spec']['containers']
vol = {v['name']: v for v in pod['spec']['volumes']}
(m,) = c['volumeMounts']
assert vol[m['name']]['secret']['secretName'] == sec['metadata']['name']
files = {m['mountPath'] + '/' + k for k in sec['stringData']}
used = {a.split('=', 1)[1] for a in c['args'] if a.split('=')[0] in ('--cert', '--key', '--client-ca')}
assert used == files, (used, files)
ports = {p['name']: p['containerPort'] for p in c['ports']}
(sp,) = svc['spec']['ports']
assert sp['targetPort'] in ports and sp['protocol'] == 'TCP' and sp['port'] == 443
assert any(a == '--listen=0.0.0.0:%d' % ports[sp['targetPort']] for a in c['args'])
# the image the Deployment runs: its user and where it keeps www/
user = re.findall(r'^USER (\d+)', dockerfile, re.M)[-1]
assert str(pod['spec']['securityContext']['runAsUser']) == user, 'runAsUser is not the image USER'
www = re.findall(r'^COPY www/ (\S+?)/?$', dockerfile, re.M)[-1]
assert '--root=' + www in c['args'], '--root is not where the Dockerfile puts www/'
print('\n'.join(c['args']))
EOF
	) && rc=0 || rc=$?
	if [ "$rc" = 0 ]; then
		ok "deploy: kubernetes.yaml parses; Secret, Deployment, Service and Dockerfile fit together"
		mapfile -t args <<<"$out"
		# -V comes last: it exits 0 only if every option before it parsed
		run_mtlsd "${args[@]}" -V
		expect_eq "deploy: mtlsd accepts the Deployment's arguments" "0 mtlsd 0.1.0" "$RUN_RC $(head -n 1 "$RUN_OUT")"
	else
		fail "deploy: kubernetes.yaml parses; Secret, Deployment, Service and Dockerfile fit together" "$out"
	fi
}

workers_group
sessions_group
startup_group
proxy_group
haproxy_group
deploy_group

if pgrep -f -- "$TMPD" >"$TMPD/left" 2>/dev/null; then
	fail "no mtlsd or haproxy process of this suite is left running" "$(xargs ps -o pid=,args= -p <"$TMPD/left" 2>/dev/null | head -n 3)"
else
	ok "no mtlsd or haproxy process of this suite is left running"
fi
if grep -l -a -E '^==[0-9]+== |runtime error:|ERROR: (Address|Leak|Undefined)Sanitizer' \
	"$TMPD"/server.*.err "$TMPD"/run.*.err >"$TMPD/reports" 2>/dev/null; then
	fail "no valgrind/sanitizer reports on the servers' stderr" "$(head -n 1 "$TMPD/reports")"
else
	ok "no valgrind/sanitizer reports on the servers' stderr"
fi
summary
