#!/usr/bin/env bash
# tests/allow.sh -- identities beyond the CN and rules per path, against a
# live server: --allow-ou, --allow-dns, --allow-uri (SPIFFE IDs) beside
# --allow-cn; --allow-file's per-path rules, their reload on SIGHUP (good
# and bad file) with an open connection; --access-log-identity;
# --root-per-client isolation (no client reads another's files, through the
# open-file cache or any path trick); --check-cert's report of the rule.
#
#   bash tests/allow.sh          # against ./mtlsd (build it first)
#   KEEP_TMP=1 ...               # keep the temp dir (PKI, logs)
#
# Prints one line per check and "N passed, N failed" last. Needs openssl
# and python3.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
TARGET=mtlsd
. tests/lib.sh

need_mtlsd
make_pki tests/mkpki-allow.sh

WWW=$TMPD/www
mkdir -p "$WWW/reports/secret" "$WWW/private"
echo "index" >"$WWW/index.html"
echo "public" >"$WWW/public.txt"
echo "report" >"$WWW/reports/r.txt"
echo "secret" >"$WWW/reports/secret/s.txt"
echo "private" >"$WWW/private/p.txt"

# get PORT NAME STEP... -- one connection with $PKI/NAME.crt, then for each
# STEP in turn: a path, GET on the same (keep-alive) connection, printing
# STATUS, or STATUS:BODY for a 200 (first line of the body); or @FILE, to
# wait until FILE exists. Prints "closed" and stops when the server closes,
# "alert" when the handshake fails. One line, space-separated.
get() { python3 "$TMPD/get.py" "$PKI" "$@"; }
cat >"$TMPD/get.py" <<'EOF'
import ssl, sys
from tlsget import context, connect, Responses, wait_for
pki, port, name, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
ctx = context('%s/%s.crt' % (pki, name), '%s/%s.key' % (pki, name))
out = []
try:
    s = connect(ctx, port)
except (ssl.SSLError, OSError):
    print('alert')
    sys.exit(0)
r = Responses(s)
for step in steps:
    if step.startswith('@'):
        wait_for(step[1:], 10)
        continue
    try:
        s.sendall(b'GET ' + step.encode() + b' HTTP/1.1\r\nHost: localhost\r\n\r\n')
        got = r.next()
    except (ssl.SSLError, OSError):
        got = None
    if got is None:
        out.append('closed')
        break
    status, body = got
    if status == '200':
        status += ':' + body.decode(errors='replace').split('\n')[0]
    out.append(status)
print(' '.join(out))
EOF

SRV=(-c "$PKI/server.crt" -k "$PKI/server.key" -C "$PKI/ca.crt" -r "$WWW")
srv_at() {
	local port=$1
	shift
	start_mtlsd -l "127.0.0.1:$port" "${SRV[@]}" "$@"
}

# expect_get NAME "WANT" PORT CLIENT STEP...
expect_get() {
	local what=$1 want=$2 got
	shift 2
	got=$(get "$@")
	expect_eq "$what" "$want" "$got"
}

# ---- start-up errors ------------------------------------------------------------

# startup_fails NAME EXPECTED_TEXT OPTIONS...
startup_fails() {
	local name=$1 want=$2
	shift 2
	run_mtlsd -l "127.0.0.1:$(free_port)" "${SRV[@]}" "$@"
	if [ "$RUN_RC" != 0 ] && grep -q -F -- "$want" "$RUN_ERR"; then
		ok "$name"
	else
		fail "$name" "rc $RUN_RC: $(cat "$RUN_ERR")"
	fi
}

startup_fails "start: --allow-dns with an empty name" \
	'--allow-dns "": the name is empty' --allow-dns ""
startup_fails "start: --allow-uri with a space" \
	'--allow-uri "spiffe://a b": the name is a space or a non-ASCII byte' --allow-uri "spiffe://a b"
startup_fails "start: --allow-file missing" \
	"--allow-file $TMPD/none.rules: No such file or directory" --allow-file "$TMPD/none.rules"

