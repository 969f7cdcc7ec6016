#!/usr/bin/env bash
# tests/http.sh -- HTTP behaviour of mtlsd, over real TLS with a client
# certificate, from raw requests: the table in tests/httplib.sh (requests,
# keep-alive, bodies, limits, targets, paths, symlinks, special files, a
# 5 GiB file, content types, conditional requests, ranges, error pages),
# then what a table row cannot express: settings (--max-requests,
# --header-timeout, --keepalive-timeout, --max-head), files that change
# while they are sent, and an access log nobody reads.
#
#   bash tests/http.sh          # against ./mtlsd; KEEP_TMP=1 keeps the files
#
# Prints one line per check and "N passed, N failed" last.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
. tests/httplib.sh

need_mtlsd

make_pki
WWW=$TMPD/www
http_fixtures "$WWW"
SRV=(-r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" -C "$PKI/ca.crt")

# raw [tls_raw options] PORT -- tls_raw with the client certificate server1
raw() {
	tls_raw --cafile "$PKI/ca.crt" --cert "$PKI/server1.crt" --key "$PKI/server1.key" "$@"
}

# start NAME [options] -- start mtlsd on a fresh port (PORT), access log off
start() {
	local name=$1
	shift
	PORT=$(free_port)
	if start_mtlsd -l "127.0.0.1:$PORT" "${SRV[@]}" --access-log off "$@"; then
		return 0
	fi
	fail "$name: server starts" "$(cat "$SERVER_ERR")"
	return 1
}

# ==== the table ================================================================

if start "table"; then
	http_cases >"$TMPD/cases"
	report_lines < <(http_run expect "$PORT" "$TMPD/cases")
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		ok "table: server still running"
	else
		fail "table: server still running" "$(tail -n 3 "$SERVER_ERR")"
	fi
	stop_mtlsd
fi

# small_table NAME [mtlsd options] < ROWS -- rows in the table's format, run
# against a server started with those options
small_table() {
	local name=$1
	shift
	cat >"$TMPD/small.$name"
	if start "$name" "$@"; then
		report_lines < <(http_run expect "$PORT" "$TMPD/small.$name")
		stop_mtlsd
	fi
}

# ==== settings ===================================================================

H='Host: server2\r\n'
small_table max-requests --max-requests 3 <<ROWS
max-requests 3: the third answer closes | 3*200 | close | 2:H:Connection=keep-alive | {4*GET /notes.txt HTTP/1.1\r\n${H}\r\n}
max-requests 3: two, then the probe closes | 2*200 | keep | - | {2*GET /notes.txt HTTP/1.1\r\n${H}\r\n}
ROWS
small_table max-requests-1 --max-requests 1 <<ROWS
max-requests 1: the first answer closes | 200 | close | - | GET /notes.txt HTTP/1.1\r\n${H}\r\n
ROWS

# A head of 512 bytes: "GET /" + 479 + " HTTP/1.1\r\n" + "Host: server2\r\n" + "\r\n"
small_table max-head --max-head 512 <<ROWS
max-head 512: a 600-byte URI -> 414 | 414 | close | B=page | GET /{600*a} HTTP/1.1\r\n${H}\r\n
max-head 512: HEAD with a 600-byte URI -> 414, no body | 414 | close | B#0 | HEAD /{600*a} HTTP/1.1\r\n${H}\r\n
max-head 512: 600 bytes of headers -> 400 too large | 400 | close | B=page:Request Header Or Cookie Too Large | GET / HTTP/1.1\r\n${H}X-A: {600*b}\r\n\r\n
max-head 512: a head of exactly 512 bytes | 404 | keep | - | GET /{479*a} HTTP/1.1\r\n${H}\r\n
max-head 512: a head of 513 bytes -> 400 too large | 400 | close | B=page:Request Header Or Cookie Too Large | GET /{480*a} HTTP/1.1\r\n${H}\r\n
max-head 512: a 512-byte line, no end -> 414 | 414 | close | - | GET /{507*a}
max-head 512: two heads of 500 bytes pipelined | 404 404 | keep | - | {2*GET /{467*a} HTTP/1.1\r\n${H}\r\n}
ROWS

HTTP_PARALLEL=1 small_table header-timeout --header-timeout 1 --keepalive-timeout 2 <<ROWS
header-timeout 1: unfinished head -> silent close after 1 s | - | silent | T>0.9; T<3 | GET /notes.txt HTTP/1.1\r\n${H}
header-timeout 1: no request at all -> silent close after 1 s | - | silent | T>0.9; T<3 | {0*x}
header-timeout 1: unfinished pipelined request -> answer, close after 1 s | 200 | idle | T>0.9; T<3 | GET /notes.txt HTTP/1.1\r\n${H}\r\nGET /t.txt HTTP/1.1\r\n
keepalive-timeout 2: idle after two answers -> close after 2 s, not 1 | 200 200 | idle | 2:B=@notes.txt; T>1.9; T<4 | {2*GET /notes.txt HTTP/1.1\r\n${H}\r\n}
ROWS
if grep -q 'client timed out while reading client request headers' "$SERVER_ERR"; then
	ok "header-timeout: logged as nginx does"
else
	fail "header-timeout: logged as nginx does" "$(tail -n 3 "$SERVER_ERR")"
fi

# steps PORT STEP... -- one TLS connection (client certificate server1)
# driven step by step; what arrives goes to $TMPD/steps.out, one line per
# step to stdout.  Steps: send:BYTES (Python escapes), sleep:S, read:N (at
# least N bytes in all), sh:COMMAND, eof:S (EOF within S seconds, else the
# step fails).  Exit 0 when every step succeeded.
steps() { python3 "$TMPD/steps.py" "$PKI" "$TMPD/steps.out" "$@"; }
cat >"$TMPD/steps.py" <<'EOF'
import codecs, os, socket, ssl, subprocess, sys, time
pki, out, port, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
tf = float(os.environ.get('TF', '1'))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(pki + '/ca.crt')
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(pki + '/server1.crt', pki + '/server1.key')
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=10 * tf),
                    server_hostname='server2')
