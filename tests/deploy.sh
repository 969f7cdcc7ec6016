#!/usr/bin/env bash
# tests/deploy.sh -- drop-in and deployment: the nginx server block of the
# reference setup run as it is (--nginx-conf), a full nginx.conf, refusals
# with FILE:LINE, -t, command-line overrides, --version, make install (man
# page, example configuration, systemd unit) and the container files.
#
# Prints one line per check and "N passed, N failed" last.  Traffic goes to
# 127.0.0.1 only.  Needs what tests/integration.sh needs; systemd-analyze,
# groff, python3-yaml and docker-compose are used when present.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

need_mtlsd

make_pki
WWW=$TMPD/www
mkdir -p "$WWW"
cp www/index.html "$WWW/index.html"
printf 'other index\n' >"$WWW/other.html"

# get WHO PORT [curl args...] -- GET https://server2:PORT/ as WHO (a PKI
# name, or - for no client certificate).  Sets CODE and BODY (a file).
BODY=$TMPD/body
get() {
	local who=$1 port=$2 certs=()
	shift 2
	[ "$who" = - ] || certs=(--cert "$PKI/$who.crt" --key "$PKI/$who.key")
	: >"$BODY"
	CODE=$(curl -sS --max-time $((10 * TF)) --resolve "server2:$port:127.0.0.1" \
		--cacert "$PKI/ca.crt" "${certs[@]}" -o "$BODY" -w '%{http_code}' "$@" \
		"https://server2:$port/" 2>"$TMPD/curl.err") || true
}

# expect_text NAME FILE TEXT -- FILE contains TEXT (fixed string)
expect_text() {
	if grep -q -F -- "$3" "$2"; then ok "$1"; else fail "$1" "no '$3' in: $(head -c 300 "$2")"; fi
}

# ---- the reference server block, as it is ------------------------------------

# deploy/demo/nginx.conf is the server block of the setup mtlsd replaces, byte for
# byte (the container reads it as it is).  Here only its paths change.
PORT=$(free_port)
REF=$TMPD/nginx-ref.conf
sed -e "s,/etc/nginx/certs/server2,$PKI/server2,; s,/etc/nginx/certs/ca,$PKI/ca," \
	-e "s,listen 443 ssl,listen 127.0.0.1:$PORT ssl," -e "s,/var/www/html,$WWW," \
	deploy/demo/nginx.conf >"$REF"
changed=$(diff deploy/demo/nginx.conf "$REF" | grep -c '^>')
expect_eq "reference block: only the listen, certificate and root lines adapted" 5 "$changed"

run_mtlsd --nginx-conf "$REF" -t
expect_eq "reference block: -t exits 0" 0 "$RUN_RC"
expect_text "reference block: -t says the test is successful" "$RUN_ERR" \
	"mtlsd: configuration file $REF test is successful"
if port_open 127.0.0.1 "$PORT"; then fail "-t listens on nothing" "port $PORT is open"; else ok "-t listens on nothing"; fi

if PROBE=127.0.0.1:$PORT start_mtlsd --nginx-conf "$REF"; then
	get server1 "$PORT"
	if [ "$CODE" = 200 ] && cmp -s "$BODY" www/index.html; then
		ok "reference block: server1's certificate gets the page"
	else
		fail "reference block: server1's certificate gets the page" "status $CODE $(cat "$TMPD/curl.err")"
	fi
	get - "$PORT"
	expect_eq "reference block: no certificate gets 400" 400 "$CODE"
	expect_text "reference block: ... nginx's page for it" "$BODY" \
		"<title>400 No required SSL certificate was sent</title>"
	get selfsigned "$PORT"
	expect_eq "reference block: a self-signed certificate gets 400" 400 "$CODE"
	expect_text "reference block: ... nginx's page for it" "$BODY" \
		"<title>400 The SSL certificate error</title>"
	get other-client "$PORT"
	expect_eq "reference block: another CA's certificate gets 400" 400 "$CODE"
	if grep -q warning "$SERVER_ERR"; then
		fail "reference block: no warnings" "$(grep warning "$SERVER_ERR")"
	else
		ok "reference block: no warnings"
	fi
	stop_mtlsd
else
	fail "reference block: mtlsd --nginx-conf starts" "$(cat "$SERVER_ERR")"
fi

# ---- a whole nginx.conf ---------------------------------------------------------

PORT=$(free_port)
FULL=$TMPD/nginx-full.conf
cat >"$FULL" <<EOF
user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log $TMPD/error.log info;

