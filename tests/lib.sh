# shellcheck shell=bash disable=SC2034,SC2016
# (SC2034: variables set here are read by the sourcing script; SC2016: the
# nginx configuration is written with literal $variables)
# tests/lib.sh -- helpers sourced by the test scripts (bash).
#
# Environment:
#   MTLSD   command that runs the server, a word list, so a wrapper prefix
#           works: MTLSD='valgrind -q --error-exitcode=99 ./mtlsd'
#           or an emulator: MTLSD='qemu-arm-static build/armhf-static/mtlsd'
#           (default ./mtlsd)
#   TARGET  mtlsd (default) or nginx: with nginx, start_mtlsd maps its
#           options onto an nginx configuration, so the HTTP-visible checks
#           can be run against the server mtlsd replaces.
#   START_TIMEOUT  seconds to wait for the listeners (default 5, 30 under
#           valgrind or qemu)
#   TF      factor applied to client time limits (default 1, 6 under
#           valgrind, 4 under qemu)

TARGET=${TARGET:-mtlsd}
read -r -a MTLSD_CMD <<< "${MTLSD:-./mtlsd}"
# TF: factor for client time limits (wrappers like valgrind are slow)
case "${MTLSD:-}" in
*valgrind*) START_TIMEOUT=${START_TIMEOUT:-30}; TF=${TF:-6} ;;
*qemu-*) START_TIMEOUT=${START_TIMEOUT:-30}; TF=${TF:-4} ;;
*) START_TIMEOUT=${START_TIMEOUT:-5}; TF=${TF:-1} ;;
esac
export TF
# Under qemu-user the server's pid is the emulator's: its /proc entries
# (fds, memory) are qemu's, and some syscalls (openat2) are missing.
case ${MTLSD_CMD[0]##*/} in
qemu-*) EMULATOR=${MTLSD_CMD[0]##*/} ;;
*) EMULATOR= ;;
esac

PASSED=0
FAILED=0
SKIPPED=0
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/mtlsd-test.XXXXXX")
SERVER_PIDS=()
SERVER_N=0

# ---- results -------------------------------------------------------------

# one line: newlines and CRs become spaces, cut to 400 characters
_oneline() { printf '%s' "$*" | tr '\r\n' '  ' | cut -c1-400; }

ok() { PASSED=$((PASSED + 1)); echo "ok - $1"; }

fail() {
	FAILED=$((FAILED + 1))
	if [ $# -gt 1 ]; then
		echo "FAIL - $1: $(_oneline "${*:2}")"
	else
		echo "FAIL - $1"
	fi
}

skip() { SKIPPED=$((SKIPPED + 1)); echo "skip - $1: $(_oneline "${*:2}")"; }

# native_only NAME -- true unless the server runs under an emulator; then
# reports a skip.  For checks that read the server's /proc or need syscalls
# qemu-user lacks; they still run natively.
native_only() {
	[ -z "$EMULATOR" ] && return 0
	skip "$1" "not portable under $EMULATOR"
	return 1
}

# http_beneath -- can the server open files with openat2(RESOLVE_BENEATH)?
# Not under qemu-user (before 9.0) nor on kernels before 5.6: there mtlsd
# refuses every symlink, even one inside the root.
http_beneath() {
	[ -z "${EMULATOR:-}" ] && python3 -c '
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
how = (ctypes.c_uint64 * 3)(0o200000, 0, 0)      # O_DIRECTORY
fd = libc.syscall(437, -100, b".", ctypes.byref(how), 24)   # openat2(AT_FDCWD, ".")
sys.exit(0 if fd >= 0 or ctypes.get_errno() != 38 else 1)   # 38: ENOSYS'
}

# check NAME CMD... -- ok when CMD exits 0
check() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$name"
	else
		fail "$name" "exit $rc: $out"
	fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

summary() {
	if [ "$SKIPPED" -gt 0 ]; then echo "($SKIPPED skipped)"; fi
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

# ---- ports ----------------------------------------------------------------

# free_port [ADDR] -- a port nobody listens on. It is drawn below the kernel's
# ephemeral range (32768 and up), so no client connection can take it before
# the server binds it; and, when tests/run.sh runs suites at once, from a
# registry they share (MTLSD_TEST_PORTS), so no two suites draw the same one.
free_port() {
	python3 - "${1:-127.0.0.1}" <<'EOF'
import fcntl, os, random, socket, sys
a = sys.argv[1]
registry = os.environ.get('MTLSD_TEST_PORTS')
f = open(registry, 'a+') if registry else None
if f:
    fcntl.flock(f, fcntl.LOCK_EX)
    f.seek(0)
used = set(f.read().split()) if f else set()
for _ in range(2000):
    port = random.randint(10000, 32767)
    if str(port) in used:
        continue
    s = socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET)
    try:
        s.bind((a, port))
    except OSError:
        continue
    finally:
        s.close()
    if f:
        f.write('%d\n' % port)
    print(port)
    break
else:
    sys.exit('free_port: no free port found')
EOF
}

have_ipv6() {
	python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null
}

# port_open HOST PORT -- does HOST:PORT accept a TCP connection now?
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# _probe_addr ADDR:PORT -> "HOST PORT" to connect to (wildcards -> loopback)
_probe_addr() {
	local a=$1 host port
	port=${a##*:}
	host=${a%:*}
	host=${host#[}
	host=${host%]}
	case $host in
	'' | 0.0.0.0 | '*') host=127.0.0.1 ;;
	::) host=::1 ;;
	esac
	echo "$host $port"
}