got, eof, rc, start = b'', False, 0, time.monotonic()

def recv(deadline):
    global got, eof
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        b = s.recv(1 << 20)
    except socket.timeout:
        return False
    except (ssl.SSLEOFError, ConnectionResetError):
        b = b''
    if not b:
        eof = True
    got += b
    return True

for step in steps:
    kind, _, arg = step.partition(':')
    t = time.monotonic()
    ok = True
    if kind == 'send':
        try:
            s.sendall(codecs.escape_decode(arg.encode('latin-1'))[0])
        except OSError:
            ok = False
    elif kind == 'sleep':
        time.sleep(float(arg))
    elif kind == 'sh':
        ok = subprocess.run(arg, shell=True).returncode == 0
    elif kind == 'read':
        deadline = t + 10 * tf
        while len(got) < int(arg) and not eof and time.monotonic() < deadline:
            recv(deadline)
        ok = len(got) >= int(arg)
    elif kind == 'eof':
        deadline = t + float(arg) * tf
        while not eof and time.monotonic() < deadline:
            recv(deadline)
        ok = eof
    print('%s %s %s after %.2fs (%d bytes in all)' % (
        'ok' if ok else 'FAILED', kind, arg[:40], time.monotonic() - t, len(got)))
    if not ok:
        rc = 1
        break
open(out, 'wb').write(got)
sys.exit(rc)
EOF

# check_steps NAME EXPECTED-RESPONSES STEP... -- steps, then `responses`
# (lib.sh) of what arrived must be EXPECTED-RESPONSES (one line, spaces)
check_steps() {
	local name=$1 want=$2 log got
	shift 2
	log=$(steps "$PORT" "$@" 2>&1) && got=$(responses "$TMPD/steps.out" | tr '\n' ' ') ||
		got="steps failed: $log"
	if [ "$got" = "$want" ]; then ok "$name"; else fail "$name" "got '$got', expected '$want'"; fi
}

