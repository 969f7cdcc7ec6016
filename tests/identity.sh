#!/usr/bin/env bash
# tests/identity.sh -- who gets in: the client-certificate matrix in "on"
# and "strict" mode (and against nginx with the same PKI when nginx is
# installed), session resumption, allowlists, CRL reload with an open
# keep-alive connection, CRLs tied to the key that signed them (a CA
# re-keyed under its old name), CRL scope (issuingDistributionPoint,
# critical, delta and indirect CRLs), CRLs over 1 MiB, --check-cert, and
# log lines a certificate cannot forge.
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

need_mtlsd

make_pki tests/mkpki-identity.sh
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
    # Level 0: the client must be able to send RSA-512, MD5 and SHA-1 chains.
    ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
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
import socket, ssl, sys
from tlsget import context, connect, Responses, wait_for
pki, port, name, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = connect(context('%s/%s.chain' % (pki, name), '%s/%s.key' % (pki, name), tls12=True), port)
r = Responses(s)
def response():
    got = r.next()
    return got and got[0] + ('-cert' if b'certificate error' in got[1] else '')
req = b'GET / HTTP/1.1\r\nHost: server2\r\n\r\n'
s.sendall(req)
print('first', response(), flush=True)
wait_for(go, 10)
try:
    s.sendall(req)
    print('second', response())
    s.settimeout(0.5)
    try:
        print('closed' if not s.recv(65536) else 'data')
    except socket.timeout:
        print('open')
except (ssl.SSLError, OSError) as e:
    print('second error', e)
EOF

# midreload PORT NAME GO READY -- a handshake that stops before sending its
# certificate: it creates READY, waits for GO, then finishes and sends one
# GET; then a second connection offers that session without a certificate.
# Prints "first STATUS" and "second New|Reused STATUS".
midreload() { python3 "$TMPD/midreload.py" "$PKI" "$@"; }
cat >"$TMPD/midreload.py" <<'EOF'
import os, socket, ssl, sys, time
pki, port, name, go, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.options |= ssl.OP_NO_TICKET
ctx.load_cert_chain('%s/%s.chain' % (pki, name), '%s/%s.key' % (pki, name))
req = b'GET / HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n'

def status(data):
    if not data.startswith(b'HTTP/'):
        return 'none'
    st = data.split(b' ')[1].decode()
    return st + ('-nocert' if b'No required' in data else '-cert' if b'certificate error' in data else '') if st == '400' else st

# A handshake that waits, after the server's first flight, for GO to exist.
sock = socket.create_connection(('127.0.0.1', port), timeout=10)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname='server2')
flights = 0
while True:
    try:
        obj.do_handshake()
        break
    except ssl.SSLWantReadError:
        if out.pending:
            flights += 1
            if flights == 2:
                # Certificate .. Finished are ready: hold them until GO.
                open(ready, 'w').close()
                while not os.path.exists(go):
                    time.sleep(0.02)
            sock.sendall(out.read())
        data = sock.recv(65536)
        if not data:
            sys.exit('closed during handshake')
        inc.write(data)
if out.pending:
    sock.sendall(out.read())
obj.write(req)
sock.sendall(out.read())
got = b''
while True:
    try:
        d = obj.read(65536)
        if not d:
            break
        got += d
    except ssl.SSLWantReadError:
        d = sock.recv(65536)
        if not d:
            break
        inc.write(d)
    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
        break
print('first', status(got))
sess = obj.session
sock.close()
# A second connection offering that session, without a certificate.
ctx2 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx2.check_hostname = False
ctx2.verify_mode = ssl.CERT_NONE
ctx2.minimum_version = ctx2.maximum_version = ssl.TLSVersion.TLSv1_2
ctx2.options |= ssl.OP_NO_TICKET
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=10), server_hostname='server2', session=sess)
s.sendall(req)
got = b''
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
except (ssl.SSLError, OSError):
    pass
print('second', 'Reused' if s.session_reused else 'New', status(got))
EOF

# sclient PORT NAME|- [openssl s_client options] -- one GET with openssl
# s_client; prints "New 200", "Reused 400-nocert", "New alert-40", ...
# (with -sess_in, s_client says "New" or "Reused" even when the handshake
# failed: the status tells)
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
	elif [ -z "$st" ]; then
		st=$(printf '%s\n' "$out" | sed -n 's/.*SSL alert number \([0-9]*\).*/alert-\1/p' | head -n 1)
	fi
	echo "${kind:-none} ${st:-none}"
}