bad_rules() { # NAME TEXT EXPECTED
	printf '%b' "$2" >"$TMPD/bad.rules"
	startup_fails "start: --allow-file $1" "--allow-file $TMPD/bad.rules:$3" \
		--allow-file "$TMPD/bad.rules"
}
bad_rules "unknown rule, file:line" '# c\n\n/reports/ user alice\n' \
	'3: /reports/: expected a rule (cn, ou, dns, uri, fingerprint, any or none) after the path prefix, not "user"'
bad_rules "prefix without /" 'reports/ cn alice\n' '1: reports/: a path prefix must start with /'
bad_rules "prefix with .." '/a/../b/ cn alice\n' "1: /a/../b/: a '.' or '..' segment"
bad_rules "prefix with %" '/a%20b/ cn alice\n' "1: /a%20b/: '%' in the path prefix"
bad_rules "any with a value" '/ any alice\n' '1: / any takes no value, found "alice"'
bad_rules "cn without a value" '/x/ cn\n' '1: /x/ cn: the name is empty'
bad_rules "bad fingerprint" '/x/ fingerprint abcd\n' '1: /x/ fingerprint: expected 64 hex digits'
bad_rules "none beside an allowing rule" '/x/ cn a\n# n\n/x/ none\n' \
	'3: /x/ none: the prefix also has a rule allowing clients, at line 1'
bad_rules "prefix without rule" '/x/\n' '1: /x/: expected a rule'
bad_rules "a comment after a rule" '/x/ cn alice # admin\n' \
	'1: /x/ cn "alice # admin": comments take a line of their own'

# ---- global rules -------------------------------------------------------------------

URI_WEB=spiffe://example.org/ns/prod/sa/web
p=$(free_port)
if srv_at "$p" --allow-ou reports --allow-ou ops; then
	got="$(get "$p" alice /public.txt) $(get "$p" bob /public.txt) $(get "$p" carol /public.txt /public.txt)"
	expect_eq "--allow-ou: OU reports and bob's second OU in, carol 403 and closed" \
		"200:public 200:public 403 closed" "$got"
	stop_mtlsd
else
	fail "--allow-ou: server starts" "$(cat "$SERVER_ERR")"
fi

p=$(free_port)
if srv_at "$p" --allow-dns bob.EXAMPLE.org --allow-dns many.example.org \
	--allow-dns longuri.example.org; then
	got="$(get "$p" bob /public.txt) $(get "$p" alice /public.txt) $(get "$p" many /public.txt) $(get "$p" longuri /public.txt)"
	expect_eq "--allow-dns: any case matches; 17 SANs or a 330-byte URI: nothing matches (fail closed)" \
		"200:public 403 403 403" "$got"
	stop_mtlsd
else
	fail "--allow-dns: server starts" "$(cat "$SERVER_ERR")"
fi

p=$(free_port)
if srv_at "$p" --allow-uri "$URI_WEB" --allow-uri SPIFFE://example.org/ns/prod/sa/reports \
	--allow-cn carol --allow-cn many --access-log-identity; then
	got="$(get "$p" svc /public.txt) $(get "$p" alice /public.txt) $(get "$p" carol /public.txt) $(get "$p" many /public.txt) $(get "$p" bob /public.txt)"
	expect_eq "--allow-uri (a SPIFFE ID, case-sensitive) or --allow-cn: any of them allows" \
		"200:public 403 200:public 200:public 403" "$got"
	if wait_for_match "$SERVER_OUT" "\"GET /public.txt HTTP/1.1\" 200 7 \"-\" \"-\" \"uri=$URI_WEB\"\$" &&
		wait_for_match "$SERVER_OUT" '"GET /public.txt HTTP/1.1" 200 7 "-" "-" "cn=carol"$' &&
		wait_for_match "$SERVER_OUT" '"GET /public.txt HTTP/1.1" 403 [0-9]+ "-" "-" "-"$'; then
		ok "--access-log-identity: the rule that allowed, last on the line; \"-\" when refused"
	else
		fail "--access-log-identity: the rule that allowed" "$(cat "$SERVER_OUT")"
	fi
	stop_mtlsd
else
	fail "--allow-uri: server starts" "$(cat "$SERVER_ERR")"