if start timeouts --header-timeout 1 --keepalive-timeout 2; then
	# a timer per read would close at 1.9 s; the head's timer closes at 1 s
	check_steps "header-timeout 1: a head trickling in -> silent close 1 s after its start" "rest 0 " \
		'send:GET /notes.txt HTTP/1.1\r\n' sleep:0.3 'send:Host: server2\r\n' sleep:0.3 \
		'send:X-A: 1\r\n' sleep:0.3 'send:X-B: 1\r\n' eof:0.6
	check_steps "keepalive-timeout 2: idle 1.5 s (past header-timeout 1), then served" \
		"200 17 200 17 rest 0 " 'send:GET /notes.txt HTTP/1.1\r\nHost: server2\r\n\r\n' \
		read:200 sleep:1.5 'send:GET /notes.txt HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n' eof:2
	check_steps "header-timeout 1: starts again with the next request" "200 17 rest 0 " \
		'send:GET /notes.txt HTTP/1.1\r\nHost: server2\r\n\r\n' read:200 sleep:1.5 \
		'send:GET /notes.txt HTTP/1.1\r\n' eof:2
	stop_mtlsd
fi

# ==== files that change while they are sent ======================================

if start changing --send-timeout 5; then
	head -c $((32 * 1024 * 1024)) /dev/urandom >"$WWW/shrink.bin"
	check_steps "shrink: 32 MiB file cut to 1 MiB while sent -> connection closed short" \
		"200 33554432 rest 0 " 'send:GET /shrink.bin HTTP/1.1\r\nHost: server2\r\n\r\n' \
		read:262144 sleep:0.3 "sh:truncate -s 1M '$WWW/shrink.bin'" eof:10
	# `responses` stops at a body shorter than its Content-Length: "rest" is
	# all that came after the head; it must be less than 32 MiB
	if [ "$(wc -c <"$TMPD/steps.out")" -lt $((32 * 1024 * 1024)) ]; then
		ok "shrink: fewer bytes than Content-Length, then EOF"
	else
		fail "shrink: fewer bytes than Content-Length, then EOF" "$(wc -c <"$TMPD/steps.out") bytes"
	fi
	if wait_for_match "$SERVER_ERR" 'file shrank'; then ok "shrink: logged"; else fail "shrink: logged" "$(tail -n 2 "$SERVER_ERR")"; fi

	head -c $((4 * 1024 * 1024)) /dev/urandom >"$WWW/grow.bin"
	cp "$WWW/grow.bin" "$TMPD/grow.orig"
	check_steps "grow: 4 MiB file grown by 1 MiB while sent -> 4 MiB, then the next answer" \
		"200 4194304 200 6 rest 0 " \
		'send:GET /grow.bin HTTP/1.1\r\nHost: server2\r\n\r\nGET /probe.txt HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n' \
		read:262144 sleep:0.3 "sh:head -c 1048576 /dev/urandom >>'$WWW/grow.bin'" eof:10
	if python3 - "$TMPD/steps.out" "$TMPD/grow.orig" <<'EOF'; then
import sys
d, orig = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
start = d.index(b'\r\n\r\n') + 4
sys.exit(0 if d[start:start + len(orig)] == orig else 1)
EOF
		ok "grow: the body is the file as it was"
	else
		fail "grow: the body is the file as it was"
	fi
	status_line=$(printf 'GET /notes.txt HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n' |
		raw --timeout 5 "$PORT" 2>/dev/null | head -n 1 | tr -d '\r')
	expect_eq "changing: server still serves" "HTTP/1.1 200 OK" "$status_line"
	stop_mtlsd
fi


# ==== a client that stops reading ================================================