events {
	worker_connections 768;
}

http {
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	include /etc/nginx/mime.types;
	default_type application/octet-stream;

	ssl_protocols TLSv1.2 TLSv1.3;
	ssl_prefer_server_ciphers on;
	ssl_session_cache shared:SSL:1m;
	ssl_session_timeout 10m;
	access_log $TMPD/access.log;
	keepalive_timeout 0;

	server {
		listen 127.0.0.1:$PORT ssl;
		server_name server2;
		ssl_certificate     "$PKI/server2.crt";
		ssl_certificate_key '$PKI/server2.key';
		ssl_client_certificate $PKI/ca.crt;   # the pinned CA
		ssl_verify_client on;
		ssl_verify_depth 1;
		client_header_timeout 20s;
		location / {
			root $WWW;
			index index.html;
		}
	}
}
EOF
if PROBE=127.0.0.1:$PORT start_mtlsd --nginx-conf "$FULL"; then
	get server1 "$PORT" -D "$TMPD/headers"
	expect_eq "full nginx.conf: the page" 200 "$CODE"
	expect_eq "full nginx.conf: keepalive_timeout 0 closes after one response" close \
		"$(hdr "$TMPD/headers" Connection)"
	get - "$PORT"
	expect_eq "full nginx.conf: no certificate gets 400" 400 "$CODE"
	for w in user worker_processes pid worker_connections "include /etc/nginx/mime.types" \
		ssl_protocols; do
		line=$(grep -n "^[[:space:]]*$w" "$FULL" | cut -d: -f1)
		expect_text "full nginx.conf: warns FILE:$line: \"$w\" ignored" "$SERVER_ERR" \
			"mtlsd: warning: $FULL:$line: \"$w\" ignored"
	done
	if wait_for_match "$TMPD/access.log" '^127\.0\.0\.1 - server1 .*"GET / HTTP/1\.1" 200 '; then
		ok "full nginx.conf: access_log FILE gets the line, CN as user"
	else
		fail "full nginx.conf: access_log FILE gets the line, CN as user" "$(cat "$TMPD/access.log" 2>&1)"
	fi
	if wait_for_match "$TMPD/error.log" 'client sent no required SSL certificate'; then
		ok "full nginx.conf: error_log FILE gets the refusals"
	else
		fail "full nginx.conf: error_log FILE gets the refusals" "$(cat "$TMPD/error.log" 2>&1)"
	fi
	expect_text "full nginx.conf: start-up lines stay on stderr" "$SERVER_ERR" "listening on 127.0.0.1:$PORT"
	stop_mtlsd
else
	fail "full nginx.conf: mtlsd starts" "$(cat "$SERVER_ERR")"
fi

# ---- refusals and -t ----------------------------------------------------------

BAD=$TMPD/nginx-bad.conf
sed 's,location / { root \([^;]*\); index index.html; },location / {\n    root \1;\n    proxy_pass http://127.0.0.1:8080;\n  },' \
	"$REF" >"$BAD"
line=$(grep -n proxy_pass "$BAD" | cut -d: -f1)
run_mtlsd --nginx-conf "$BAD"
expect_eq "proxy_pass: exit status 1" 1 "$RUN_RC"
expect_eq "proxy_pass: FILE:LINE: unsupported directive" \
	"mtlsd: $BAD:$line: unsupported directive \"proxy_pass\": mtlsd is a static file server: it does not proxy (keep nginx, or another proxy, for that)" "$(cat "$RUN_ERR")"
run_mtlsd --nginx-conf "$BAD" -t
expect_eq "proxy_pass: -t fails the same way" \
	"1 mtlsd: $BAD:$line: unsupported directive \"proxy_pass\": mtlsd is a static file server: it does not proxy (keep nginx, or another proxy, for that)" "$RUN_RC $(cat "$RUN_ERR")"

printf 'server {\n  listen 443 ssl;\n  location ~ \\.php$ { root /srv; }\n}\n' >"$TMPD/loc.conf"
run_mtlsd --nginx-conf "$TMPD/loc.conf" -t
expect_text "regular-expression location: refused" "$RUN_ERR" "$TMPD/loc.conf:3: unsupported directive \"location\": a regular-expression location"
printf 'server {\n  if ($request_method = POST) { return 405; }\n}\n' >"$TMPD/if.conf"
run_mtlsd --nginx-conf "$TMPD/if.conf" -t
expect_text "if (other than \$ssl_client_verify != SUCCESS): refused" "$RUN_ERR" "$TMPD/if.conf:2: unsupported directive \"if\": mtlsd takes \"if\" only on the client certificate"
printf 'http {\n  include %s/absent.conf;\n}\n' "$TMPD" >"$TMPD/inc.conf"
run_mtlsd --nginx-conf "$TMPD/inc.conf" -t
expect_text "include of a missing file: refused, naming it" "$RUN_ERR" "$TMPD/inc.conf:2: \"include $TMPD/absent.conf\": $TMPD/absent.conf: No such file or directory"