# ---- the server -----------------------------------------------------------

# start_mtlsd [mtlsd options...]
# Starts the server in the background and waits until every listener accepts
# TCP connections.  Sets SERVER_PID, SERVER_OUT (stdout file), SERVER_ERR
# (stderr file).  Returns non-zero (and prints the stderr) if it does not come
# up; returns 3 without starting anything if TARGET=nginx cannot express the
# options.
start_mtlsd() {
	local listens=() a i hp
	local args=("$@")
	for ((i = 0; i < ${#args[@]}; i++)); do
		case ${args[i]} in
		-l | --listen) listens+=("${args[i + 1]}"); i=$((i + 1)) ;;
		--listen=*) listens+=("${args[i]#--listen=}") ;;
		esac
	done
	# With --nginx-conf the listeners are in the file: PROBE names them.
	[ ${#listens[@]} -gt 0 ] || read -r -a listens <<< "${PROBE:-0.0.0.0:8443}"

	SERVER_N=$((SERVER_N + 1))
	SERVER_OUT=$TMPD/server.$SERVER_N.out
	SERVER_ERR=$TMPD/server.$SERVER_N.err
	if [ "$TARGET" = nginx ]; then
		_nginx_conf "$@" || return 3
		nginx -p "$NGINX_DIR/" -e stderr -c "$NGINX_DIR/nginx.conf" \
			-g "daemon off; pid $NGINX_DIR/nginx.pid;" \
			>"$SERVER_OUT" 2>"$SERVER_ERR" </dev/null &
	else
		"${MTLSD_CMD[@]}" "$@" >"$SERVER_OUT" 2>"$SERVER_ERR" </dev/null &
	fi
	SERVER_PID=$!
	SERVER_PIDS+=("$SERVER_PID")

	local deadline=$((SECONDS + START_TIMEOUT)) up
	while :; do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "# server exited during start-up: $(_oneline "$(cat "$SERVER_ERR")")" >&2
			return 1
		fi
		up=1
		for a in "${listens[@]}"; do
			read -r -a hp <<< "$(_probe_addr "$a")"
			port_open "${hp[0]}" "${hp[1]}" || { up=0; break; }
		done
		if [ $up = 1 ]; then
			# A port accepts from listen() on, a moment before the start-up
			# line is written (long under qemu): checks read that line.
			[ "$TARGET" = nginx ] || wait_for_match "$SERVER_ERR" 'allocated once' 5 || true
			return 0
		fi
		if [ $SECONDS -ge $deadline ]; then
			echo "# server not listening after ${START_TIMEOUT}s: $(_oneline "$(cat "$SERVER_ERR")")" >&2
			return 1
		fi
		sleep 0.05
	done
}

# stop_mtlsd [PID] -- SIGTERM the (last started) server and wait for it.
# Sets SERVER_STATUS to its exit status (99 = valgrind found errors).
stop_mtlsd() {
	local pid=${1:-${SERVER_PID:-}} i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null && SERVER_STATUS=0 || SERVER_STATUS=$?
	if [ "$SERVER_STATUS" = 99 ]; then
		fail "server pid $pid exit" "valgrind reported errors, see $SERVER_ERR: $(tail -c 300 "$SERVER_ERR")"
	fi
	[ "$pid" = "${SERVER_PID:-}" ] && SERVER_PID=
	return 0
}

# run_mtlsd [options...] -- run in the foreground (for start-up errors),
# bounded by 5 s.  Sets RUN_RC, RUN_OUT, RUN_ERR (file names).
run_mtlsd() {
	SERVER_N=$((SERVER_N + 1))
	RUN_OUT=$TMPD/run.$SERVER_N.out
	RUN_ERR=$TMPD/run.$SERVER_N.err
	timeout -k 2 "$START_TIMEOUT" "${MTLSD_CMD[@]}" "$@" >"$RUN_OUT" 2>"$RUN_ERR" </dev/null &&
		RUN_RC=0 || RUN_RC=$?
}

# Writes $NGINX_DIR/nginx.conf equivalent to the mtlsd options given.
_nginx_conf() {
	local listen=() root=./www cert=certs/server.crt key=certs/server.key
	local ca=certs/ca.crt verify=on index=index.html alog=- l
	while [ $# -gt 0 ]; do
		case $1 in
		-l | --listen) listen+=("$2"); shift ;;
		-r | --root) root=$2; shift ;;
		-c | --cert) cert=$2; shift ;;
		-k | --key) key=$2; shift ;;
		-C | --client-ca) ca=$2; shift ;;
		--verify-client) verify=$2; shift ;;
		--index) index=$2; shift ;;
		--access-log) alog=$2; shift ;;
		*) echo "# TARGET=nginx: cannot map option $1" >&2; return 1 ;;
		esac
		shift
	done
	if [ "$verify" != on ]; then
		echo "# TARGET=nginx: no equivalent of --verify-client $verify" >&2
		return 1
	fi
	[ ${#listen[@]} -gt 0 ] || listen=(0.0.0.0:8443)
	NGINX_DIR=$TMPD/nginx.$SERVER_N
	mkdir -p "$NGINX_DIR"
	abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
	case $alog in
	off) alog=off ;;
	-) alog="/dev/stdout mtlsd" ;;
	*) alog="$(abs "$alog") mtlsd" ;;
	esac
	{
		echo "user root;"
		echo "worker_processes 1;"
		echo "error_log stderr info;"
		echo "events { worker_connections 512; }"
		echo "http {"
		echo "  include /etc/nginx/mime.types;"
		echo "  default_type application/octet-stream;"
		for t in client_body proxy fastcgi uwsgi scgi; do
			echo "  ${t}_temp_path $NGINX_DIR/$t;"
		done
		# combined format, with the verified client certificate's CN as user
		echo '  map "$ssl_client_verify:$ssl_client_s_dn" $mtlsd_user {'
		echo '    default "-";'
		echo '    "~^SUCCESS:(.*,)?CN=(?<cn>[^,]*)" $cn;'
		echo '  }'
		echo "  log_format mtlsd '\$remote_addr - \$mtlsd_user [\$time_local] \"\$request\" \$status \$body_bytes_sent \"\$http_referer\" \"\$http_user_agent\"';"
		echo "  server {"
		for l in "${listen[@]}"; do
			case $l in
			0.0.0.0:*) l=${l#0.0.0.0:} ;;
			esac
			echo "    listen $l ssl;"
		done
		echo "    ssl_certificate $(abs "$cert");"
		echo "    ssl_certificate_key $(abs "$key");"
		echo "    ssl_client_certificate $(abs "$ca");"
		echo "    ssl_verify_client on;"
		echo "    ssl_protocols TLSv1.2;"
		echo "    ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;"
		echo "    root $(abs "$root");"
		echo "    index $index;"
		echo "    access_log $alog;"
		echo "  }"
		echo "}"
	} >"$NGINX_DIR/nginx.conf"
}