if start send-timeout --send-timeout 1; then
	t0=$SECONDS
	check_steps "send-timeout 1: a client that stops reading a 5 GiB file is cut off" \
		"200 5368709120 rest 0 " 'send:GET /huge.bin HTTP/1.1\r\nHost: server2\r\n\r\n' \
		read:65536 sleep:2.5 eof:10
	if [ "$(wc -c <"$TMPD/steps.out")" -lt $((1024 * 1024 * 1024)) ]; then
		ok "send-timeout 1: closed after $(wc -c <"$TMPD/steps.out") bytes, in $((SECONDS - t0)) s"
	else
		fail "send-timeout 1: closed early" "$(wc -c <"$TMPD/steps.out") bytes"
	fi
	if wait_for_match "$SERVER_ERR" 'client timed out while sending response'; then
		ok "send-timeout 1: logged"
	else
		fail "send-timeout 1: logged" "$(tail -n 2 "$SERVER_ERR")"
	fi
	stop_mtlsd
fi

# ==== a symlink that changes under the server ====================================

# The link flips between a file inside the root and one outside while a
# thousand pipelined requests ask for it: the file outside must never be
# sent (a check-then-open would lose this race now and then). Without the
# open-file cache every request resolves the path, so both sides must be
# seen; with it, a hit skips resolution for up to a second, and what counts
# is that the outside file never comes out of it.
# symlink_race LABEL BOTH_SIDES options...
symlink_race() {
	local label=$1 both=$2 round
	shift 2
	start "$label" "$@" || return
	python3 - "$WWW" <<'EOF' &
import os, sys, time
os.chdir(sys.argv[1])
targets, i, end = ['notes.txt', '../secret.txt', 'link-dir-out/secret.txt'], 0, time.time() + 20
if os.path.lexists('race.new'):   # left by an earlier flipper, killed mid-flip
    os.unlink('race.new')
while time.time() < end:          # atomic flips: the link always exists
    os.symlink(targets[i % 3], 'race.new')
    os.rename('race.new', 'race')
    i += 1
EOF
	flipper=$!
	sleep 0.2
	# rounds of 1000 pipelined requests until both sides were seen (the
	# flipper may not get a core during a round)
	served=0 refused=0 answers=0 leaked=0
	for round in 1 2 3 4 5 6 7 8; do
		{ for _ in $(seq 1000); do printf 'GET /race HTTP/1.1\r\nHost: server2\r\n\r\n'; done; } |
			raw --timeout 10 "$PORT" >"$TMPD/race" 2>&1
		grep -a -q "$HTTP_SECRET" "$TMPD/race" && leaked=1
		served=$((served + $(grep -a -c '^plain text notes$' "$TMPD/race")))
		refused=$((refused + $(grep -a -c '^HTTP/1.1 404 ' "$TMPD/race")))
		answers=$((answers + $(count_responses "$TMPD/race")))
		[ "$served" -gt 0 ] && [ "$refused" -gt 0 ] && break
		http_beneath || break
	done
	kill "$flipper" 2>/dev/null
	wait "$flipper" 2>/dev/null
	if [ "$leaked" = 1 ]; then
		fail "$label: the file outside the root was sent"
	elif [ "$answers" != $((round * 1000)) ]; then
		fail "$label: every request answered" "$answers answers to $((round * 1000))"
	elif ! http_beneath; then
		expect_eq "$label, no openat2: every answer a 404" "0 1000" "$served $refused"
	elif [ "$both" = 1 ] && { [ "$served" = 0 ] || [ "$refused" = 0 ]; }; then
		fail "$label: both sides seen" "$served served inside, $refused 404: the race was not run"
	else
		ok "$label: $answers answers ($served served inside, $refused 404), never the file outside"
	fi
	stop_mtlsd
}
symlink_race "symlink race" 1 --open-file-cache 0
symlink_race "symlink race, open-file cache" 0

# ==== a redirect whose head does not fit a TLS record =============================

