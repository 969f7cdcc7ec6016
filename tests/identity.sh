#!/usr/bin/env bash
# tests/identity.sh -- who gets in: the client-certificate matrix in "on"
# and "strict" mode (and against nginx with the same PKI when nginx is
# installed), session resumption, allowlists, CRL reload with an open
# keep-alive connection, --check-cert, and log lines a certificate cannot
# forge.
#
#   sh tests/identity.sh         # against ./mtlsd (build it first)
#   KEEP_TMP=1 ...               # keep the temp dir (PKI, logs)
#   NGINX=0 ...                  # skip the nginx comparison
#
# Prints one line per check and "N passed, N failed" last. Needs openssl,
# python3, a C compiler and libbearssl-dev (for tests/tlsclient.c).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
TARGET=mtlsd
. tests/lib.sh

if [ ! -x "${MTLSD_CMD[0]}" ] && ! command -v "${MTLSD_CMD[0]}" >/dev/null 2>&1; then
	fail "mtlsd binary" "${MTLSD_CMD[0]} not found; run make first"
	summary
	exit
fi

PKI=$TMPD/pki
if ! sh tests/mkpki-identity.sh "$PKI" >"$TMPD/mkpki.log" 2>&1; then
	fail "test PKI" "tests/mkpki-identity.sh failed: $(tail -n 5 "$TMPD/mkpki.log")"
	summary
	exit
fi
WWW=$TMPD/www
mkdir -p "$WWW"
echo "identity test page" >"$WWW/index.html"

TLSCLIENT=$TMPD/tlsclient
if ! ${CC:-cc} -O1 -o "$TLSCLIENT" tests/tlsclient.c -lbearssl >"$TMPD/cc.log" 2>&1; then
	TLSCLIENT=
fi
HAVE_NGINX=
if [ "${NGINX:-1}" != 0 ] && command -v nginx >/dev/null 2>&1; then
	HAVE_NGINX=1
fi

# ---- clients ----------------------------------------------------------------

# probe PORT NAME... -- one connection per NAME ($PKI/NAME.chain with
# $PKI/NAME.key, or - for no certificate), one GET each; prints "NAME RESULT"
# per line. RESULT: the status (400 pages as 400-cert or 400-nocert), or
# alert-N when the handshake ended with the server's alert N, or error:TEXT.
probe() { python3 "$TMPD/probe.py" "$PKI" "$@"; }
cat >"$TMPD/probe.py" <<'EOF'
import socket, ssl, sys
pki, port, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
alerts = {'HANDSHAKE_FAILURE': 40, 'BAD_CERTIFICATE': 42, 'UNSUPPORTED_CERTIFICATE': 43,
          'CERTIFICATE_REVOKED': 44, 'CERTIFICATE_EXPIRED': 45, 'CERTIFICATE_UNKNOWN': 46,
          'UNKNOWN_CA': 48, 'ACCESS_DENIED': 49, 'DECRYPT_ERROR': 51}
for name in names:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if name != '-':
        ctx.load_cert_chain('%s/%s.chain' % (pki, name), '%s/%s.key' % (pki, name))
    got = b''
    try:
        s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=10))
        s.sendall(b'GET / HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n')
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except ssl.SSLError as e:
        reason = (e.reason or '').replace('SSLV3_ALERT_', '').replace('TLSV1_ALERT_', '')
        if not got:
            print(name, 'alert-%d' % alerts[reason] if reason in alerts else 'error:%s' % e)
            continue
    except OSError as e:
        if not got:
            print(name, 'error:%s' % e)
            continue
    status = got.split(b' ', 2)[1].decode() if got.startswith(b'HTTP/') else 'none'
    if status == '400':
        status += '-nocert' if b'No required SSL certificate' in got else '-cert'
    print(name, status)
EOF

# keepalive PORT NAME GO_FILE -- two GETs on one connection: the first at
# once, the second when GO_FILE exists. Prints "first STATUS", then
# "second STATUS" and "closed" or "open".
keepalive() { python3 "$TMPD/keepalive.py" "$PKI" "$@"; }
cat >"$TMPD/keepalive.py" <<'EOF'
import os, socket, ssl, sys, time
pki, port, name, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain('%s/%s.chain' % (pki, name), '%s/%s.key' % (pki, name))
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=10))
buf = b''
def response():
    global buf
    while b'\r\n\r\n' not in buf:
        b = s.recv(65536)
        if not b:
            return None
        buf += b
    head, _, rest = buf.partition(b'\r\n\r\n')
    length = 0
    for line in head.split(b'\r\n')[1:]:
        k, _, v = line.partition(b':')
        if k.strip().lower() == b'content-length':
            length = int(v)
    while len(rest) < length:
        b = s.recv(65536)
        if not b:
            break
        rest += b
    buf = rest[length:]
    return head.split(b' ')[1].decode() + ('-cert' if b'certificate error' in rest[:length] else '')