# ---- no heap calls while serving (tests/malloc-count.so) -------------------

# counted NAME CMD... -- runs CMD (start_mtlsd or a wrapper of it) with
# tests/malloc-count.so preloaded, its counts going to $TMPD/counts; a
# failure NAME, and false, when the library is not built or the server does
# not start.
counted() {
	local name=$1
	shift
	if [ ! -f tests/malloc-count.so ]; then
		fail "$name" "build tests/malloc-count.so first (make tests/malloc-count.so)"
		return 1
	fi
	if ! LD_PRELOAD=$PWD/tests/malloc-count.so MALLOC_COUNT_OUT=$TMPD/counts "$@"; then
		fail "$name: server starts with the counter" "$(cat "$SERVER_ERR")"
		return 1
	fi
}

# heap_calls -- the heap calls the counted server, stopped, made while
# serving (empty if it wrote no counts)
heap_calls() { awk '$1 == "serving" { print $2 }' "$TMPD/counts" 2>/dev/null; }

# ---- clients ----------------------------------------------------------------

# tls_raw [--cert FILE --key FILE] [--cafile FILE] [--sni NAME] [--host H]
#         [--timeout S] [--info] PORT  < request
# Sends stdin in one write over TLS 1.2, then reads until EOF.  The response
# bytes go to stdout.  Exit 0 = server closed the connection, 2 = no EOF within
# the timeout, 1 = TLS/connection error (message on stderr).  --info prints
# "PROTOCOL CIPHER" on stderr.
tls_raw() {
	python3 "$TMPD/tls_raw.py" "$@"
}
cat >"$TMPD/tls_raw.py" <<'EOF'
import argparse, os, socket, ssl, sys
p = argparse.ArgumentParser()
p.add_argument('--cert'); p.add_argument('--key'); p.add_argument('--cafile')
p.add_argument('--sni', default='server2'); p.add_argument('--host', default='127.0.0.1')
p.add_argument('--timeout', type=float, default=5); p.add_argument('--info', action='store_true')
p.add_argument('port', type=int)
a = p.parse_args()
a.timeout *= float(os.environ.get('TF', '1'))
req = sys.stdin.buffer.read()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
if a.cafile:
    ctx.load_verify_locations(a.cafile)