fi

p=$(free_port)
if srv_at "$p" --verify-client strict --allow-ou eng; then
	got="$(get "$p" bob /public.txt) $(get "$p" alice /public.txt)"
	expect_eq "--allow-ou, strict: refused in the handshake" "200:public alert" "$got"
	stop_mtlsd
else
	fail "--allow-ou strict: server starts" "$(cat "$SERVER_ERR")"
fi

# ---- --allow-file -------------------------------------------------------------------

RULES=$TMPD/site.rules
cat >"$RULES" <<EOF
# reports: the reports OU and the web service
/reports/ ou reports
	/reports/   uri   $URI_WEB

/reports/secret/ cn alice
/private/ none
EOF
p=$(free_port)
if srv_at "$p" --allow-cn carol --allow-ou reports --allow-ou eng --allow-file "$RULES" \
	--access-log-identity; then
	expect_get "allow-file: carol: global rules outside the prefixes; 403 under /reports/, connection kept" \
		"200:public 403 403 200:public" "$p" carol /public.txt /reports/r.txt /reports /public.txt
	expect_get "allow-file: alice: OU rule, longest prefix (cn alice) for /reports/secret/" \
		"200:report 200:secret 301 403" "$p" alice /reports/r.txt /reports/secret/s.txt /reports /private/p.txt
	expect_get "allow-file: bob (globally allowed) refused under /reports/ by every path spelling" \
		"200:public 403 403 403 403 403 403" "$p" bob /public.txt /reports/r.txt \
		/public/../reports/r.txt /%72eports/r.txt //reports/r.txt /reports/./r.txt /reports
	expect_get "allow-file: svc: a URI rule of /reports/ only; the global rules refuse the rest (403, close)" \
		"200:report 403 403 closed" "$p" svc /reports/r.txt /reports/secret/s.txt /public.txt /public.txt
	if wait_for_match "$SERVER_OUT" '"GET /reports/secret/s.txt HTTP/1.1" 200 7 "-" "-" "cn=alice"$' &&
		wait_for_match "$SERVER_OUT" '"GET /reports/r.txt HTTP/1.1" 200 7 "-" "-" "ou=reports"$' &&
		wait_for_match "$SERVER_ERR" 'certificate not allowed by the --allow-file rules of this path \(subject "CN=bob,OU=ops,OU=eng,O=mtlsd test"\)'; then
		ok "allow-file: the access log names the rule, the error log the refusal"
	else
		fail "allow-file: logs" "$(tail -n 5 "$SERVER_OUT" "$SERVER_ERR")"
	fi

	# SIGHUP: a new file applies to a connection already open.
	GO=$TMPD/go.1
	served=$(grep -c '"GET /public.txt HTTP/1.1" 200' "$SERVER_OUT")
	get "$p" bob /public.txt "@$GO" /public.txt /reports/r.txt >"$TMPD/ka.1" &
	ka=$!
	# The first request is answered under the old rules before the reload
	# (a fixed sleep raced with a slow handshake on a loaded machine).
	for _ in $(seq 100); do
		[ "$(grep -c '"GET /public.txt HTTP/1.1" 200' "$SERVER_OUT")" -gt "$served" ] && break
		sleep 0.1
	done
	printf '/ ou reports\n/public.txt cn alice\n' >"$RULES.new"
	mv "$RULES.new" "$RULES"
	kill -HUP "$SERVER_PID"
	if wait_for_match "$SERVER_ERR" 'reloaded certificates'; then
		: >"$GO"
		wait "$ka"
		expect_eq "allow-file reload: an open connection meets the new rules at its next request" \
			"200:public 403 403" "$(cat "$TMPD/ka.1")"
		expect_get "allow-file reload: the new rules for a new connection (alice)" \
			"200:public 200:report 200:private" "$p" alice /public.txt /reports/r.txt /private/p.txt
		expect_get "allow-file reload: the new rules for a new connection (bob)" \
			"403 403" "$p" bob /index.html /public.txt
	else
		fail "allow-file reload: reloaded" "$(cat "$SERVER_ERR")"
		wait "$ka"
	fi
	printf '/ ou eng\n/public.txt ou eng\n/x/ grant bob\n' >"$RULES.new"
	mv "$RULES.new" "$RULES"
	kill -HUP "$SERVER_PID"
	if wait_for_match "$SERVER_ERR" "reload failed, keeping the current certificates, CAs, CRLs and allowlists: --allow-file $RULES:3: /x/: expected a rule"; then
		ok "allow-file reload: a bad file fails the reload with file:line"
		expect_get "allow-file reload: after a failed reload the previous rules stay" \
			"403 403" "$p" bob /index.html /public.txt
	else
		fail "allow-file reload: a bad file fails the reload with file:line" "$(cat "$SERVER_ERR")"
	fi
	stop_mtlsd