req = b'GET / HTTP/1.1\r\nHost: server2\r\n\r\n'
s.sendall(req)
print('first', response(), flush=True)
deadline = time.time() + 10
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.02)
try:
    s.sendall(req)
    print('second', response())
    print('closed' if not s.recv(65536) else 'open')
except (ssl.SSLError, OSError) as e:
    print('second error', e)
EOF

# sclient PORT NAME|- [openssl s_client options] -- one GET with openssl
# s_client; prints "New 200", "Reused 400-nocert", ...
sclient() {
	local port=$1 who=$2 out st kind
	shift 2
	local certs=()
	[ "$who" = - ] || certs=(-cert "$PKI/$who.crt" -key "$PKI/$who.key")
	out=$(printf 'GET / HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n' |
		timeout $((10 * TF)) openssl s_client -connect "127.0.0.1:$port" -tls1_2 -no_ticket \
			-ign_eof "${certs[@]}" "$@" 2>&1)
	kind=$(printf '%s\n' "$out" | sed -n 's/^\(New\|Reused\), TLSv1.2.*/\1/p' | head -n 1)
	st=$(printf '%s\n' "$out" | sed -n 's/^HTTP\/1.1 \([0-9]*\) .*/\1/p' | head -n 1)
	if [ "$st" = 400 ]; then
		if printf '%s' "$out" | grep -q 'No required SSL certificate'; then st=400-nocert; else st=400-cert; fi
	fi
	echo "${kind:-none} ${st:-none}"
}

# expect_probe NAME PORT WHO EXPECTED
expect_probe() {
	local got
	got=$(probe "$2" "$3")
	expect_eq "$1" "$3 $4" "$got"
}

# mtlsd_at PORT options... -- start mtlsd on 127.0.0.1:PORT with the test
# server certificate and document root
SRV=(-r "$WWW" -c "$PKI/server.crt" -k "$PKI/server.key")
mtlsd_at() {
	local port=$1
	shift
	start_mtlsd -l "127.0.0.1:$port" "${SRV[@]}" "$@"
}

# nginx_at PORT CAFILE CRLFILE|- DEPTH -- nginx with the same certificates,
# ssl_verify_client on; sets NGINX_PID
nginx_at() {
	local dir=$TMPD/nginx.$1 t
	mkdir -p "$dir"
	{
		echo "worker_processes 1;"
		[ "$(id -u)" = 0 ] && echo "user root;"
		echo "error_log $dir/error.log info;"
		echo "pid $dir/nginx.pid;"
		echo "events { worker_connections 64; }"
		echo "http {"
		echo "  access_log off;"
		for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $dir/$t;"; done
		echo "  server {"
		echo "    listen 127.0.0.1:$1 ssl;"
		echo "    ssl_certificate $PKI/server.crt;"
		echo "    ssl_certificate_key $PKI/server.key;"
		echo "    ssl_protocols TLSv1.2;"
		echo "    ssl_client_certificate $2;"
		echo "    ssl_verify_client on;"
		echo "    ssl_verify_depth $4;"
		[ "$3" = - ] || echo "    ssl_crl $3;"
		echo "    root $WWW;"
		echo "  }"
		echo "}"
	} >"$dir/nginx.conf"
	nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" -g "daemon off;" \
		>/dev/null 2>&1 </dev/null &
	NGINX_PID=$!
	SERVER_PIDS+=("$NGINX_PID")
	for ((t = 0; t < 100; t++)); do
		port_open 127.0.0.1 "$1" && return 0
		sleep 0.05
	done
	return 1
}

# ---- the matrix ---------------------------------------------------------------
#
# Each row: NAME, then what "on" answers, what "strict" answers and what
# nginx answers. "=" in the nginx column: the same as "on".
CRLS=$TMPD/crls.pem
cat "$PKI/ca.crl" "$PKI/ec-ca.crl" >"$CRLS"
cat "$PKI/ca-expired.crl" "$PKI/ec-ca.crl" >"$TMPD/crls-expired.pem"
cat "$PKI/ca-expired.crl" "$PKI/ca-future.crl" "$PKI/ca.crl" >"$TMPD/crls-three.pem"