else:
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
if a.cert:
    ctx.load_cert_chain(a.cert, a.key)
got = b''
try:
    raw = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s = ctx.wrap_socket(raw, server_hostname=a.sni)
    if a.info:
        print(s.version(), s.cipher()[0], file=sys.stderr)
    if req:
        s.sendall(req)
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
except socket.timeout:
    sys.stdout.buffer.write(got)
    print('TIMEOUT: no EOF from the server', file=sys.stderr)
    sys.exit(2)
except (ssl.SSLError, OSError) as e:
    sys.stdout.buffer.write(got)
    # an unclean close after a complete response counts as EOF
    if got and isinstance(e, (ssl.SSLEOFError, ConnectionResetError)):
        sys.exit(0)
    print('ERROR: %s' % e, file=sys.stderr)
    sys.exit(1)
sys.stdout.buffer.write(got)
EOF

# $TMPD/tlsget.py -- a module for the suites' Python clients in $TMPD
# (import tlsget): a client context, a connection, the responses on it one
# by one, a wait for a file.
cat >"$TMPD/tlsget.py" <<'EOF'
import os, socket, ssl, time

def context(cert, key, tls12=False):
    """A client context presenting CERT (with KEY); the server's is not checked."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls12:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx

def connect(ctx, port, sni=None, timeout=10):
    """A TLS connection to 127.0.0.1:PORT, its handshake done."""
    return ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=timeout),
                           server_hostname=sni)

class Responses:
    """The HTTP responses on connection S, one by one."""
    def __init__(self, s):
        self.s, self.buf = s, b''

    def next(self):
        """(STATUS, BODY) of the next response; None when the server closes first."""
        while b'\r\n\r\n' not in self.buf:
            b = self.s.recv(65536)
            if not b:
                return None
            self.buf += b
        head, _, rest = self.buf.partition(b'\r\n\r\n')
        length = 0
        for line in head.split(b'\r\n')[1:]:
            k, _, v = line.partition(b':')
            if k.strip().lower() == b'content-length':
                length = int(v)
        while len(rest) < length:
            b = self.s.recv(65536)
            if not b:
                break
            rest += b
        body, self.buf = rest[:length], rest[length:]
        return head.split(b' ')[1].decode(), body

def wait_for(path, seconds):
    """Returns once PATH exists, or SECONDS on."""
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)
EOF

# two_gets PORT WHO PATH GO READY -- two GETs of PATH on one connection with
# WHO's certificate ($PKI/WHO.crt): the first at once, then, after creating
# READY, the second once GO exists (at most 20 s on). Prints each status, or
# "closed" where the server closed the connection instead of answering.
two_gets() { python3 "$TMPD/two_gets.py" "$PKI" "$@"; }
cat >"$TMPD/two_gets.py" <<'EOF'
import sys
from tlsget import context, connect, Responses, wait_for
pki, port, who, path, go, ready = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]
s = connect(context('%s/%s.crt' % (pki, who), '%s/%s.key' % (pki, who)), port, 'server2')
r = Responses(s)
def get():
    try:
        s.sendall(b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: server2\r\n\r\n')
        got = r.next()
    except OSError:
        got = None
    return got[0] if got else 'closed'
print(get(), flush=True)
open(ready, 'w').close()
wait_for(go, 20)
print(get())
EOF

# responses FILE [head] -- parse a raw byte stream of HTTP responses; prints
# "STATUS CONTENT-LENGTH" per response, then "rest N" (bytes left over after
# the last complete response) and "bare-LF" if a header line lacks its CR.
# With "head", responses are taken to have no body (answers to HEAD).
responses() { python3 "$TMPD/responses.py" "$@"; }
cat >"$TMPD/responses.py" <<'EOF'
import sys
d = open(sys.argv[1], 'rb').read()
head = len(sys.argv) > 2 and sys.argv[2] == 'head'
bare = False
while d.startswith(b'HTTP/'):
    i = d.find(b'\r\n\r\n')
    if i < 0:
        break
    lines = d[:i].split(b'\r\n')
    if any(b'\n' in l for l in lines):
        bare = True
    cl = 0
    for l in lines[1:]:
        k, _, v = l.partition(b':')
        if k.strip().lower() == b'content-length':
            cl = int(v.strip() or 0)
    print(lines[0].split(b' ')[1].decode(), 0 if head else cl)
    d = d[i + 4 + (0 if head else cl):]
print('rest', len(d))
if bare:
    print('bare-LF')
EOF

# hdr FILE NAME -- value of header NAME (case-insensitive) in a header dump,
# CR stripped; the last response's if there are several.
hdr() {
	tr -d '\r' <"$1" | awk -v n="$2" '
		BEGIN { n = tolower(n) }
		/^HTTP\// { v = ""; found = 0 }
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); found = 1 } }
		END { if (found) print v }'
}

# count_responses FILE -- number of HTTP status lines in a raw byte stream
count_responses() { grep -a -c '^HTTP/1\.[01] [0-9][0-9][0-9] ' "$1" || true; }

# wait_for_file_match FILE ERE [SECONDS] -- poll until FILE has a line
# matching ERE (logs may be written a moment after the response)
wait_for_match() {
	local f=$1 re=$2 t=${3:-3} i
	for ((i = 0; i < t * TF * 20; i++)); do
		grep -a -E -q -- "$re" "$f" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# wait_until SECONDS CMD... -- runs CMD every 50 ms until it succeeds, for
# at most SECONDS (times TF); false if it never did
wait_until() {
	local t=$1 i
	shift
	for ((i = 0; i < t * TF * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# need_mtlsd -- end the suite (with its summary) unless the server binary
# (MTLSD_CMD) is there
need_mtlsd() {
	if [ ! -x "${MTLSD_CMD[0]}" ] && ! command -v "${MTLSD_CMD[0]}" >/dev/null 2>&1; then
		fail "mtlsd binary" "${MTLSD_CMD[0]} not found; run make first"
		summary
		exit
	fi
}

# make_pki [SCRIPT] -- the test PKI (tests/mkpki.sh, or SCRIPT) in
# PKI=$TMPD/pki; ends the suite with a failure if it cannot be made
make_pki() {
	local script=${1:-tests/mkpki.sh}
	PKI=$TMPD/pki
	if ! sh "$script" "$PKI" >"$TMPD/mkpki.log" 2>&1; then
		fail "test PKI" "$script failed: $(tail -n 5 "$TMPD/mkpki.log")"
		summary
		exit
	fi
}

# given_or_make_pki -- the PKI run.sh passes in PKI, if it has the keys;
# else make_pki
given_or_make_pki() {
	if [ -z "${PKI:-}" ] || [ ! -f "$PKI/server2.key" ]; then
		make_pki
	fi
}

_cleanup() {
	local pid
	for pid in "${SERVER_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${SERVER_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done
	if [ -n "${KEEP_TMP:-}" ]; then
		echo "# kept $TMPD" >&2
	else
		rm -rf "$TMPD"
	fi
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