for mode in off optional optional_no_ca; do
	sed "s,ssl_verify_client on,ssl_verify_client $mode," "$REF" >"$TMPD/verify.conf"
	run_mtlsd --nginx-conf "$TMPD/verify.conf" -t
	if [ "$RUN_RC" = 1 ] && grep -q -F "\"ssl_verify_client $mode\" is refused: mtlsd always requires a client certificate" "$RUN_ERR"; then
		ok "ssl_verify_client $mode: refused with the reason"
	else
		fail "ssl_verify_client $mode: refused with the reason" "exit $RUN_RC: $(cat "$RUN_ERR")"
	fi
done

sed "s,$PKI/server2.crt,$PKI/missing.crt," "$REF" >"$TMPD/missing.conf"
run_mtlsd --nginx-conf "$TMPD/missing.conf" -t
if [ "$RUN_RC" = 1 ] && grep -q -F "missing.crt" "$RUN_ERR"; then
	ok "-t fails on a missing certificate, naming it"
else
	fail "-t fails on a missing certificate, naming it" "exit $RUN_RC: $(cat "$RUN_ERR")"
fi
run_mtlsd --nginx-conf "$TMPD/nonexistent.conf" -t
expect_eq "-t on a missing file: exit 1" 1 "$RUN_RC"
run_mtlsd --nginx-conf "$REF" --nginx-conf "$REF" -t
expect_eq "--nginx-conf twice: exit 2" 2 "$RUN_RC"
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$TMPD/huge.conf"
run_mtlsd --nginx-conf "$TMPD/huge.conf" -t
expect_text "a file over 1 MiB: refused" "$RUN_ERR" "larger than 1048576 bytes"

# Relative certificate paths are read from the file's directory, as nginx does.
sed -e "s,$PKI/,,g" "$REF" >"$PKI/relative.conf"
run_mtlsd --nginx-conf "$PKI/relative.conf" -t
expect_eq "relative certificate paths: from the file's directory" 0 "$RUN_RC"

# ---- the command line overrides the file ---------------------------------------------

PORT2=$(free_port)
if start_mtlsd --nginx-conf "$REF" -l "127.0.0.1:$PORT2" --index other.html \
	--verify-client strict; then
	if port_open 127.0.0.1 "$PORT"; then
		fail "-l replaces the file's listen" "$PORT is open too"
	else
		ok "-l replaces the file's listen"
	fi
	get server1 "$PORT2"
	expect_eq "--index overrides the file's index" "200 other index" "$CODE $(cat "$BODY")"
	get - "$PORT2"
	expect_eq "--verify-client strict overrides the file's on" 000 "$CODE"
	stop_mtlsd
else
	fail "overrides: mtlsd starts" "$(cat "$SERVER_ERR")"
fi

# ---- --version ----------------------------------------------------------------------

run_mtlsd --version
expect_text "--version: mtlsd's version" "$RUN_OUT" "mtlsd 0.1.0"
if command -v dpkg-query >/dev/null 2>&1 &&
	v=$(dpkg-query -W -f='${Version}\n' libbearssl-dev 2>/dev/null | head -n 1) && [ -n "$v" ]; then
	expect_text "--version: the BearSSL it was built with" "$RUN_OUT" "built with BearSSL $v"
else
	expect_text "--version: names BearSSL" "$RUN_OUT" "built with BearSSL "
fi

# ---- make install -------------------------------------------------------------------

DEST=$TMPD/dest
if make -s install DESTDIR="$DEST" PREFIX=/usr >"$TMPD/install.log" 2>&1; then
	ok "make install DESTDIR= PREFIX=/usr"
else
	fail "make install DESTDIR= PREFIX=/usr" "$(cat "$TMPD/install.log")"