# matrix TITLE "mtlsd options" "nginx CA CRL DEPTH" <<< rows
matrix() {
	local title=$1 opts=$2 nginx_args=$3 p_on p_strict p_nginx rows name on strict nx names=()
	local -A got_on got_strict got_nginx
	rows=$(cat)
	while read -r name on strict nx; do
		[ -n "$name" ] && names+=("$name")
	done <<<"$rows"
	p_on=$(free_port)
	p_strict=$(free_port)
	# shellcheck disable=SC2086
	if ! mtlsd_at "$p_on" $opts || ! mtlsd_at "$p_strict" $opts --verify-client strict; then
		fail "$title: servers start" "$(cat "$SERVER_ERR")"
		return
	fi
	while read -r name res; do got_on[$name]=$res; done < <(probe "$p_on" "${names[@]}")
	while read -r name res; do got_strict[$name]=$res; done < <(probe "$p_strict" "${names[@]}")
	if [ -n "$HAVE_NGINX" ]; then
		p_nginx=$(free_port)
		# shellcheck disable=SC2086
		if nginx_at "$p_nginx" $nginx_args; then
			while read -r name res; do got_nginx[$name]=$res; done < <(probe "$p_nginx" "${names[@]}")
		fi
		kill "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
	fi
	while read -r name on strict nx; do
		[ -n "$name" ] || continue
		expect_eq "$title: $name on" "$on" "${got_on[$name]:-none}"
		expect_eq "$title: $name strict" "$strict" "${got_strict[$name]:-none}"
		[ "$nx" = = ] && nx=$on
		if [ -n "$HAVE_NGINX" ]; then
			expect_eq "$title: $name nginx" "$nx" "${got_nginx[$name]:-none}"
		fi
	done <<<"$rows"
	# One log line per refusal, with the reason and the certificate.
	stop_mtlsd
	MATRIX_LOG=$SERVER_ERR
}

# --crl for both pinned CAs, default depth 1
matrix "crl" "-C $PKI/bundle.crt --crl $PKI/ca.crl --crl $PKI/ec-ca.crl" \
	"$PKI/bundle.crt $CRLS 1" <<'EOF'
good           200        200       =
eku-client     200        200       =
eku-both       200        200       =
eku-server     400-cert   alert-43  =
ku-certsign    400-cert   alert-43  =
crit-eku       400-cert   alert-42  200
revoked        400-cert   alert-44  =
rsa4096        200        200       =
ec256          200        200       =
ec384          200        200       =
v1-leaf        200        200       =
expired        400-cert   alert-45  =
notyet         400-cert   alert-45  =
other-client   400-cert   alert-48  =
-              400-nocert alert-40  =
ec-client      200        200       =
ec-revoked     400-cert   alert-44  =
int-client     400-cert   alert-42  =
int-rev-client 400-cert   alert-44  =
chain20        400-cert   alert-42  =
EOF
if grep -a -q 'client SSL certificate verify error: certificate revoked (subject "O=mtlsd test,CN=revoked", serial 03EF), handshake refused' "$MATRIX_LOG"; then
	ok "strict: the refusal is logged with the reason, subject and serial"
else
	fail "strict: the refusal is logged with the reason, subject and serial" "$(grep -a revoked "$MATRIX_LOG" | head -n 2)"
fi

# A CRL for one of the two pinned CAs: the other's clients are refused, as
# nginx does once ssl_crl is set (every certificate needs its issuer's CRL)
matrix "crl of one CA" "-C $PKI/bundle.crt --crl $PKI/ca.crl" "$PKI/bundle.crt $PKI/ca.crl 1" <<'EOF'
good           200        200       =
ec-client      400-cert   alert-42  =
EOF

# A CRL past its nextUpdate or before its thisUpdate fails the certificates
# it covers; of two CRLs from one CA, the one in force counts
matrix "expired crl" "-C $PKI/bundle.crt --crl $PKI/ca-expired.crl --crl $PKI/ec-ca.crl" \
	"$PKI/bundle.crt $TMPD/crls-expired.pem 1" <<'EOF'
good           400-cert   alert-42  =
ec-client      200        200       =
EOF
matrix "future crl" "-C $PKI/ca.crt --crl $PKI/ca-future.crl" "$PKI/ca.crt $PKI/ca-future.crl 1" <<'EOF'
good           400-cert   alert-42  =
EOF
matrix "two crls" "-C $PKI/ca.crt --crl $PKI/ca-expired.crl --crl $PKI/ca-future.crl --crl $PKI/ca.crl" \
	"$PKI/ca.crt $TMPD/crls-three.pem 1" <<'EOF'