else
	fail "allow-file: server starts" "$(cat "$SERVER_ERR")"
fi

# ---- --root-per-client ----------------------------------------------------------------

R=$TMPD/roots
mkdir -p "$R/alice/sub" "$R/bob" "$R/carol-not"
echo "alice file" >"$R/alice/file.txt"
echo "alice index" >"$R/alice/index.html"
echo "bob file" >"$R/bob/file.txt"
echo "bob only" >"$R/bob/only-bob.txt"
echo "top" >"$R/top.txt"
ln -s ../bob/only-bob.txt "$R/alice/tobob"
ln -s ../bob "$R/alice/bobdir"
ln -s bob "$R/dave"
mkdir -p "$R/.." 2>/dev/null
p=$(free_port)
if start_mtlsd -l "127.0.0.1:$p" -c "$PKI/server.crt" -k "$PKI/server.key" -C "$PKI/ca.crt" \
	-r "$R" --root-per-client --open-file-cache 64; then
	# Alternate, so that each path is in the open-file cache when the other asks.
	got="$(get "$p" alice /file.txt /file.txt /) | $(get "$p" bob /file.txt /file.txt /) | $(get "$p" alice /file.txt)"
	expect_eq "root-per-client: each client its own /file.txt, through the open-file cache too" \
		"200:alice file 200:alice file 200:alice index | 200:bob file 200:bob file 403 | 200:alice file" "$got"
	got=
	for path in /../bob/only-bob.txt /%2e%2e/bob/only-bob.txt /tobob /bobdir/only-bob.txt \
		/bob/only-bob.txt /top.txt /alice/file.txt /sub/../../bob/only-bob.txt; do
		got="$got $(get "$p" alice "$path")"
	done
	expect_eq "root-per-client: alice cannot reach bob's files (.., %2e%2e, symlinks out, a bob/ path)" \
		" 400 400 404 404 404 404 404 400" "$got"
	expect_get "root-per-client: bob's own file is there" "200:bob only" "$p" bob /only-bob.txt
	got="$(get "$p" dotdot /top.txt) $(get "$p" dot /top.txt) $(get "$p" slash /top.txt)"
	expect_eq "root-per-client: CNs '..', '.', 'a/b' are refused with 403 (and closed)" \
		"403 closed 403 closed 403 closed" \
		"$(get "$p" dotdot /top.txt /top.txt) $(get "$p" dot /top.txt /top.txt) $(get "$p" slash /top.txt /top.txt)"
	expect_get "root-per-client: a client whose directory is a symlink (dave -> bob) gets nothing" \
		"404 404" "$p" dave /file.txt /only-bob.txt
	expect_get "root-per-client: a client without a directory gets 404" "404" "$p" carol /file.txt
	if wait_for_match "$SERVER_ERR" 'root-per-client: the certificate.s CN is not a plain name .* \(subject "CN=\.\.,O=mtlsd test"\), closing'; then
		ok "root-per-client: the refusal is logged"
	else
		fail "root-per-client: the refusal is logged" "$(cat "$SERVER_ERR")"
	fi
	stop_mtlsd
else
	fail "root-per-client: server starts" "$(cat "$SERVER_ERR")"
fi

# ---- no allocation while serving, with every new option ---------------------------------