fi
missing=
for f in usr/bin/mtlsd usr/share/man/man8/mtlsd.8 usr/share/man/man5/mtlsd-nginx.5 \
	usr/share/doc/mtlsd/examples/nginx.conf \
	etc/mtlsd/nginx.conf usr/lib/systemd/system/mtlsd.service usr/lib/sysusers.d/mtlsd.conf; do
	[ -f "$DEST/$f" ] || missing="$missing $f"
done
expect_eq "install: binary, man pages, example config, unit, sysusers" "" "$missing"
expect_eq "install: the binary is executable" 755 "$(stat -c %a "$DEST/usr/bin/mtlsd" 2>/dev/null)"
if grep -l '@[A-Z]*@' "$DEST/usr/lib/systemd/system/mtlsd.service" "$DEST/usr/share/man/man8/mtlsd.8" \
	"$DEST/usr/share/man/man5/mtlsd-nginx.5" 2>/dev/null; then
	fail "install: no @PLACEHOLDER@ left"
else
	ok "install: no @PLACEHOLDER@ left"
fi
expect_text "install: the unit starts the installed binary" "$DEST/usr/lib/systemd/system/mtlsd.service" \
	"ExecStart=/usr/bin/mtlsd --nginx-conf /etc/mtlsd/nginx.conf"
echo "# edited" >>"$DEST/etc/mtlsd/nginx.conf"
make -s install DESTDIR="$DEST" PREFIX=/usr >/dev/null 2>&1
expect_text "install again: an edited config is kept" "$DEST/etc/mtlsd/nginx.conf" "# edited"
"$DEST/usr/bin/mtlsd" --version >"$TMPD/v.out" 2>&1
expect_text "install: the installed binary runs" "$TMPD/v.out" "mtlsd 0.1.0"

# The example configuration is valid once its files exist.
mkdir -p "$TMPD/logs"
sed -e "s,/etc/mtlsd/certs/server.crt,$PKI/server2.crt," -e "s,/etc/mtlsd/certs/server.key,$PKI/server2.key," \
	-e "s,/etc/mtlsd/certs/ca.crt,$PKI/ca.crt," -e "s,/var/www/html,$WWW," -e "s,/var/log/mtlsd,$TMPD/logs," \
	"$DEST/usr/share/doc/mtlsd/examples/nginx.conf" >"$TMPD/example.conf"
run_mtlsd --nginx-conf "$TMPD/example.conf" -t
expect_eq "install: the example config passes -t (paths adapted)" "0 " "$RUN_RC $(grep -v 'test is successful\|syntax is ok' "$RUN_ERR")"

UNIT=$DEST/usr/lib/systemd/system/mtlsd.service
for k in NoNewPrivileges=yes ProtectSystem=strict AmbientCapabilities=CAP_NET_BIND_SERVICE \
	CapabilityBoundingSet=CAP_NET_BIND_SERVICE User=mtlsd RuntimeDirectory=mtlsd \
	'ExecReload=/usr/bin/mtlsd --nginx-conf /etc/mtlsd/nginx.conf --pid-file /run/mtlsd/mtlsd.pid -s reload'; do
	expect_text "unit: $k" "$UNIT" "$k"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify checks that ExecStart exists: point it at the DESTDIR copy.
	mkdir -p "$TMPD/unit"
	sed "s,/usr/bin/mtlsd,$DEST/usr/bin/mtlsd,g" "$UNIT" >"$TMPD/unit/mtlsd.service"
	if out=$(systemd-analyze verify --man=no "$TMPD/unit/mtlsd.service" 2>&1) && [ -z "$out" ]; then
		ok "unit: systemd-analyze verify"
	else
		fail "unit: systemd-analyze verify" "$out"
	fi
	level=$(systemd-analyze security --offline=yes --no-pager "$TMPD/unit/mtlsd.service" 2>&1 |
		sed -n 's/.*Overall exposure level for mtlsd.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
	case $level in
	*" OK") ok "unit: systemd-analyze security rates it OK ($level)" ;;
	*) fail "unit: systemd-analyze security rates it OK" "got '$level'" ;;
	esac
else
	skip "unit: systemd-analyze verify" "systemd-analyze is not installed (apt-get install systemd)"