good           200        200       =
revoked        400-cert   alert-44  =
EOF

# No CRL: intermediates, depth 1
matrix "depth 1" "-C $PKI/bundle.crt" "$PKI/bundle.crt - 1" <<'EOF'
good           200        200       =
int-client     200        200       =
int-rev-client 200        200       =
good-extra     200        200       =
int2-client    400-cert   alert-42  =
v1int-client   400-cert   alert-42  =
nc-client      400-cert   alert-42  200
chain8         400-cert   alert-42  =
EOF
matrix "depth 0" "-C $PKI/ca.crt --verify-depth 0" "$PKI/ca.crt - 0" <<'EOF'
good           200        200       =
int-client     400-cert   alert-42  =
EOF
matrix "depth 7" "-C $PKI/ca.crt --verify-depth 7" "$PKI/ca.crt - 7" <<'EOF'
int2-client    200        200       =
chain8         200        200       =
chain20        400-cert   alert-42  =
EOF

# ---- a key that does not match its certificate ------------------------------------

if [ -z "$TLSCLIENT" ]; then
	skip "mismatched key" "cannot build tests/tlsclient.c: $(head -c 200 "$TMPD/cc.log")"
else
	openssl pkey -in "$PKI/mismatch.key" -outform DER -out "$TMPD/mismatch.key.der"
	openssl x509 -in "$PKI/mismatch.crt" -outform DER -out "$TMPD/mismatch.crt.der"
	openssl pkey -in "$PKI/good.key" -outform DER -out "$TMPD/good.key.der"
	openssl x509 -in "$PKI/good.crt" -outform DER -out "$TMPD/good.crt.der"
	for mode in on strict; do
		p=$(free_port)
		if mtlsd_at "$p" -C "$PKI/ca.crt" --verify-client "$mode"; then
			req='GET / HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n'
			# shellcheck disable=SC2059
			out=$(printf "$req" | "$TLSCLIENT" "$p" "$TMPD/good.key.der" "$TMPD/good.crt.der" 2>&1 | head -n 1 | tr -d '\r')
			expect_eq "$mode: tlsclient with the matching key gets 200" "HTTP/1.1 200 OK" "$out"
			# shellcheck disable=SC2059
			out=$(printf "$req" | "$TLSCLIENT" "$p" "$TMPD/mismatch.key.der" "$TMPD/mismatch.crt.der" 2>&1)
			if [[ $out != *HTTP/* ]] && wait_for_match "$SERVER_ERR" 'SSL handshake failed: bad signature'; then
				ok "$mode: a key that does not match the certificate fails the handshake"
			else
				fail "$mode: a key that does not match the certificate fails the handshake" "$out / $(tail -n 1 "$SERVER_ERR")"
			fi
			stop_mtlsd
		else
			fail "$mode: server starts" "$(cat "$SERVER_ERR")"
		fi
	done
fi

# ---- a chain of 20 certificates costs no more than a chain of 8 --------------------

# cpu_ticks PID -- user + system clock ticks used so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
p=$(free_port)
if mtlsd_at "$p" -C "$PKI/ca.crt" --verify-depth 7; then
	t0=$(cpu_ticks "$SERVER_PID")
	start=$SECONDS
	# shellcheck disable=SC2046
	bad=$(probe "$p" $(printf 'chain20 %.0s' 1 2 3 4 5 6 7 8 9 10) | grep -c -v '400-cert$')
	t1=$(cpu_ticks "$SERVER_PID")
	expect_eq "chain of 20: 10 attempts all refused" 0 "$bad"
	if [ $((t1 - t0)) -le $((50 * TF)) ] && [ $((SECONDS - start)) -le $((10 * TF)) ]; then
		ok "chain of 20: 10 attempts cost $((t1 - t0)) ticks of server CPU"
	else
		fail "chain of 20: server CPU stays small" "$((t1 - t0)) ticks, $((SECONDS - start)) s"
	fi
	grep -a -q 'client sent more than 8 certificates (subject "O=mtlsd test,CN=chain20"' "$SERVER_ERR" &&
		ok "chain of 20: logged as more than 8 certificates" ||
		fail "chain of 20: logged as more than 8 certificates" "$(tail -n 1 "$SERVER_ERR")"
	stop_mtlsd
else
	fail "chain of 20: server starts" "$(cat "$SERVER_ERR")"
fi

summary