printf '/ any\n/alice/ cn nobody\n/sub/ ou reports\n/sub/x/ dns alice.example.org\n' >"$TMPD/noalloc.rules"
p=$(free_port)
if counted "no allocation with the identity options" start_mtlsd -l "127.0.0.1:$p" \
	-c "$PKI/server.crt" -k "$PKI/server.key" -C "$PKI/ca.crt" \
	-r "$R" --root-per-client --allow-file "$TMPD/noalloc.rules" --allow-ou reports \
	--allow-uri "$URI_WEB" --access-log-identity --access-log "$TMPD/noalloc.log"; then
	for i in 1 2 3; do
		get "$p" alice /file.txt /sub/ /sub/x/ /alice/file.txt /file.txt >/dev/null
		get "$p" bob /file.txt /only-bob.txt >/dev/null
		get "$p" dotdot /file.txt >/dev/null
	done
	stop_mtlsd
	serving=$(heap_calls)
	lines=$(wc -l <"$TMPD/noalloc.log")
	if [ "${serving:-x}" = 0 ] && [ "$lines" -ge 20 ]; then
		ok "no heap calls while serving with --allow-file, --root-per-client, --access-log-identity ($lines requests)"
	else
		fail "no heap calls while serving with the identity options" \
			"serving '${serving:-?}', $lines log lines: $(sed -n '3,12p' "$TMPD/counts" 2>/dev/null)"
	fi
fi

# ---- --check-cert -----------------------------------------------------------------------

# check_cert NAME RC LINE... -- --check-cert $PKI/NAME.crt with $CHECK_OPTS
check_cert() {
	local name=$1 want_rc=$2 line missing=
	shift 2
	run_mtlsd -C "$PKI/ca.crt" --check-cert "$PKI/$name.crt" "${CHECK_OPTS[@]}"
	for line in "$@"; do
		grep -q -x -F -- "$line" "$RUN_OUT" || missing="$missing [$line]"
	done
	if [ "$RUN_RC" = "$want_rc" ] && [ -z "$missing" ]; then
		ok "check-cert $name ${CHECK_OPTS[*]}: rc $want_rc, $*"
	else
		fail "check-cert $name ${CHECK_OPTS[*]}" "rc $RUN_RC, missing$missing: $(cat "$RUN_OUT" "$RUN_ERR")"
	fi
}
CHECK_OPTS=(--allow-ou eng --allow-uri "$URI_WEB")
check_cert bob 0 "names:       CN bob, OU eng, OU ops, DNS Bob.Example.Org" \
	"allowlist: allowed by --allow-ou (ou=eng)" "result: accepted"
check_cert svc 0 "allowlist: allowed by --allow-uri (uri=$URI_WEB)"
check_cert carol 1 \
	"allowlist: refused: no --allow-cn, --allow-ou, --allow-dns, --allow-uri or --allow-fingerprint matches (2 rule(s))" \
	"result: refused: certificate not in --allow-cn / --allow-ou / --allow-dns / --allow-uri / --allow-fingerprint"
CHECK_OPTS=(--allow-dns longuri.example.org)
check_cert longuri 1 \
	"names:       CN longuri, DNS longuri.example.org (OUs and SANs cannot match: more than 16 or 318 bytes of them, or one not plain text)"
cat >"$RULES" <<EOF
/reports/ ou reports
/reports/secret/ cn alice
/private/ none
EOF
CHECK_OPTS=(--allow-cn carol --allow-file "$RULES")
check_cert alice 0 "allowlist: refused: no --allow-cn, --allow-ou, --allow-dns, --allow-uri or --allow-fingerprint matches (1 rule(s))" \
	"allow-file: /reports/: allowed (ou=reports)" "allow-file: /reports/secret/: allowed (cn=alice)" \
	"allow-file: /private/: refused" "result: accepted"
check_cert bob 1 "allow-file: /reports/: refused" "allow-file: /reports/secret/: refused"
CHECK_OPTS=(--root-per-client)
check_cert alice 0 "root-per-client: served from ROOT/alice/" "result: accepted"
check_cert dotdot 1 "root-per-client: refused: the CN is not a plain name" \
	"result: refused: --root-per-client: the certificate's CN is not a plain name (empty, over 64 bytes, '/', a leading '.' or a control character)"

summary