# GET /sub?<8-bit bytes>: escaped, the Location passes 16 KiB. It once closed
# the connection with no answer and no access-log line (issue 13, item 11).
# With the default --max-head, nginx's own form (the bytes raw) fits; with a
# larger --max-head nothing does, and the answer is a 500.
# long_redirect NAME QUERY_BYTES STATUS [mtlsd options]
long_redirect() {
	local name=$1 bytes=$2 want=$3 got
	shift 3
	if start "$name" --access-log "$TMPD/$name.log" "$@"; then
		python3 -c 'import sys; sys.stdout.buffer.write(b"GET /sub?" + b"\xff" * int(sys.argv[1]) + b" HTTP/1.1\r\nHost: server2\r\n\r\n")' \
			"$bytes" | raw --timeout 3 "$PORT" >"$TMPD/$name.out" 2>&1
		got=$(head -n 1 "$TMPD/$name.out" | tr -d '\r')
		stop_mtlsd
		expect_eq "$name: answered" "HTTP/1.1 $want $(http_reason_of "$want")" "$got"
		if grep -a -q -E "\"GET /sub\?(\\\\xFF)+[^\"]*\" $want " "$TMPD/$name.log"; then
			ok "$name: access-log line with $want"
		else
			fail "$name: access-log line with $want" "$(tail -c 200 "$TMPD/$name.log")"
		fi
	fi
}
http_reason_of() { case $1 in 301) echo "Moved Permanently" ;; 500) echo "Internal Server Error" ;; esac; }
long_redirect "redirect: 6000 8-bit bytes of query, sent raw as nginx" 6000 301
long_redirect "redirect: 30000 bytes of query with --max-head 65536 -> 500" 30000 500 --max-head 65536
if grep -q 'response head larger than a TLS record, answering 500' "$SERVER_ERR"; then
	ok "redirect: the 500 is explained in the error log"
else
	fail "redirect: the 500 is explained in the error log" "$(tail -n 2 "$SERVER_ERR")"
fi

# ==== an access log that nobody reads ============================================

# A fifo whose reader never reads: the pipe fills after some 600 lines. The
# test shell holds the reading end so that the server's open() does not wait.
mkfifo "$TMPD/access.fifo"
exec {fifo_fd}<>"$TMPD/access.fifo"
if start fifo-log --access-log "$TMPD/access.fifo"; then
	t0=$SECONDS
	for i in 1 2 3; do
		{ for _ in $(seq 1000); do printf 'GET /notes.txt HTTP/1.1\r\nHost: server2\r\n\r\n'; done; } |
			raw --timeout 10 "$PORT" >"$TMPD/fifo.$i" 2>&1
	done
	n=$(cat "$TMPD"/fifo.[123] | count_responses /dev/stdin)
	expect_eq "access log blocked: 3000 pipelined requests all answered" 3000 "$n"
	if [ $((SECONDS - t0)) -le $((10 * TF)) ]; then
		ok "access log blocked: in $((SECONDS - t0)) s"
	else
		fail "access log blocked: in $((SECONDS - t0)) s"
	fi
	status_line=$(printf 'GET /notes.txt HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n' |
		raw --timeout 3 "$PORT" 2>/dev/null | head -n 1 | tr -d '\r')
	expect_eq "access log blocked: still serving" "HTTP/1.1 200 OK" "$status_line"
	stop_mtlsd
	if grep -q -E '[0-9]+ access log lines were dropped' "$SERVER_ERR"; then
		ok "access log blocked: the dropped lines are counted at exit"
	else
		fail "access log blocked: the dropped lines are counted at exit" "$(tail -n 2 "$SERVER_ERR")"
	fi
fi
exec {fifo_fd}>&-

# ASan/UBSan (make SANITIZE=1) and valgrind report on the server's stderr
if grep -l -a -E '^==[0-9]+== |runtime error:|ERROR: (Address|Leak|Undefined)Sanitizer' \
	"$TMPD"/server.*.err >"$TMPD/reports" 2>/dev/null; then
	fail "no sanitizer reports on the server's stderr" \
		"$(xargs -d '\n' grep -a -h -m 2 -E '^==[0-9]+== |runtime error:|Sanitizer' <"$TMPD/reports" | head -n 2)"
else
	ok "no sanitizer reports on the server's stderr"
fi

summary