fi
if command -v groff >/dev/null 2>&1; then
	out=$(groff -t -man -ww -z -Tutf8 "$DEST/usr/share/man/man8/mtlsd.8" 2>&1)
	expect_eq "man page: groff -ww finds nothing" "" "$out"
	groff -t -man -Tutf8 "$DEST/usr/share/man/man8/mtlsd.8" 2>/dev/null | sed 's/.\x08//g' >"$TMPD/man.txt"
	expect_text "man page: documents --nginx-conf" "$TMPD/man.txt" "--nginx-conf FILE"
	expect_text "man page: installed paths filled in" "$TMPD/man.txt" "/etc/mtlsd/nginx.conf"
	expect_text "man page: installed paths follow PREFIX" "$TMPD/man.txt" "/usr/lib/systemd/system/mtlsd.service"
else
	skip "man page: groff check" "groff is not installed (apt-get install groff-base)"
fi

# ---- make run, and make MUSL=1 before musl-tools ------------------------------------

# make run: the demo (its CA key is in certs/) listens on this machine only
run_cmds=$(make -n run 2>/dev/null)
if grep -q -- '^\./mtlsd -l 127\.0\.0\.1:8443 ' <<<"$run_cmds" && ! grep -q -- '^\./mtlsd -l 0\.0\.0\.0' <<<"$run_cmds"; then
	ok "make run: listens on 127.0.0.1:8443"
else
	fail "make run: listens on 127.0.0.1:8443" "$(grep -- 'mtlsd -l' <<<"$run_cmds")"
fi
if grep -q 'To serve other machines' <<<"$run_cmds" && grep -q -- '-l 0\.0\.0\.0:8443' <<<"$run_cmds"; then
	ok "make run: says how to expose it"
else
	fail "make run: says how to expose it" "$(grep echo <<<"$run_cmds" | head -n 8)"
fi

# make MUSL=1 once before musl-tools was installed (no musl-gcc, so no
# multiarch name): the include links it leaves must not stop later builds
if command -v musl-gcc >/dev/null 2>&1; then
	B=$TMPD/musl
	make MUSL=1 CC=no-such-musl-gcc BUILDDIR="$B" "$B/mtlsd" >"$TMPD/musl1.log" 2>&1
	rc=$?
	if [ $rc != 0 ] && grep -q 'install musl-tools' "$TMPD/musl1.log" && [ ! -e "$B/include" ]; then
		ok "make MUSL=1 without musl-gcc: fails, says to install musl-tools, makes no include links"
	else
		fail "make MUSL=1 without musl-gcc: says to install musl-tools" "exit $rc, $(tail -n 2 "$TMPD/musl1.log")"
	fi
	# what the earlier Makefile left behind: asm pointing at /usr/include//asm
	mkdir -p "$B/include"
	ln -sf /usr/include/bearssl.h /usr/include/bearssl /usr/include/linux /usr/include/asm-generic "$B/include/"
	ln -sf /usr/include//asm "$B/include/asm"
	if make MUSL=1 BUILDDIR="$B" "$B/mtlsd" >"$TMPD/musl2.log" 2>&1 && [ -x "$B/mtlsd" ] && [ -e "$B/include/asm/types.h" ]; then
		ok "make MUSL=1 after the install: a dangling build/musl/include/asm is remade, the build succeeds"
	else
		fail "make MUSL=1 after the install: dangling include links remade" "$(grep -v '^musl-gcc' "$TMPD/musl2.log" | tail -n 3)"
	fi
else
	skip "make MUSL=1 include links" "musl-tools is not installed"
fi

# ---- the container files ---------------------------------------------------------------

# No Docker engine runs here: check what can be checked without one.  The
# build context is the top directory (docker build -f deploy/Dockerfile .).
python3 - deploy/Dockerfile >"$TMPD/dockerfile.out" 2>&1 <<'EOF'
import fnmatch, glob, json, os, re, sys
stages, final, problems = [], None, []
ignored = [l.strip() for l in open('.dockerignore') if l.strip() and not l.startswith('#')]
lines = re.sub(r'\\\n', ' ', open(sys.argv[1]).read()).splitlines()
for line in lines:
    words = line.split()
    if not words or words[0].startswith('#'):
        continue
    op = words[0].upper()
    if op == 'FROM':
        final = {'image': words[1], 'user': None, 'expose': [], 'entrypoint': None}
        if len(words) >= 4 and words[2].upper() == 'AS':
            stages.append(words[3])
    elif op == 'COPY':
        args = [w for w in words[1:] if not w.startswith('--')]
        src, frm = args[:-1], [w for w in words[1:] if w.startswith('--from=')]
        if frm:
            if frm[0][7:] not in stages:
                problems.append('COPY --from=%s names no stage' % frm[0][7:])
            continue
        for s in src:
            hits = glob.glob(s.rstrip('/'))
            if not hits:
                problems.append('COPY %s: no such file' % s)
            for h in hits:
                if any(h == i or fnmatch.fnmatch(h, i) for i in ignored):
                    problems.append('COPY %s: excluded by .dockerignore' % h)
    elif op == 'USER':
        final['user'] = words[1]
    elif op == 'EXPOSE':
        final['expose'] += words[1:]
    elif op == 'ENTRYPOINT':
        final['entrypoint'] = json.loads(line.split(None, 1)[1])
    elif op == 'RUN':
        for args in re.findall(r'(?:RUN|&&|;)\s*make((?:\s+[\w.=/-]+)*)', line):
            if os.system('make -n %s >/dev/null 2>&1' % args):
                problems.append('RUN make%s: make -n fails here' % args)