# wait_for_text FILE STRING -- like wait_for_match, for a fixed string
wait_for_text() {
	local i
	for ((i = 0; i < 60 * TF; i++)); do
		grep -a -F -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
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

# matrix TITLE "mtlsd options" "nginx CA CRL DEPTH"|- <<< rows
# (- : no nginx comparison, for options nginx has no equivalent of)
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
	if [ -n "$HAVE_NGINX" ] && [ "$nginx_args" != - ]; then
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
		if [ -n "$HAVE_NGINX" ] && [ "$nginx_args" != - ]; then
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
int-rev-client 400-cert   alert-42  =
chain20        400-cert   alert-42  =
EOF
serial=$(openssl x509 -in "$PKI/revoked.crt" -noout -serial | sed 's/.*=//')
if grep -a -q "client SSL certificate verify error: certificate revoked (subject \"O=mtlsd test,CN=revoked\", serial $serial), handshake refused" "$MATRIX_LOG"; then
	ok "strict: the refusal is logged with the reason, subject and serial"
else
	fail "strict: the refusal is logged with the reason, subject and serial" "$(grep -a revoked "$MATRIX_LOG" | head -n 2)"
fi

# ---- CRLs of intermediates ------------------------------------------------------------
# With --crl, each certificate of the chain needs a CRL from its issuer, as
# nginx (OpenSSL's CRL_CHECK_ALL): the client's own from the intermediate,
# the intermediate's from the root. Checked from the client's own up, so
# int-rev-client without int-rev's CRL above fails on the missing CRL first.
cat "$PKI/ca.crl" "$PKI/ec-ca.crl" "$PKI/int1.crl" "$PKI/int-rev.crl" >"$TMPD/crls-int.pem"
matrix "intermediate crls" "-C $PKI/bundle.crt --crl $PKI/ca.crl --crl $PKI/ec-ca.crl --crl $PKI/int1.crl --crl $PKI/int-rev.crl" \
	"$PKI/bundle.crt $TMPD/crls-int.pem 1" <<'EOF'
good           200        200       =
ec-client      200        200       =
int-client     200        200       =
int-revoked    200        200       =
int-rev-client 400-cert   alert-44  =
EOF
if grep -a -q -F "[warn] $PKI/int1.crl: this CRL of O=mtlsd test,CN=int1 is not from a pinned CA: used only for chains through an intermediate named O=mtlsd test,CN=int1" "$MATRIX_LOG"; then
	ok "intermediate crls: a CRL not from a pinned CA is warned about at start-up"
else
	fail "intermediate crls: a CRL not from a pinned CA is warned about at start-up" "$(grep -a warn "$MATRIX_LOG" | head -n 3)"
fi
cat "$PKI/ca.crl" "$PKI/int1-rev.crl" >"$TMPD/crls-int-rev.pem"
matrix "intermediate crl revokes the client" "-C $PKI/ca.crt --crl $PKI/ca.crl --crl $PKI/int1-rev.crl" \
	"$PKI/ca.crt $TMPD/crls-int-rev.pem 1" <<'EOF'
good           200        200       =
int-client     200        200       =
int-revoked    400-cert   alert-44  =
EOF
cat "$PKI/ca.crl" "$PKI/int-rev.crl" >"$TMPD/crls-int-missing.pem"
matrix "intermediate crl missing" "-C $PKI/ca.crt --crl $PKI/ca.crl --crl $PKI/int-rev.crl" \
	"$PKI/ca.crt $TMPD/crls-int-missing.pem 1" <<'EOF'
good           200        200       =
int-client     400-cert   alert-42  =
int-revoked    400-cert   alert-42  =
int-rev-client 400-cert   alert-44  =
EOF
# int1-forged.crl names int1 as its issuer, but another key signed it.
cat "$PKI/ca.crl" "$PKI/int1-forged.crl" >"$TMPD/crls-int-forged.pem"
matrix "intermediate crl of another key" "-C $PKI/ca.crt --crl $PKI/ca.crl --crl $PKI/int1-forged.crl" \
	"$PKI/ca.crt $TMPD/crls-int-forged.pem 1" <<'EOF'
good           200        200       =
int-client     400-cert   alert-42  =
EOF
# Two intermediates: root -> int1 -> int2 -> client; int2's CRL, then not.
cat "$PKI/ca.crl" "$PKI/int1.crl" "$PKI/int2.crl" >"$TMPD/crls-int2.pem"
matrix "intermediate crls, depth 2" "-C $PKI/ca.crt --verify-depth 2 --crl $PKI/ca.crl --crl $PKI/int1.crl --crl $PKI/int2.crl" \
	"$PKI/ca.crt $TMPD/crls-int2.pem 2" <<'EOF'
int-client     200        200       =
int2-client    200        200       =
EOF
cat "$PKI/ca.crl" "$PKI/int1.crl" >"$TMPD/crls-int2-missing.pem"
matrix "intermediate crls, depth 2, int2's missing" "-C $PKI/ca.crt --verify-depth 2 --crl $PKI/ca.crl --crl $PKI/int1.crl" \
	"$PKI/ca.crt $TMPD/crls-int2-missing.pem 2" <<'EOF'
int-client     200        200       =
int2-client    400-cert   alert-42  =
EOF

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
ncn-client     400-cert   alert-42  =
ncn-ok-client  400-cert   alert-42  200
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

# A pinned CA past its notAfter or before its notBefore signs for no one
# (BearSSL ignores a trust anchor's dates; OpenSSL does not); the same CA
# renewed beside its expired self still does
matrix "expired CA" "-C $PKI/ca-old.crt" "$PKI/ca-old.crt - 1" <<'EOF'
good           400-cert   alert-45  =
int-client     400-cert   alert-45  =
EOF
matrix "future CA" "-C $PKI/ca-later.crt" "$PKI/ca-later.crt - 1" <<'EOF'
good           400-cert   alert-45  =
EOF
matrix "renewed CA" "-C $PKI/ca-renewed.crt" "$PKI/ca-renewed.crt - 1" <<'EOF'
good           200        200       =
int-client     200        200       =
EOF

# ---- issue 12: the chain policy of OpenSSL's defaults (sslclient purpose,
# security level 2) for the client certificate and each intermediate ----------
matrix "policy" "-C $PKI/ca.crt --verify-depth 2" "$PKI/ca.crt - 2" <<'EOF'
int-eku-server-client 400-cert  alert-43  =
int-rsa1024-client    400-cert  alert-42  =
rsa1024               400-cert  alert-42  =
sha1-leaf             400-cert  alert-42  =
sha1-int-client       400-cert  alert-42  =
ns-server             400-cert  alert-43  =
ns-client             200       200       =
int-pl0-client        400-cert  alert-42  =
md5-leaf              400-cert  alert-42  =
rsa512                400-cert  alert-42  =
self-signed           400-cert  alert-48  =
forged                400-cert  alert-48  =
crit-unknown          400-cert  alert-42  =
cafalse-int-client    400-cert  alert-42  =
ku-int-client         400-cert  alert-42  =
v1int-client          400-cert  alert-42  =
EOF
if grep -a -q 'client SSL certificate verify error: intermediate 1 (O=mtlsd test,CN=int-rsa1024): RSA key of 1024 bits, below 2048 (--security-level 2) (subject "O=mtlsd test,CN=int-rsa1024-client", serial [0-9A-F]*), handshake refused' "$MATRIX_LOG"; then
	ok "policy: the refusal is logged with the certificate and the rule"
else
	fail "policy: the refusal is logged with the certificate and the rule" "$(grep -a int-rsa1024 "$MATRIX_LOG" | head -n 2)"
fi
# A pinned root's own pathLenConstraint (BearSSL keeps only its name and key)
matrix "pathlen:0 root" "-C $PKI/pl0-root.crt" "$PKI/pl0-root.crt - 1" <<'EOF'
pl0-client            200       200       =
pl0-int-client        400-cert  alert-42  =
EOF
# A self-signed v1 root can be pinned, as with OpenSSL
matrix "v1 root" "-C $PKI/v1-root.crt" "$PKI/v1-root.crt - 1" <<'EOF'
v1-root-client        200       200       =
EOF
# --security-level 1 lets RSA-1024 and SHA-1 in, never MD5 or RSA-512. No
# nginx here: OpenSSL 3's level 1 still refuses SHA-1 (63 bits), only level 0
# takes it.
cat "$PKI/ca.crt" "$PKI/rsa1024-root.crt" >"$TMPD/level1.crt"
matrix "security level 1" "-C $TMPD/level1.crt --verify-depth 2 --security-level 1" - <<'EOF'
int-rsa1024-client    200       200       -
rsa1024               200       200       -
sha1-leaf             200       200       -
sha1-int-client       200       200       -
rsa1024-root-client   200       200       -
good                  200       200       -
md5-leaf              400-cert  alert-42  -
rsa512                400-cert  alert-42  -
int-pl0-client        400-cert  alert-42  -
EOF
if grep -a -q '\[warn\] --security-level 1: client chains may use RSA keys of 1024 bits and SHA-1' "$MATRIX_LOG"; then
	ok "security level 1: warned about at start-up"
else
	fail "security level 1: warned about at start-up" "$(grep -a warn "$MATRIX_LOG" | head -n 2)"
fi
for bad in 0 3 x; do
	run_mtlsd -t "${SRV[@]}" -C "$PKI/ca.crt" --security-level $bad
	if [ "$RUN_RC" = 2 ] && grep -q -F -- "--security-level $bad: expected a number from 1 to 2" "$RUN_ERR"; then
		ok "security level: --security-level $bad is refused"
	else
		fail "security level: --security-level $bad is refused" "exit $RUN_RC: $(cat "$RUN_ERR")"
	fi
done

# ---- start-up: CRLs are verified, warnings for what expires soon -------------------

p=$(free_port)
# startup_fails NAME PATTERN [options] -- exit 1 and PATTERN on stderr
startup_fails() {
	local name=$1 pat=$2
	shift 2
	run_mtlsd -l "127.0.0.1:$p" "${SRV[@]}" "$@"
	if [ "$RUN_RC" = 1 ] && grep -q -F -- "$pat" "$RUN_ERR"; then
		ok "$name"
	else
		fail "$name" "exit $RUN_RC, stderr: $(cat "$RUN_ERR")"
	fi
}
startup_fails "start: a CRL with a bad signature is refused, naming the file" \
	"$PKI/bad-sig.crl: signature does not verify with the pinned CA CN=id-root-ca,O=mtlsd test" \
	-C "$PKI/ca.crt" --crl "$PKI/bad-sig.crl"
# A CRL whose issuer is no pinned CA may be an intermediate's: kept, and
# checked only against an intermediate of that name (see the matrices).
if mtlsd_at "$p" -C "$PKI/bundle.crt" --crl "$PKI/other-ca.crl" &&
	grep -a -q -F "[warn] $PKI/other-ca.crl: this CRL of CN=other-ca,O=mtlsd test is not from a pinned CA: used only for chains through an intermediate named CN=other-ca,O=mtlsd test" "$SERVER_ERR"; then
	ok "start: a CRL not from a pinned CA is accepted, with a warning"
else
	fail "start: a CRL not from a pinned CA is accepted, with a warning" "$(cat "$SERVER_ERR")"
fi
stop_mtlsd
startup_fails "start: a pinned CA with name constraints is refused" \
	"$PKI/nc-ca.crt: the CA CN=nc-ca has name constraints, which mtlsd cannot enforce" -C "$PKI/nc-ca.crt"
# A pinned file that cannot be a CA, or that mtlsd cannot fully read, stops
# start-up and -t, naming the file, the certificate and the reason; nginx
# starts, and refuses the clients of that "CA".
# anchor_refused TITLE CAFILE REASON CLIENT...
anchor_refused() {
	local title=$1 ca=$2 pat=$3 name p_nginx
	shift 3
	startup_fails "start: $title: refused" "$ca: certificate 1 ($pat" -C "$ca"
	run_mtlsd -t "${SRV[@]}" -C "$ca"
	if [ "$RUN_RC" = 1 ] && grep -q -F -- "$ca: certificate 1 ($pat" "$RUN_ERR"; then
		ok "start: $title: -t fails too"
	else
		fail "start: $title: -t fails too" "exit $RUN_RC, stderr: $(cat "$RUN_ERR")"
	fi
	[ -n "$HAVE_NGINX" ] && [ $# -gt 0 ] || return 0
	p_nginx=$(free_port)
	if nginx_at "$p_nginx" "$ca" - 1; then
		for name in "$@"; do
			expect_eq "start: $title: nginx refuses $name" "$name 400-cert" "$(probe "$p_nginx" "$name")"
		done
	else
		fail "start: $title: nginx starts" "$(tail -n 2 "$TMPD/nginx.$p_nginx/error.log")"
	fi
	kill "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
}
anchor_refused "a root whose keyUsage lacks keyCertSign" "$PKI/ku-root.crt" \
	"CN=ku-root,O=mtlsd test) cannot be a pinned CA: its keyUsage lacks keyCertSign" ku-root-client
anchor_refused "a CA:FALSE root" "$PKI/cafalse-root.crt" \
	"CN=cafalse-root,O=mtlsd test) cannot be a pinned CA: basicConstraints says CA:FALSE" cafalse-root-client
anchor_refused "a root with EKU serverAuth only" "$PKI/eku-root.crt" \
	"CN=eku-root,O=mtlsd test) cannot be a pinned CA: its extendedKeyUsage is for serverAuth, not clientAuth" \
	eku-root-client
anchor_refused "a CA:FALSE leaf pinned by mistake" "$PKI/good.crt" \
	"O=mtlsd test,CN=good) cannot be a pinned CA: basicConstraints says CA:FALSE" admin-by-leaf
anchor_refused "a v1 leaf pinned by mistake (as the seed's server1.crt)" "$PKI/v1x-leaf.crt" \
	"CN=v1x-leaf,O=mtlsd test) cannot be a pinned CA: a v1 certificate without basicConstraints is a CA only if self-signed" \
	admin-by-v1
anchor_refused "a root with an unknown critical extension" "$PKI/crit-root.crt" \
	"CN=crit-root,O=mtlsd test) cannot be a pinned CA: it has a critical extension mtlsd does not know" \
	crit-root-client
anchor_refused "an RSA-1024 root" "$PKI/rsa1024-root.crt" \
	"CN=rsa1024-root,O=mtlsd test) cannot be a pinned CA: its RSA key of 1024 bits is below 2048 (--security-level 2)" \
	rsa1024-root-client
# issue 13.1: this CA expired in 2021, has name constraints and a keyUsage
# BIT STRING with no byte: it used to load as "never expires", unchecked.
anchor_refused "a CA mtlsd cannot fully read" "$PKI/unreadable-ca.crt" \
	"CN=unreadable-ca,O=mtlsd test): mtlsd cannot read its keyUsage extension, and a pinned CA must be fully understood"
out=$("${MTLSD_CMD[@]}" --check-cert "$PKI/good.chain" -C "$PKI/unreadable-ca.crt" 2>&1) && rc=0 || rc=$?
if [ "$rc" = 1 ] && [[ $out == *"cannot read its keyUsage extension"* ]]; then
	ok "check-cert: a CA mtlsd cannot fully read is refused as at start-up"
else
	fail "check-cert: a CA mtlsd cannot fully read is refused as at start-up" "exit $rc: $out"
fi
startup_fails "start: a file without a CRL is refused" \
	"no CRL found" -C "$PKI/ca.crt" --crl "$PKI/good.crt"
startup_fails "start: --allow-fingerprint needs 64 hex digits" \
	"--allow-fingerprint abcd: expected 64 hex digits" -C "$PKI/ca.crt" --allow-fingerprint abcd

# ---- CRLs are tied to the key that signed them ----------------------------------------
#
# rekey-a and rekey-b share the name CN=id-rekey-ca: a CA re-keyed. Each
# CRL counts only for the clients its own key signed.
cat "$PKI/rekey-a.crl" "$PKI/rekey-b.crl" >"$TMPD/rekey-both.crl"
matrix "re-keyed CA, both CRLs" "-C $PKI/rekey-bundle.crt --crl $PKI/rekey-a.crl --crl $PKI/rekey-b.crl" \
	"$PKI/rekey-bundle.crt $TMPD/rekey-both.crl 1" <<'EOF'
rekey-a-client  200        200       =
rekey-a-revoked 400-cert   alert-44  =
rekey-b-client  200        200       =
rekey-b-revoked 400-cert   alert-44  =
EOF
# Only the first CA's CRL: the second CA's clients have no CRL (nginx: unable
# to get certificate CRL), however its name matches
matrix "re-keyed CA, first CA's CRL only" "-C $PKI/rekey-bundle.crt --crl $PKI/rekey-a.crl" \
	"$PKI/rekey-bundle.crt $PKI/rekey-a.crl 1" <<'EOF'
rekey-a-client  200        200       =
rekey-a-revoked 400-cert   alert-44  =
rekey-b-client  400-cert   alert-42  =
rekey-b-revoked 400-cert   alert-42  =
EOF
matrix "re-keyed CA, second CA's CRL only" "-C $PKI/rekey-bundle.crt --crl $PKI/rekey-b.crl" \
	"$PKI/rekey-bundle.crt $PKI/rekey-b.crl 1" <<'EOF'
rekey-a-client  400-cert   alert-42  =
rekey-b-client  200        200       =
rekey-b-revoked 400-cert   alert-44  =
EOF
# Only the old CA is pinned: the reason says the name matches but not the key
matrix "re-keyed CA, old one pinned" "-C $PKI/rekey-a.crt" "$PKI/rekey-a.crt - 1" <<'EOF'
rekey-a-client  200        200       =
rekey-b-client  400-cert   alert-48  =
EOF
if grep -a -q "client SSL certificate verify error: certificate not trusted: its issuer's name matches a pinned CA, but that CA's key did not sign it (a CA re-keyed under the same name?) (subject \"O=mtlsd test,CN=rekey-b-client\"" "$MATRIX_LOG"; then
	ok "re-keyed CA: the log says the name matches a pinned CA but its key did not sign"
else
	fail "re-keyed CA: the log says the name matches a pinned CA but its key did not sign" "$(grep -a rekey-b "$MATRIX_LOG" | head -n 2)"
fi

# ---- CRL scope (RFC 5280 issuingDistributionPoint) ----------------------------------------
#
# A CRL covers only what its scope says; a client no CRL covers is refused.
# These CRLs were made before "revoked" was revoked, as a CA lists it in
# its user CRL only: the scope, not the list, must refuse them.
matrix "CA-only CRL" "-C $PKI/ca.crt --crl $PKI/ca-ca-only.crl" "$PKI/ca.crt $PKI/ca-ca-only.crl 1" <<'EOF'
good           400-cert   alert-42  =
revoked        400-cert   alert-42  =
EOF
matrix "partition CRL" "-C $PKI/ca.crt --crl $PKI/ca-partition.crl" "$PKI/ca.crt $PKI/ca-partition.crl 1" <<'EOF'
good           400-cert   alert-42  =
revoked        400-cert   alert-42  =
EOF
# A user-only CRL does not cover the pinned CA's own certificate, which
# OpenSSL checks too (CRL_CHECK_ALL): nginx refuses every client
matrix "user-only CRL" "-C $PKI/ca.crt --crl $PKI/ca-user-only.crl" "$PKI/ca.crt $PKI/ca-user-only.crl 1" <<'EOF'
good           400-cert   alert-42  =
revoked        400-cert   alert-44  =
EOF
# With the CA-only CRL beside it, the user-only one decides for clients
cat "$PKI/ca-user-only.crl" "$PKI/ca-ca-only.crl" >"$TMPD/user-ca.crl"
matrix "user-only and CA-only CRLs" "-C $PKI/ca.crt --crl $PKI/ca-user-only.crl --crl $PKI/ca-ca-only.crl" \
	"$PKI/ca.crt $TMPD/user-ca.crl 1" <<'EOF'
good           200        200       =
revoked        400-cert   alert-44  =
EOF

# nginx_answers TITLE CAFILE CRLFILE <<< "NAME STATUS" rows -- nginx's
# answers, for CRLs mtlsd refuses to load
nginx_answers() {
	local title=$1 p name want got names=() rows
	local -A answer
	rows=$(cat)
	[ -n "$HAVE_NGINX" ] || return 0
	while read -r name want; do [ -n "$name" ] && names+=("$name"); done <<<"$rows"
	p=$(free_port)
	if nginx_at "$p" "$2" "$3" 1; then
		while read -r name got; do answer[$name]=$got; done < <(probe "$p" "${names[@]}")
	fi
	kill "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	while read -r name want; do
		[ -n "$name" ] && expect_eq "$title: $name nginx" "$want" "${answer[$name]:-none}"
	done <<<"$rows"
}
# A newer CRL with an unknown critical extension: nginx refuses every client
# ("unhandled critical CRL extension"); mtlsd refuses the CRL itself, at
# start-up, in -t and at a reload, naming the file and the extension.
nginx_answers "critical CRL extension" "$PKI/ca.crt" "$PKI/ca-crit.crl" <<'EOF'
good           400-cert
revoked        400-cert
EOF
p=$(free_port)
startup_fails "start: a newer CRL with an unknown critical extension is refused" \
	"$PKI/ca-crit.crl: unknown critical CRL extension 1.3.6.1.4.1.55555.1; mtlsd refuses a CRL it cannot fully understand" \
	-C "$PKI/ca.crt" --crl "$PKI/ca.crl" --crl "$PKI/ca-crit.crl"
run_mtlsd -t -l "127.0.0.1:$p" "${SRV[@]}" -C "$PKI/ca.crt" --crl "$PKI/ca-crit.crl"
if [ "$RUN_RC" = 1 ] && grep -q -F "$PKI/ca-crit.crl: unknown critical CRL extension 1.3.6.1.4.1.55555.1" "$RUN_ERR"; then
	ok "-t: a CRL with an unknown critical extension is refused"
else
	fail "-t: a CRL with an unknown critical extension is refused" "exit $RUN_RC: $(cat "$RUN_ERR")"
fi
# Delta and indirect CRLs are not complete lists of the CA's revocations.
# nginx refuses every client with the indirect one; it takes the delta CRL
# as complete (OpenSSL without X509_V_FLAG_USE_DELTAS): mtlsd is stricter.
nginx_answers "indirect CRL" "$PKI/ca.crt" "$PKI/ca-indirect.crl" <<'EOF'
good           400-cert
EOF
startup_fails "start: an indirect CRL is refused" \
	"$PKI/ca-indirect.crl: an indirect CRL (issuingDistributionPoint indirectCRL), which mtlsd does not support" \
	-C "$PKI/ca.crt" --crl "$PKI/ca-indirect.crl"
startup_fails "start: a delta CRL is refused" \
	"$PKI/ca-delta.crl: a delta CRL (deltaCRLIndicator); mtlsd needs complete CRLs" \
	-C "$PKI/ca.crt" --crl "$PKI/ca-delta.crl"
# Scope that covers nothing is warned about at start-up
p=$(free_port)
if mtlsd_at "$p" -C "$PKI/bundle.crt" --crl "$PKI/ca.crl" --crl "$PKI/ca-partition.crl"; then
	if grep -a -q -F "[warn] $PKI/ca-partition.crl: this CRL of CN=id-root-ca,O=mtlsd test covers no certificate mtlsd checks: it is one partition" "$SERVER_ERR" &&
		grep -a -q -F '[warn] pinned CA CN=id-ec-ca,O=mtlsd test (SHA-256 ' "$SERVER_ERR"; then
		ok "start: a partition CRL and a pinned CA without a CRL are warned about"
	else
		fail "start: a partition CRL and a pinned CA without a CRL are warned about" "$(cat "$SERVER_ERR")"
	fi
	stop_mtlsd
else
	fail "start: partition warning: server starts" "$(cat "$SERVER_ERR")"
fi

# ---- CRLs over 1 MiB -------------------------------------------------------------------------
#
# big.crl lists 40000 serials besides the CA's (1.9 MB of PEM); big-2.crl
# also lists reloadee. Loaded at start-up and at a reload alike.
matrix "big crl" "-C $PKI/ca.crt --crl $PKI/big.crl" "$PKI/ca.crt $PKI/big.crl 1" <<'EOF'
good           200        200       =
revoked        400-cert   alert-44  =
reloadee       200        200       =
EOF
cp "$PKI/big.crl" "$TMPD/reload-big.crl"
p=$(free_port)
if mtlsd_at "$p" -C "$PKI/ca.crt" --crl "$TMPD/reload-big.crl"; then
	if grep -a -q -E '^mtlsd/[^:]*: CRLs: 40002 revoked serial\(s\) = 0\.[0-9] MiB' "$SERVER_ERR"; then
		ok "big crl: the CRLs' memory is printed at start-up"
	else
		fail "big crl: the CRLs' memory is printed at start-up" "$(head -n 3 "$SERVER_ERR")"
	fi
	expect_eq "big crl: before the reload, reloadee is served" "reloadee 200" "$(probe "$p" reloadee)"
	cp "$PKI/big-2.crl" "$TMPD/reload-big.crl"
	kill -HUP "$SERVER_PID"
	if wait_for_match "$SERVER_ERR" 'reloaded certificates'; then
		ok "big crl: a CRL over 1 MiB is loaded at a reload"
	else
		fail "big crl: a CRL over 1 MiB is loaded at a reload" "$(tail -n 2 "$SERVER_ERR")"
	fi
	expect_eq "big crl: after the reload, reloadee is refused" "reloadee 400-cert" "$(probe "$p" reloadee)"
	# 200 pipelined requests on one connection: each checks the CRL
	python3 -c 'import sys; sys.stdout.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 199 + "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")' |
		tls_raw --timeout 20 --cert "$PKI/good.crt" --key "$PKI/good.key" "$p" >"$TMPD/big-pipe.out" 2>/dev/null
	expect_eq "big crl: 200 pipelined requests all answered 200" 200 "$(responses "$TMPD/big-pipe.out" | grep -c '^200 ')"
	# A CRL that fails at a reload: the error names the file and the reason
	cp "$PKI/ca-crit.crl" "$TMPD/reload-big.crl"
	kill -HUP "$SERVER_PID"
	if wait_for_match "$SERVER_ERR" "\[error\] reload failed, keeping the current .*reload-big.crl: unknown critical CRL extension 1\.3\.6\.1\.4\.1\.55555\.1"; then
		ok "reload: a CRL with an unknown critical extension fails the reload, logged as an error"
	else
		fail "reload: a CRL with an unknown critical extension fails the reload, logged as an error" "$(tail -n 2 "$SERVER_ERR")"
	fi
	expect_eq "reload: after that failed reload the previous CRL still applies" "reloadee 400-cert good 200 " \
		"$(probe "$p" reloadee good | tr '\n' ' ')"
	stop_mtlsd
else
	fail "big crl: server starts" "$(cat "$SERVER_ERR")"
fi

# A DER CRL works as the PEM one; a CRL due within 7 days is warned about at
# start and at each reload.
p=$(free_port)
if mtlsd_at "$p" -C "$PKI/ca.crt" --crl "$PKI/ca.crl.der" --crl "$PKI/ca-soon.crl"; then
	got=$(probe "$p" good revoked | tr '\n' ' ')
	expect_eq "start: DER CRL: good 200, revoked 400" "good 200 revoked 400-cert " "$got"
	re='\[warn\] CRL of CN=id-root-ca,O=mtlsd test: nextUpdate expires on [0-9-]+ [0-9:]+ UTC'
	expect_eq "start: a CRL due within 7 days is warned about" 1 "$(grep -a -c -E "$re" "$SERVER_ERR")"
	kill -HUP "$SERVER_PID"
	if wait_for_match "$SERVER_ERR" 'reloaded' && sleep 0.2 && [ "$(grep -a -c -E "$re" "$SERVER_ERR")" = 2 ]; then
		ok "reload: the warning is repeated"
	else
		fail "reload: the warning is repeated" "$(tail -n 3 "$SERVER_ERR")"
	fi
	stop_mtlsd
else
	fail "start: DER CRL" "$(cat "$SERVER_ERR")"
fi

# Server certificate and CA due within 7 days; a reload re-reads the server
# certificate and key, and keeps the old ones if they do not match.
server_serial() {
	openssl s_client -connect "127.0.0.1:$1" -tls1_2 -cert "$PKI/good.crt" -key "$PKI/good.key" \
		</dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null
}
cp "$PKI/server.crt" "$TMPD/reload-server.crt"
cp "$PKI/server.key" "$TMPD/reload-server.key"
cat "$PKI/ca.crt" "$PKI/soon-ca.crt" >"$TMPD/soon-bundle.crt"
p=$(free_port)
if start_mtlsd -l "127.0.0.1:$p" -r "$WWW" -c "$TMPD/reload-server.crt" -k "$TMPD/reload-server.key" \
	-C "$TMPD/soon-bundle.crt"; then
	if grep -a -q -E '\[warn\] pinned CA CN=soon-ca expires on [0-9-]+ [0-9:]+ UTC' "$SERVER_ERR" &&
		! grep -a -q 'server certificate' "$SERVER_ERR"; then
		ok "start: a CA due within 7 days is warned about"
	else
		fail "start: a CA due within 7 days is warned about" "$(grep -a warn "$SERVER_ERR")"
	fi
	before=$(server_serial "$p")
	cp "$PKI/server-soon.crt" "$TMPD/reload-server.crt"
	kill -HUP "$SERVER_PID"
	if wait_for_match "$SERVER_ERR" "\[warn\] server certificate $TMPD/reload-server.crt \(CN=server2\) expires on"; then
		ok "reload: a server certificate due within 7 days is warned about"
	else
		fail "reload: a server certificate due within 7 days is warned about" "$(grep -a warn "$SERVER_ERR")"
	fi
	after=$(server_serial "$p")
	expect_eq "reload: new handshakes get the new server certificate" \
		"$(openssl x509 -in "$PKI/server-soon.crt" -noout -serial)" "$after"
	[ "$before" != "$after" ] && ok "reload: the certificate did change" || fail "reload: the certificate did change" "$before"
	cp "$PKI/client.key" "$TMPD/reload-server.key"
	kill -HUP "$SERVER_PID"
	if wait_for_match "$SERVER_ERR" 'reload failed, keeping .*reload-server.key does not match the certificate'; then
		ok "reload: a key that does not match is refused and logged"
	else
		fail "reload: a key that does not match is refused and logged" "$(tail -n 2 "$SERVER_ERR")"
	fi
	expect_eq "reload: the old certificate and key still serve" "$after" "$(server_serial "$p")"
	stop_mtlsd
else
	fail "start: warnings: server starts" "$(cat "$SERVER_ERR")"
fi

# ---- session resumption ----------------------------------------------------------------

S=$TMPD/sess
p=$(free_port)
if mtlsd_at "$p" -C "$PKI/bundle.crt" --crl "$PKI/ca.crl" --crl "$PKI/ec-ca.crl"; then
	expect_eq "resume: full handshake with a good certificate" "New 200" "$(sclient "$p" good -sess_out "$S.good")"
	expect_eq "resume: resumed with the certificate" "Reused 200" "$(sclient "$p" good -sess_in "$S.good")"
	expect_eq "resume: resumed without a certificate keeps the identity" "Reused 200" "$(sclient "$p" - -sess_in "$S.good")"
	expect_eq "resume: the resumed request is logged with the CN" 3 "$(grep -a -c ' - good \[.*" 200 ' "$SERVER_OUT")"
	expect_eq "resume: no certificate -> 400" "New 400-nocert" "$(sclient "$p" - -sess_out "$S.none")"
	expect_eq "resume: its session is not resumed with a certificate" "New 200" "$(sclient "$p" good -sess_in "$S.none")"
	expect_eq "resume: nor without one" "New 400-nocert" "$(sclient "$p" - -sess_in "$S.none")"
	expect_eq "resume: a bad certificate -> 400" "New 400-cert" "$(sclient "$p" revoked -sess_out "$S.revoked")"
	expect_eq "resume: its session is never resumed" "New 400-nocert" "$(sclient "$p" - -sess_in "$S.revoked")"
	# The cache offers the good session, BearSSL declines it (the client
	# no longer offers its cipher suite): the full handshake's verdict counts.
	expect_eq "resume: a declined cache hit does not carry the identity" "New 400-nocert" \
		"$(sclient "$p" - -sess_in "$S.good" -cipher ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305)"
	kill -HUP "$SERVER_PID"
	wait_for_match "$SERVER_ERR" 'session cache emptied'
	expect_eq "resume: a reload drops every session" "New 400-nocert" "$(sclient "$p" - -sess_in "$S.good")"
	stop_mtlsd
else
	fail "resume: server starts" "$(cat "$SERVER_ERR")"
fi
# A handshake under way during a reload finishes with the CAs it began with,
# but its requests are checked against the CAs pinned now (ec-ca is dropped
# from -C here: 400), and its session must not outlive them.
cp "$PKI/bundle.crt" "$TMPD/mid-ca.crt"
p=$(free_port)
if mtlsd_at "$p" -C "$TMPD/mid-ca.crt"; then
	rm -f "$TMPD/mid.go" "$TMPD/mid.ready"
	midreload "$p" ec-client "$TMPD/mid.go" "$TMPD/mid.ready" >"$TMPD/mid.out" 2>&1 &
	mid=$!
	for ((i = 0; i < 100; i++)); do [ -e "$TMPD/mid.ready" ] && break; sleep 0.05; done
	cp "$PKI/ca.crt" "$TMPD/mid-ca.crt"
	kill -HUP "$SERVER_PID"
	wait_for_match "$SERVER_ERR" 'reloaded certificates'
	touch "$TMPD/mid.go"
	wait "$mid"
	expect_eq "resume: a handshake begun before a reload that removed its CA: its request refused, its session not resumed" \
		"first 400-cert second New 400-cert" "$(tr '\n' ' ' <"$TMPD/mid.out" | sed 's/ $//')"
	stop_mtlsd
else
	fail "resume: mid-reload server starts" "$(cat "$SERVER_ERR")"
fi
p=$(free_port)
if mtlsd_at "$p" -C "$PKI/ca.crt" --verify-client strict; then
	expect_eq "resume: strict, full handshake" "New 200" "$(sclient "$p" good -sess_out "$S.strict")"
	expect_eq "resume: strict, resumed without a certificate" "Reused 200" "$(sclient "$p" - -sess_in "$S.strict")"
	stop_mtlsd
else
	fail "resume: strict server starts" "$(cat "$SERVER_ERR")"
fi
p=$(free_port)
if mtlsd_at "$p" -C "$PKI/ca.crt" --verify-client strict --session-timeout 1; then
	expect_eq "resume: --session-timeout 1, full handshake" "New 200" "$(sclient "$p" good -sess_out "$S.short")"
	sleep 2.1
	expect_eq "resume: --session-timeout 1: expired, full handshake refused" "New alert-40" \
		"$(sclient "$p" - -sess_in "$S.short")"
	stop_mtlsd
else
	fail "resume: --session-timeout server starts" "$(cat "$SERVER_ERR")"
fi
# A certificate that expires while its keep-alive connection stays open, or
# while its session is cached: requests after its notAfter are refused.
brief_cert() { # NAME SECONDS -- a client certificate of ca valid for SECONDS more
	local dir=$TMPD/brief-ca
	mkdir -p "$dir"
	: >"$dir/index.txt"
	echo 7000 >"$dir/serial"
	printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\norganizationName=optional\n' \
		"$dir" "$dir" "$dir" >"$dir/ca.cnf"
	openssl req -new -key "$PKI/good.key" -subj "/O=mtlsd test/CN=$1" -out "$dir/$1.csr" 2>/dev/null &&
		openssl ca -batch -config "$dir/ca.cnf" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" -notext \
			-preserveDN -in "$dir/$1.csr" -out "$PKI/$1.crt" -startdate 20200101000000Z \
			-enddate "$(date -u -d "+$2 seconds" +%Y%m%d%H%M%SZ)" 2>/dev/null &&
		cp "$PKI/$1.crt" "$PKI/$1.chain" && cp "$PKI/good.key" "$PKI/$1.key"
}
p=$(free_port)
if ! brief_cert brief 4; then
	fail "expiry: a certificate valid for 4 more seconds" "openssl ca failed"
elif mtlsd_at "$p" -C "$PKI/ca.crt"; then
	brief_end=$(date -d "$(openssl x509 -in "$PKI/brief.crt" -noout -enddate | sed 's/.*=//')" +%s)
	expect_eq "expiry: full handshake before notAfter" "New 200" "$(sclient "$p" brief -sess_out "$S.brief")"
	rm -f "$TMPD/brief.go"
	keepalive "$p" brief "$TMPD/brief.go" >"$TMPD/brief.out" 2>&1 &
	brief_pid=$!
	while [ "$(date +%s)" -le $((brief_end + 1)) ]; do sleep 0.2; done
	touch "$TMPD/brief.go"
	wait "$brief_pid"
	expect_eq "expiry: the open connection's next request is refused and closed" \
		"first 200 second 400-cert closed" "$(tr '\n' ' ' <"$TMPD/brief.out" | sed 's/ $//')"
	expect_eq "expiry: its cached session resumes but the request is refused" "Reused 400-cert" \
		"$(sclient "$p" - -sess_in "$S.brief")"
	if grep -a -q 'certificate has expired or is not yet valid (subject "CN=brief,O=mtlsd test"), closing' "$SERVER_ERR"; then
		ok "expiry: the refusal is logged with the subject"
	else
		fail "expiry: the refusal is logged with the subject" "$(grep -a brief "$SERVER_ERR" | tail -n 2)"
	fi
	stop_mtlsd
else
	fail "expiry: server starts" "$(cat "$SERVER_ERR")"
fi
p=$(free_port)
if mtlsd_at "$p" -C "$PKI/ca.crt" --session-cache 0; then
	sclient "$p" good -sess_out "$S.off" >/dev/null
	expect_eq "resume: --session-cache 0: never resumed" "New 200" "$(sclient "$p" good -sess_in "$S.off")"
	stop_mtlsd
else
	fail "resume: --session-cache 0 server starts" "$(cat "$SERVER_ERR")"
fi

# ---- allowlists ----------------------------------------------------------------------

fingerprint() { openssl x509 -in "$PKI/$1.crt" -noout -fingerprint -sha256 | sed 's/.*=//'; }
FP_EKU=$(fingerprint eku-client)                                  # with colons
FP_EC384=$(fingerprint ec384 | tr -d : | tr 'A-F' 'a-f')          # plain, lower case
for mode in on strict; do
	deny=403
	[ $mode = strict ] && deny=alert-49
	untrusted=400-cert
	[ $mode = strict ] && untrusted=alert-48
	p=$(free_port)
	if mtlsd_at "$p" -C "$PKI/bundle.crt" --verify-client $mode --allow-cn good --allow-cn ec-client; then
		got=$(probe "$p" good ec-client eku-client other-client | tr '\n' ' ')
		expect_eq "allow-cn ($mode): listed CNs in, others $deny, other CA still untrusted" \
			"good 200 ec-client 200 eku-client $deny other-client $untrusted " "$got"
		stop_mtlsd
	else
		fail "allow-cn ($mode): server starts" "$(cat "$SERVER_ERR")"
	fi
	p=$(free_port)
	if mtlsd_at "$p" -C "$PKI/ca.crt" --verify-client $mode --allow-fingerprint "$FP_EKU" \
		--allow-fingerprint "$FP_EC384" --allow-cn rsa4096; then
		got=$(probe "$p" eku-client ec384 rsa4096 good | tr '\n' ' ')
		expect_eq "allow-fingerprint ($mode): pinned certificates and the CN in, others $deny" \
			"eku-client 200 ec384 200 rsa4096 200 good $deny " "$got"
		if [ $mode = on ]; then
			if wait_for_match "$SERVER_ERR" 'certificate not in --allow-cn / --allow-ou / --allow-dns / --allow-uri / --allow-fingerprint \(subject "O=mtlsd test,CN=good"\), closing'; then
				ok "allow-fingerprint (on): the 403 is logged with the subject"
			else
				fail "allow-fingerprint (on): the 403 is logged with the subject" "$(tail -n 1 "$SERVER_ERR")"
			fi
			# 403 closes the connection: of two pipelined requests one is answered.
			printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n' |
				tls_raw --cert "$PKI/good.crt" --key "$PKI/good.key" "$p" >"$TMPD/pipe.out" 2>/dev/null
			got=$(responses "$TMPD/pipe.out" | sed 's/^\(403\) [0-9]*$/\1/' | tr '\n' ' ')
			expect_eq "allow-fingerprint (on): 403 and close" "403 rest 0 " "$got"
		fi
		stop_mtlsd
	else
		fail "allow-fingerprint ($mode): server starts" "$(cat "$SERVER_ERR")"
	fi
done

# A CN is compared whole, as the only CN, and never with a NUL inside.
p=$(free_port)
A64=$(printf 'a%.0s' {1..64})
if mtlsd_at "$p" -C "$PKI/ca.crt" --allow-cn good --allow-cn "$A64"; then
	got=$(probe "$p" good cn-nul cn-long cn-two cn-bmp | tr '\n' ' ')
	expect_eq "allow-cn: CN 'good\\0evil', 65 a's, two CNs and a BMPString CN do not match" \
		"good 200 cn-nul 403 cn-long 403 cn-two 403 cn-bmp 403 " "$got"
	if wait_for_text "$SERVER_OUT" ' - good\x5C00evil ['; then
		ok "allow-cn: the access log shows the CN with its NUL, escaped"
	else
		fail "allow-cn: the access log shows the CN with its NUL, escaped" "$(cat "$SERVER_OUT")"
	fi
	stop_mtlsd
else
	fail "allow-cn: CN tricks: server starts" "$(cat "$SERVER_ERR")"
fi

# ---- reload: a CRL revokes an open keep-alive connection --------------------------------

cp "$PKI/ca.crl" "$TMPD/reload.crl"
p=$(free_port)
if mtlsd_at "$p" -C "$PKI/ca.crt" --crl "$TMPD/reload.crl"; then
	# ka*.out of an earlier case would end the wait below at once.
	rm -f "$TMPD/go1" "$TMPD/go2" "$TMPD/ka1.out" "$TMPD/ka2.out"
	keepalive "$p" reloadee "$TMPD/go1" >"$TMPD/ka1.out" 2>&1 &
	ka1=$!
	keepalive "$p" good "$TMPD/go2" >"$TMPD/ka2.out" 2>&1 &
	ka2=$!
	# Both first answers come under the old CRL (up to 20 s: a loaded
	# machine can take seconds per handshake).
	for ((i = 0; i < 400; i++)); do
		[ -s "$TMPD/ka1.out" ] && [ -s "$TMPD/ka2.out" ] && break
		sleep 0.05
	done
	# A broken CRL: the reload fails, the old set stays.
	cp "$PKI/bad-sig.crl" "$TMPD/reload.crl"
	kill -HUP "$SERVER_PID"
	if wait_for_match "$SERVER_ERR" 'reload failed, keeping the current certificates, CAs, CRLs and allowlists: .*reload.crl: signature does not verify'; then
		ok "reload: a bad CRL is refused and the reason logged"
	else
		fail "reload: a bad CRL is refused and the reason logged" "$(tail -n 2 "$SERVER_ERR")"
	fi
	expect_eq "reload: after a failed reload the old CRL still applies" "reloadee 200 revoked 400-cert " \
		"$(probe "$p" reloadee revoked | tr '\n' ' ')"
	cp "$PKI/ca-2.crl" "$TMPD/reload.crl"
	kill -HUP "$SERVER_PID"
	wait_for_match "$SERVER_ERR" 'reloaded certificates'
	touch "$TMPD/go1" "$TMPD/go2"
	wait "$ka1" "$ka2"
	expect_eq "reload: open connection of a newly revoked certificate: 400 and closed" \
		"first 200 second 400-cert closed" "$(tr '\n' ' ' <"$TMPD/ka1.out" | sed 's/ $//')"
	expect_eq "reload: open connection of a good certificate continues" \
		"first 200 second 200 open" "$(tr '\n' ' ' <"$TMPD/ka2.out" | sed 's/ $//')"
	if grep -a -q 'certificate revoked (subject "O=mtlsd test,CN=reloadee"), closing' "$SERVER_ERR"; then
		ok "reload: the cut is logged with the subject"
	else
		fail "reload: the cut is logged with the subject" "$(tail -n 2 "$SERVER_ERR")"
	fi
	expect_eq "reload: new handshakes use the new CRL" "reloadee 400-cert" "$(probe "$p" reloadee)"
	# A new CA file: new handshakes use it.
	stop_mtlsd
else
	fail "reload: server starts" "$(cat "$SERVER_ERR")"
fi
# The same through an intermediate: int1's new CRL revokes int-revoked, whose
# open connection is refused at its next request; int-client's continues
# (the new CRL is verified with int1's key, seen before the reload).
cp "$PKI/int1.crl" "$TMPD/reload-int.crl"
p=$(free_port)
if mtlsd_at "$p" -C "$PKI/ca.crt" --crl "$PKI/ca.crl" --crl "$TMPD/reload-int.crl"; then
	# ka*.out of an earlier case would end the wait below at once.
	rm -f "$TMPD/go1" "$TMPD/go2" "$TMPD/ka1.out" "$TMPD/ka2.out"
	keepalive "$p" int-revoked "$TMPD/go1" >"$TMPD/ka1.out" 2>&1 &
	ka1=$!
	keepalive "$p" int-client "$TMPD/go2" >"$TMPD/ka2.out" 2>&1 &
	ka2=$!
	# Both first answers come under the old CRL (up to 20 s: a loaded
	# machine can take seconds per handshake).
	for ((i = 0; i < 400; i++)); do
		[ -s "$TMPD/ka1.out" ] && [ -s "$TMPD/ka2.out" ] && break
		sleep 0.05
	done
	cp "$PKI/int1-rev.crl" "$TMPD/reload-int.crl"
	n=$(grep -a -c 'reloaded certificates' "$SERVER_ERR")
	kill -HUP "$SERVER_PID"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -a -c 'reloaded certificates' "$SERVER_ERR")" -gt "$n" ] && break
		sleep 0.05
	done
	touch "$TMPD/go1" "$TMPD/go2"
	wait "$ka1" "$ka2"
	expect_eq "reload, intermediate CRL: open connection of a newly revoked certificate: 400 and closed" \
		"first 200 second 400-cert closed" "$(tr '\n' ' ' <"$TMPD/ka1.out" | sed 's/ $//')"
	expect_eq "reload, intermediate CRL: open connection of a good certificate continues" \
		"first 200 second 200 open" "$(tr '\n' ' ' <"$TMPD/ka2.out" | sed 's/ $//')"
	expect_eq "reload, intermediate CRL: new handshakes use the new CRL" "int-revoked 400-cert int-client 200 " \
		"$(probe "$p" int-revoked int-client | tr '\n' ' ')"
	stop_mtlsd
else
	fail "reload, intermediate CRL: server starts" "$(cat "$SERVER_ERR")"
fi
cp "$PKI/ca.crt" "$TMPD/reload-ca.crt"
p=$(free_port)
if mtlsd_at "$p" -C "$TMPD/reload-ca.crt"; then
	expect_eq "reload: before, ec-client is not trusted" "ec-client 400-cert" "$(probe "$p" ec-client)"
	cp "$PKI/bundle.crt" "$TMPD/reload-ca.crt"
	kill -HUP "$SERVER_PID"
	wait_for_match "$SERVER_ERR" 'reloaded certificates'
	expect_eq "reload: a CA added to the -C file is trusted at once" "ec-client 200" "$(probe "$p" ec-client)"
	# A -C file that holds a leaf: the reload fails loudly, the old CAs stay.
	cat "$PKI/bundle.crt" "$PKI/good.crt" >"$TMPD/reload-ca.crt"
	kill -HUP "$SERVER_PID"
	if wait_for_match "$SERVER_ERR" 'reload failed, keeping .*reload-ca.crt: certificate 3 \(O=mtlsd test,CN=good\) cannot be a pinned CA: basicConstraints says CA:FALSE'; then
		ok "reload: a -C file holding a leaf is refused, naming the file and subject"
	else
		fail "reload: a -C file holding a leaf is refused, naming the file and subject" "$(tail -n 2 "$SERVER_ERR")"
	fi
	expect_eq "reload: after the refused reload, the old CAs still apply" "ec-client 200 admin-by-leaf 400-cert " \
		"$(probe "$p" ec-client admin-by-leaf | tr '\n' ' ')"
	stop_mtlsd
else
	fail "reload: CA server starts" "$(cat "$SERVER_ERR")"
fi

# No heap calls while serving chains through intermediates with their CRLs:
# each intermediate's key is read from the kept chain, each CRL verified
# with it once, without allocation.
p=$(free_port)
if counted "no allocation with CRLs of intermediates" mtlsd_at "$p" -C "$PKI/ca.crt" \
	--verify-depth 2 --crl "$PKI/ca.crl" --crl "$PKI/int1-rev.crl" \
	--crl "$PKI/int2.crl" --crl "$PKI/int-rev.crl" --crl "$PKI/int1-forged.crl" \
	--access-log "$TMPD/noalloc.log"; then
	for i in 1 2 3; do
		got=$(probe "$p" good int-client int-revoked int-rev-client int2-client | tr '\n' ' ')
	done
	stop_mtlsd
	expect_eq "no allocation: the answers with CRLs of intermediates" \
		"good 200 int-client 200 int-revoked 400-cert int-rev-client 400-cert int2-client 200 " "$got"
	serving=$(heap_calls)
	lines=$(wc -l <"$TMPD/noalloc.log")
	if [ "${serving:-x}" = 0 ] && [ "$lines" -ge 15 ]; then
		ok "no heap calls while serving chains checked by CRLs of intermediates ($lines requests)"
	else
		fail "no heap calls while serving chains checked by CRLs of intermediates" \
			"serving '${serving:-?}', $lines log lines: $(sed -n '3,12p' "$TMPD/counts" 2>/dev/null)"
	fi
fi

# ---- --check-cert --------------------------------------------------------------------

serial_of() { openssl x509 -in "$PKI/$1.crt" -noout -serial | sed 's/.*=//'; }

# check_cert NAME EXIT LINE... -- run --check-cert on NAME.chain with -C
# bundle --crl both; expects EXIT and each LINE (a fixed string) in the output
check_cert() {
	local name=$1 want=$2 line rc out
	shift 2
	out=$("${MTLSD_CMD[@]}" --check-cert "$PKI/$name.chain" -C "$PKI/bundle.crt" \
		--crl "$PKI/ca.crl" --crl "$PKI/ec-ca.crl" $CHECK_OPTS 2>&1) && rc=0 || rc=$?
	for line in "$@"; do
		if ! grep -q -F -x -- "$line" <<<"$out"; then
			fail "check-cert $name: '$line'" "exit $rc: $(_oneline "$out")"
			return
		fi
	done
	expect_eq "check-cert $name: exit $want and its steps" "$want" "$rc"
}
CHECK_OPTS=
check_cert good 0 "certificate: O=mtlsd test,CN=good" "trust: issued by a pinned CA, 0 intermediate(s) (--verify-depth 1)" \
	"revocation: not revoked" "allowlist: none given" "result: accepted"
check_cert int-client 1 "trust: issued by a pinned CA, 1 intermediate(s) (--verify-depth 1)"
CHECK_OPTS="--verify-depth 0"
check_cert int-client 1 "trust: issued by a pinned CA, 1 intermediate(s) (--verify-depth 0): too many" \
	"result: refused: certificate chain too long for --verify-depth"
CHECK_OPTS=""
check_cert other-client 1 "trust: not trusted: issuer CN=other-ca,O=mtlsd test is not a pinned CA" \
	"revocation: not checked (the chain did not validate)" \
	"result: refused: certificate not trusted: no pinned CA issued it"
check_cert expired 1 "validity: expired on 2021-01-01 00:00:00 UTC" "result: refused: certificate has expired or is not yet valid"
check_cert notyet 1 "validity: not yet valid: valid from 2090-01-01 00:00:00 UTC"
check_cert eku-server 1 "extended key usage: serverAuth only, no clientAuth" \
	"result: refused: extended key usage does not include clientAuth"
check_cert ku-certsign 1 "key usage: no digitalSignature" "result: refused: key usage does not include digitalSignature"
check_cert revoked 1 "revocation: revoked" "result: refused: certificate revoked"
check_cert int-client 1 "revocation: client certificate (serial $(serial_of int-client)), by the CRL of intermediate 1 (O=mtlsd test,CN=int1): no CRL signed with its key covers it" \
	"result: refused: no CRL from the certificate's issuer (with --crl, every certificate of the chain needs one)"
CHECK_OPTS="--crl $PKI/int-rev.crl"
check_cert int-rev-client 1 "revocation: client certificate (serial $(serial_of int-rev-client)), by the CRL of intermediate 1 (O=mtlsd test,CN=int-rev): not revoked, $PKI/int-rev.crl" \
	"revocation: an intermediate CA is revoked" "result: refused: an intermediate CA of the chain is revoked"
CHECK_OPTS="--crl $PKI/int1-rev.crl"
check_cert int-revoked 1 "revocation: client certificate (serial $(serial_of int-revoked)), by the CRL of intermediate 1 (O=mtlsd test,CN=int1): revoked, $PKI/int1-rev.crl" \
	"revocation: revoked" "result: refused: certificate revoked"
check_cert int-client 0 "revocation: not revoked" "result: accepted"
CHECK_OPTS="--verify-depth 2 --crl $PKI/int1.crl --crl $PKI/int2.crl"
check_cert int2-client 0 "revocation: client certificate (serial $(serial_of int2-client)), by the CRL of intermediate 1 (O=mtlsd test,CN=int2): not revoked, $PKI/int2.crl" \
	"revocation: intermediate 1 (serial $(serial_of int2)), by the CRL of intermediate 2 (O=mtlsd test,CN=int1): not revoked, $PKI/int1.crl" \
	"result: accepted"
CHECK_OPTS=""
check_cert chain20 1 "chain: 20 certificate(s) sent (at most 8)" "result: refused: client sent more than 8 certificates"
check_cert crit-eku 1 "result: refused: certificate has an unsupported critical extension"
check_cert v1int-client 1 "result: refused: issuer is not a CA"
CHECK_OPTS="--allow-cn someone-else"
check_cert ec-client 1 "allowlist: refused: no --allow-cn, --allow-ou, --allow-dns, --allow-uri or --allow-fingerprint matches (1 rule(s))" \
	"result: refused: certificate not in --allow-cn / --allow-ou / --allow-dns / --allow-uri / --allow-fingerprint"
check_cert cn-two 1 "names:       CN good (cannot match: several CNs, control characters, too long or not a UTF-8 string)"
CHECK_OPTS="--verify-depth 2"
check_cert int2-client 1 "trust: issued by a pinned CA, 2 intermediate(s) (--verify-depth 2)" \
	"revocation: no CRL from the issuer of a certificate of the chain" "result: refused: no CRL from the certificate's issuer (with --crl, every certificate of the chain needs one)"
# One line per policy rule: which certificate, which rule
CHECK_OPTS="--verify-depth 2"
check_cert int-eku-server-client 1 \
	"result: refused: intermediate 1 (O=mtlsd test,CN=int-eku-server): extended key usage without clientAuth"
check_cert int-rsa1024-client 1 \
	"result: refused: intermediate 1 (O=mtlsd test,CN=int-rsa1024): RSA key of 1024 bits, below 2048 (--security-level 2)"
check_cert sha1-int-client 1 \
	"result: refused: intermediate 1 (O=mtlsd test,CN=sha1-int): signed with sha1WithRSAEncryption, refused at --security-level 2 (SHA-1 needs --security-level 1)"
check_cert int-pl0-client 1 \
	"result: refused: intermediate 2 (O=mtlsd test,CN=int-pl0): pathLenConstraint 0, but 1 intermediate(s) below it"
check_cert rsa1024 1 \
	"result: refused: client certificate (O=mtlsd test,CN=rsa1024): RSA key of 1024 bits, below 2048 (--security-level 2)"
check_cert rsa512 1 \
	"result: refused: client certificate (O=mtlsd test,CN=rsa512): RSA key of 512 bits, below 2048 (--security-level 2)"
check_cert sha1-leaf 1 \
	"result: refused: client certificate (O=mtlsd test,CN=sha1-leaf): signed with sha1WithRSAEncryption, refused at --security-level 2 (SHA-1 needs --security-level 1)"
check_cert md5-leaf 1 \
	"result: refused: client certificate (O=mtlsd test,CN=md5-leaf): signed with md5WithRSAEncryption, refused at every security level"
check_cert ns-server 1 "result: refused: client certificate (O=mtlsd test,CN=ns-server): Netscape cert type without SSL client"
check_cert ns-client 0 "result: accepted"
CHECK_OPTS="--verify-depth 2 --security-level 1"
check_cert sha1-leaf 0 "result: accepted"
check_cert rsa1024 0 "result: accepted"
check_cert md5-leaf 1 \
	"result: refused: client certificate (O=mtlsd test,CN=md5-leaf): signed with md5WithRSAEncryption, refused at every security level"
out=$("${MTLSD_CMD[@]}" --check-cert "$PKI/pl0-int-client.chain" -C "$PKI/pl0-root.crt" 2>&1) && rc=0 || rc=$?
if [ "$rc" = 1 ] && grep -q -F -x "result: refused: pinned CA (CN=pl0-root,O=mtlsd test): pathLenConstraint 0, but 1 intermediate(s) below it" <<<"$out"; then
	ok "check-cert pl0-int-client: the pinned CA's pathLenConstraint"
else
	fail "check-cert pl0-int-client: the pinned CA's pathLenConstraint" "exit $rc: $(_oneline "$out")"
fi
CHECK_OPTS=
# --check-cert lists the pinned CAs: subject, SHA-256 and validity
cadate() { date -u -d "$(openssl x509 -in "$PKI/$1.crt" -noout "-$2" | sed 's/.*=//')" '+%Y-%m-%d %H:%M:%S UTC'; }
out=$("${MTLSD_CMD[@]}" --check-cert "$PKI/good.chain" -C "$PKI/bundle.crt" 2>&1)
want="pinned CA 2: CN=id-ec-ca,O=mtlsd test
  sha256:      $(fingerprint ec-ca)
  valid:       $(cadate ec-ca startdate) to $(cadate ec-ca enddate)"
if [[ $out == *"pinned CA 1: CN=id-root-ca,O=mtlsd test"*"$want"* ]]; then
	ok "check-cert: lists the pinned CAs with SHA-256 and validity"
else
	fail "check-cert: lists the pinned CAs with SHA-256 and validity" "$(_oneline "$out")"
fi
out=$("${MTLSD_CMD[@]}" --check-cert "$PKI/rekey-b-client.chain" -C "$PKI/rekey-a.crt" 2>&1)
if grep -q -F -x "trust: not trusted: issuer CN=id-rekey-ca,O=mtlsd test matches a pinned CA by name, but that CA's key did not sign the certificate (a CA re-keyed under the same name? pin its new certificate)" <<<"$out"; then
	ok "check-cert: a re-keyed CA: the name matches a pinned CA, its key did not sign"
else
	fail "check-cert: a re-keyed CA: the name matches a pinned CA, its key did not sign" "$(_oneline "$out")"
fi
out=$("${MTLSD_CMD[@]}" --check-cert "$PKI/rekey-b-revoked.chain" -C "$PKI/rekey-bundle.crt" \
	--crl "$PKI/rekey-a.crl" --crl "$PKI/rekey-b.crl" 2>&1)
if grep -q -F -x "  signed by:   pinned CA 2, CN=id-rekey-ca,O=mtlsd test" <<<"$out" &&
	grep -q -F -x "revocation: revoked" <<<"$out"; then
	ok "check-cert: the pinned CA whose key signed, and its CRL's verdict"
else
	fail "check-cert: the pinned CA whose key signed, and its CRL's verdict" "$(_oneline "$out")"
fi
out=$("${MTLSD_CMD[@]}" --check-cert "$PKI/good.chain" -C "$PKI/ca.crt" --crl "$PKI/ca-partition.crl" 2>&1)
if grep -q -F -x "revocation: no CRL signed with the key of pinned CA 1 covers the end-entity certificate it signed" <<<"$out"; then
	ok "check-cert: a client no CRL covers"
else
	fail "check-cert: a client no CRL covers" "$(_oneline "$out")"
fi
out=$("${MTLSD_CMD[@]}" --check-cert "$TMPD/no-such-file.pem" -C "$PKI/ca.crt" 2>&1) && rc=0 || rc=$?
expect_eq "check-cert: an unreadable file -> exit 2" 2 "$rc"
out=$("${MTLSD_CMD[@]}" --check-cert "$PKI/good.chain" -C "$PKI/ca.crt" --crl "$PKI/bad-sig.crl" 2>&1) && rc=0 || rc=$?
if [ "$rc" = 1 ] && [[ $out == *"signature does not verify"* ]]; then
	ok "check-cert: a bad CRL is refused as at start-up"
else
	fail "check-cert: a bad CRL is refused as at start-up" "exit $rc: $out"
fi

# ---- logs: a certificate cannot forge lines -----------------------------------------------

for mode in on strict; do
	p=$(free_port)
	if mtlsd_at "$p" -C "$PKI/ca.crt" --verify-client $mode --allow-cn nobody; then
		probe "$p" evil >/dev/null
		if wait_for_text "$SERVER_ERR" 'subject "O=mtlsd test,CN=evil\0A2024/01/01 00:00:00 [notice] forged \"quote\" \\ end"'; then
			ok "logs ($mode): the error log shows the DN escaped, on one line"
		else
			fail "logs ($mode): the error log shows the DN escaped, on one line" "$(tail -n 2 "$SERVER_ERR")"
		fi
		expect_eq "logs ($mode): no forged error log line" 0 "$(grep -a -c '^2024/01/01' "$SERVER_ERR")"
		stop_mtlsd
	else
		fail "logs ($mode): server starts" "$(cat "$SERVER_ERR")"
	fi
done
p=$(free_port)
if mtlsd_at "$p" -C "$PKI/ca.crt"; then
	probe "$p" evil >/dev/null
	# The CN keeps its newline as \0A, as in the DN; the access log then
	# escapes that backslash too.
	if wait_for_text "$SERVER_OUT" '127.0.0.1 - evil\x5C0A2024/01/01 00:00:00 [notice] forged \x22quote\x22 \x5C end ['; then
		ok "logs: the access log shows the CN escaped"
	else
		fail "logs: the access log shows the CN escaped" "$(cat "$SERVER_OUT")"
	fi
	expect_eq "logs: one access log line" 1 "$(wc -l <"$SERVER_OUT")"
	stop_mtlsd
else
	fail "logs: server starts" "$(cat "$SERVER_ERR")"
fi

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

# ASan/UBSan (make SANITIZE=1) and valgrind write to the server's stderr
if grep -l -a -E '^==[0-9]+== |runtime error:|ERROR: (Address|Leak|Undefined)Sanitizer' \
	"$TMPD"/server.*.err "$TMPD"/run.*.err >"$TMPD/reports" 2>/dev/null; then
	fail "no valgrind/sanitizer reports on the server's stderr" \
		"$(head -n 1 "$TMPD/reports"): $(xargs -d '\n' grep -a -h -m 2 -E '^==[0-9]+== |runtime error:|Sanitizer' <"$TMPD/reports" | head -n 2)"
else
	ok "no valgrind/sanitizer reports on the server's stderr"
fi

summary
