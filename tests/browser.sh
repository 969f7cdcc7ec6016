#!/usr/bin/env bash
# tests/browser.sh -- a real browser: headless Chromium loads the page over
# mutual TLS with the client certificate from `make certs` (client.p12)
# imported into its NSS database and chosen by the AutoSelectCertificateForUrls
# policy, as an administrator would deploy it; without the certificate it
# gets nginx's 400 page.  A screenshot of the page is saved (KEEP_TMP=1 keeps
# it).
#
# Needs chromium and certutil/pk12util (libnss3-tools); skips with a message
# when they are missing, except under CI=true, where it must run.  Chromium
# reads policies only from /etc/chromium/policies/managed: the test writes
# one file there for the time it runs (root needed) and removes it on exit.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

POLICY_DIR=/etc/chromium/policies/managed
POLICY=$POLICY_DIR/mtlsd-test-$$.json
POLICY_DIR_MADE=

cleanup_browser() {
	rm -f "$POLICY"
	[ -n "$POLICY_DIR_MADE" ] && rmdir -p "$POLICY_DIR" 2>/dev/null
	_cleanup
}
trap cleanup_browser EXIT

cannot_run() {
	if [ "${CI:-}" = true ]; then
		fail "headless Chromium over mutual TLS" "$1 (CI must run this test)"
	else
		skip "headless Chromium over mutual TLS" "$1"
	fi
	summary
	exit
}

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || cannot_run "chromium is not installed (apt-get install chromium)"
command -v certutil >/dev/null 2>&1 && command -v pk12util >/dev/null 2>&1 ||
	cannot_run "certutil/pk12util are not installed (apt-get install libnss3-tools)"
[ -d "$POLICY_DIR" ] || { mkdir -p "$POLICY_DIR" 2>/dev/null && POLICY_DIR_MADE=1; }
[ -w "$POLICY_DIR" ] || cannot_run "$POLICY_DIR is not writable: the policy that picks the certificate goes there"

# The demo PKI exactly as `make certs` makes it: localhost server, client.p12.
CERTS=$TMPD/certs
if ! sh certs/mkcerts.sh "$CERTS" >"$TMPD/mkcerts.log" 2>&1; then
	fail "make certs" "$(cat "$TMPD/mkcerts.log")"
	summary
	exit
fi
check "make certs writes client.p12 (password mtlsd)" \
	openssl pkcs12 -in "$CERTS/client.p12" -passin pass:mtlsd -noout

PORT=$(free_port)
if ! start_mtlsd -l "127.0.0.1:$PORT" -r www -c "$CERTS/server.crt" -k "$CERTS/server.key" \
	-C "$CERTS/ca.crt"; then
	fail "mtlsd starts" "$(cat "$SERVER_ERR")"
	summary
	exit
fi
URL=https://localhost:$PORT/

# nssdb HOME [p12] -- an NSS database in HOME/.pki/nssdb (where Chromium on
# Linux looks) that trusts the demo CA and, given a .p12, holds that client.
nssdb() {
	local db=sql:$1/.pki/nssdb
	mkdir -p "$1/.pki/nssdb"
	certutil -N -d "$db" --empty-password &&
		certutil -A -d "$db" -n "mtlsd demo CA" -t "C,," -i "$CERTS/ca.crt" &&
		{ [ $# -lt 2 ] || pk12util -i "$2" -d "$db" -W mtlsd; }
}

# browse HOME OUTPUT ARGS... -- headless Chromium with that HOME, bounded
browse() {
	local home=$1 out=$2
	shift 2
	HOME=$home timeout -k 5 $((60 * TF)) "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --disable-dev-shm-usage \
		--user-data-dir="$home/profile" "$@" >"$out" 2>"$out.err"
}

# The administrator's way: the certificate for this origin is chosen
# without asking (no dialog could be answered headless anyway).
printf '{ "AutoSelectCertificateForUrls": [ "{\\"pattern\\": \\"https://localhost:%s\\", \\"filter\\": {}}" ] }\n' \
	"$PORT" >"$POLICY"

if nssdb "$TMPD/with" "$CERTS/client.p12" >"$TMPD/nss.log" 2>&1; then
	ok "client.p12 imported into an NSS database with pk12util"
else
	fail "client.p12 imported into an NSS database with pk12util" "$(cat "$TMPD/nss.log")"
fi
browse "$TMPD/with" "$TMPD/dom-with.html" --dump-dom "$URL"
if grep -q 'Hello, mutual TLS is working' "$TMPD/dom-with.html"; then
	ok "Chromium with the client certificate: the page"
else
	fail "Chromium with the client certificate: the page" \
		"$(head -c 300 "$TMPD/dom-with.html") $(grep -v dbus "$TMPD/dom-with.html.err" | tail -n 3)"
fi
if wait_for_match "$SERVER_OUT" '^127\.0\.0\.1 - client .*"GET / HTTP/1\.1" 200 .*HeadlessChrome'; then
	ok "mtlsd logged Chromium as the certificate's CN"
else
	fail "mtlsd logged Chromium as the certificate's CN" "$(cat "$SERVER_OUT")"
fi
SHOT=$TMPD/mtlsd-chromium.png
browse "$TMPD/with" "$TMPD/shot.log" --window-size=800,500 --screenshot="$SHOT" "$URL"
if [ -s "$SHOT" ] && [ "$(head -c 8 "$SHOT" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
	ok "screenshot saved ($(wc -c <"$SHOT") bytes PNG${KEEP_TMP:+: $SHOT})"
else
	fail "screenshot saved" "$(tail -n 3 "$TMPD/shot.log.err")"
fi

nssdb "$TMPD/without" >"$TMPD/nss2.log" 2>&1
browse "$TMPD/without" "$TMPD/dom-without.html" --dump-dom "$URL"
if grep -q '<title>400 No required SSL certificate was sent</title>' "$TMPD/dom-without.html"; then
	ok "Chromium without a client certificate: the 400 page"
else
	fail "Chromium without a client certificate: the 400 page" \
		"$(head -c 300 "$TMPD/dom-without.html") $(grep -v dbus "$TMPD/dom-without.html.err" | tail -n 3)"
fi

stop_mtlsd
summary