print('stages:', ' '.join(stages))
print('final:', final['image'], 'user', final['user'], 'expose', ' '.join(final['expose']))
print('entrypoint:', final['entrypoint'])
for p in problems:
    print('problem:', p)
EOF
if grep -q '^problem:' "$TMPD/dockerfile.out" || ! grep -q '^final:' "$TMPD/dockerfile.out"; then
	fail "Dockerfile: COPY sources exist, --from names a stage, make targets exist" "$(cat "$TMPD/dockerfile.out")"
else
	ok "Dockerfile: COPY sources exist, --from names a stage, make targets exist"
fi
expect_text "Dockerfile: multi-stage, final image from scratch" "$TMPD/dockerfile.out" "final: scratch"
if grep -q -E '^final: .* user (root|0|0:0|None) ' "$TMPD/dockerfile.out"; then
	fail "Dockerfile: final image runs as non-root" "$(cat "$TMPD/dockerfile.out")"
else
	ok "Dockerfile: final image runs as non-root"
fi
expect_text "Dockerfile: exposes 443" "$TMPD/dockerfile.out" "expose 443"
expect_text "Dockerfile: runs the nginx.conf" "$TMPD/dockerfile.out" "entrypoint: ['/usr/sbin/mtlsd']"

if python3 -c 'import yaml' 2>/dev/null; then
	python3 - deploy/docker-compose.yml "$PKI" >"$TMPD/compose.out" 2>&1 <<'EOF'
import os, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
os.chdir(os.path.dirname(sys.argv[1]))  # compose's paths are relative to its file
s = d['services']
problems = []
if set(s) != {'server1', 'server2'}:
    problems.append('services: %s' % sorted(s))
b = s['server2'].get('build') or {}
if not isinstance(b, dict) or not os.path.samefile(b.get('context', '.'), '..') \
        or not os.path.samefile(os.path.join('..', b.get('dockerfile', '')), 'Dockerfile'):
    problems.append('server2 is not built from deploy/Dockerfile with the top directory as context')
if 'server2' not in s['server1'].get('depends_on', []):
    problems.append('server1 does not wait for server2')
if 'https://server2/' not in ' '.join(s['server1']['command']):
    problems.append('server1 does not fetch https://server2/')
for name, svc in s.items():
    for v in svc.get('volumes', []):
        host = v.split(':')[0]
        if host.startswith('./demo/certs/'):
            # made by tests/mkpki.sh, as the comment at the top says
            if not os.path.exists(os.path.join(sys.argv[2], host[len('./demo/certs/'):])):
                problems.append('%s: tests/mkpki.sh makes no %s' % (name, host))
        elif host != './demo/certs' and not os.path.exists(host):
            problems.append('%s: %s does not exist' % (name, host))
print('\n'.join('problem: ' + p for p in problems) or 'ok')
EOF
	expect_eq "deploy/docker-compose.yml: two hosts, server2 built here, mounts that exist" ok "$(cat "$TMPD/compose.out")"
else
	skip "deploy/docker-compose.yml: parse" "python3-yaml is not installed"
fi
if command -v docker-compose >/dev/null 2>&1; then
	if out=$(docker-compose -f deploy/docker-compose.yml config -q 2>&1); then
		ok "deploy/docker-compose.yml: docker-compose config accepts it"
	else
		fail "deploy/docker-compose.yml: docker-compose config accepts it" "$out"
	fi
else
	skip "deploy/docker-compose.yml: docker-compose config" "docker-compose is not installed"
fi
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
	skip "docker build" "an engine is here, but the build downloads base images; run it by hand"
else
	skip "docker build" "no Docker engine here; tests/netns.sh runs the image's layout in namespaces"
fi

summary
