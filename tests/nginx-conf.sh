#!/usr/bin/env bash
# tests/nginx-conf.sh -- --nginx-conf on real layouts: Debian's stock
# /etc/nginx (nginx.conf, its includes, the seed's server block in
# sites-available/default, linked from sites-enabled), then a plain-HTTP
# redirect server beside the mTLS one, whose answers must be nginx's byte
# for byte (but the date and the server token): against the nginx on this
# machine when there is one (NGINX=0: never), and against answers recorded
# from nginx 1.22.1 always.
#
#   bash tests/nginx-conf.sh     # against ./mtlsd (build it first)
#
# Prints one line per check and "N passed, N failed" last. A step that
# cannot run here is skipped with the reason; under CI=true a skip fails.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
TARGET=mtlsd
. tests/lib.sh

need_mtlsd
given_or_make_pki
TOKEN=mtlsd/$("${MTLSD_CMD[@]}" --version 2>/dev/null | head -n 1 | awk '{print $2}')

# skip_or_fail NAME REASON -- a step that cannot run here
skip_or_fail() {
	if [ "${CI:-}" = true ]; then fail "$1" "cannot run under CI=true: $2"; else skip "$1" "$2"; fi
}

cat >"$TMPD/raw.py" <<'EOF'
# raw.py PORT REQUEST -- sends REQUEST (\r \n escapes) over plain TCP, prints
# the answer with the Date header's value replaced by DATE.
import re, socket, sys
req = sys.argv[2].encode().decode('unicode_escape').encode('latin1')
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.sendall(req)
s.settimeout(3)
out = b''
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except socket.timeout:
    out += b'<timeout>'
out = re.sub(rb'\r\nDate: [^\r]*\r\n', b'\r\nDate: DATE\r\n', out)
sys.stdout.buffer.write(out)
EOF
raw() { python3 "$TMPD/raw.py" "$@"; }

# mtls_server PORT -- a server block's first lines, as the seed: mTLS on PORT
mtls_server() {
	printf 'server {\n  listen 127.0.0.1:%s ssl;\n  ssl_certificate %s;\n' "$1" "$PKI/server2.crt"
	printf '  ssl_certificate_key %s;\n  ssl_client_certificate %s;\n' "$PKI/server2.key" "$PKI/ca.crt"
	printf '  ssl_verify_client on;\n'
}

# ---- Debian's layout -------------------------------------------------------

WWW=$TMPD/www
mkdir -p "$WWW/sub" "$TMPD/log"
printf 'the page\n' >"$WWW/index.html"
if [ ! -f /etc/nginx/nginx.conf ] || [ ! -f /etc/nginx/mime.types ]; then
	skip_or_fail "Debian's stock /etc/nginx" "no /etc/nginx/nginx.conf here (apt-get install nginx-light)"
else
	ETC=$TMPD/etc-nginx
	cp -a /etc/nginx "$ETC"
	rm -rf "$ETC/sites-enabled" "$ETC/sites-available" "$ETC/conf.d"
	mkdir -p "$ETC/sites-enabled" "$ETC/sites-available" "$ETC/conf.d"
	# The stock file, with its absolute paths moved into this test's directory
	sed -e "s#/etc/nginx#$ETC#g" -e "s#/var/log/nginx#$TMPD/log#g" \
		-e "s#^pid .*#pid $TMPD/nginx.pid;#" /etc/nginx/nginx.conf >"$ETC/nginx.conf"
	PORT=$(free_port)
	# The seed's server block (deploy/demo/nginx.conf), with this test's files
	cat >"$ETC/sites-available/default" <<EOF
server {
  listen 127.0.0.1:$PORT ssl;
  server_name server2;
  ssl_certificate $PKI/server2.crt;
  ssl_certificate_key $PKI/server2.key;
  ssl_client_certificate $PKI/ca.crt;
  ssl_verify_client on;
  location / { root $WWW; index index.html; }
}
EOF
	ln -s "$ETC/sites-available/default" "$ETC/sites-enabled/default"
	out=$("${MTLSD_CMD[@]}" --nginx-conf "$ETC/nginx.conf" -t 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 0 ] && printf '%s' "$out" | grep -q "test is successful"; then
		ok "Debian's stock nginx.conf with the seed's site in sites-enabled: -t"
	else
		fail "Debian's stock nginx.conf: -t" "exit $rc: $out"
	fi
	expect_eq "the stock file's own directives are named in warnings, with their file" \
		"yes yes yes" \
		"$(grep -q "nginx.conf:1: \"user\" ignored" <<<"$out" && echo yes) $(grep -q 'nginx.conf:[0-9]*: "gzip on" ignored' <<<"$out" && echo yes) $(grep -q 'nginx.conf:[0-9]*: "include .*mime.types" ignored' <<<"$out" && echo yes)"
	# It serves: the page with a certificate, nginx's 400 without
	PROBE=127.0.0.1:$PORT start_mtlsd --nginx-conf "$ETC/nginx.conf"
	code=$(curl -s -o "$TMPD/body" -w '%{http_code}' --cacert "$PKI/ca.crt" \
		--cert "$PKI/server1.crt" --key "$PKI/server1.key" \
		--resolve "server2:$PORT:127.0.0.1" "https://server2:$PORT/")
	expect_eq "the site from sites-enabled serves the page" "200 the page" "$code $(cat "$TMPD/body")"
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" \
		--resolve "server2:$PORT:127.0.0.1" "https://server2:$PORT/")
	expect_eq "without a certificate: 400" "400" "$code"
	stop_mtlsd
	if grep -q '"GET / HTTP/1.1" 200' "$TMPD/log/access.log" 2>/dev/null; then
		ok "the stock file's access_log (http level) is written"
	else
		fail "the stock file's access_log" "$(cat "$TMPD/log/access.log" 2>&1)"
	fi
	# An error in an included file names it, and its line
	printf 'server {\n  listen 443 ssl;\n  auth_basic x;\n}\n' >"$ETC/conf.d/bad.conf"
	out=$("${MTLSD_CMD[@]}" --nginx-conf "$ETC/nginx.conf" -t 2>&1)
	expect_eq "an error in conf.d/bad.conf carries that file and line" \
		"mtlsd: $ETC/conf.d/bad.conf:3: unsupported directive \"auth_basic\"" \
		"$(grep -v warning <<<"$out")"
	rm "$ETC/conf.d/bad.conf"
	# A missing certificate: the configuration's file and line
	sed -i "s#$PKI/server2.key#$PKI/absent.key#" "$ETC/sites-available/default"
	out=$("${MTLSD_CMD[@]}" --nginx-conf "$ETC/nginx.conf" -t 2>&1)
	expect_eq "a missing key file is reported with the configuration's file and line" \
		"mtlsd: $ETC/sites-enabled/default:5: \"ssl_certificate_key $PKI/absent.key\": No such file or directory" \
		"$(grep -v warning <<<"$out")"
	# Debian's own default site (plain HTTP, serving files) is refused, saying why
	cp /etc/nginx/sites-available/default "$ETC/sites-available/stock" 2>/dev/null &&
		ln -sf "$ETC/sites-available/stock" "$ETC/sites-enabled/default" &&
		{
			out=$("${MTLSD_CMD[@]}" --nginx-conf "$ETC/nginx.conf" -t 2>&1)
			if grep -q "sites-enabled/default:[0-9]*: \"listen 0.0.0.0:80\" without \"ssl\": mtlsd serves TLS only" <<<"$out"; then
				ok "Debian's stock default site is refused with the reason"
			else
				fail "Debian's stock default site" "$out"
			fi
		}
fi

# ---- a plain-HTTP redirect server beside the mTLS one ------------------------

P301=$(free_port)
P302=$(free_port)
PTLS=$(free_port)
cat >"$TMPD/redirect.conf" <<EOF
http {
  server {
    listen 127.0.0.1:$P301;
    server_name example.org www.example.org;
    return 301 https://\$host\$request_uri;
  }
  server {
    listen 127.0.0.1:$P302;
    server_name example.org;
    location / { return 302 https://\$server_name:8443\$request_uri; }
  }
  server {
    listen 127.0.0.1:$PTLS ssl;
    ssl_certificate $PKI/server2.crt;
    ssl_certificate_key $PKI/server2.key;
    ssl_client_certificate $PKI/ca.crt;
    ssl_verify_client on;
    if (\$ssl_client_verify != "SUCCESS") { return 403; }
    root $WWW;
  }
}
EOF
PROBE="127.0.0.1:$PTLS 127.0.0.1:$P301 127.0.0.1:$P302" start_mtlsd --nginx-conf "$TMPD/redirect.conf"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" --cert "$PKI/server1.crt" \
	--key "$PKI/server1.key" --resolve "server2:$PTLS:127.0.0.1" "https://server2:$PTLS/")
expect_eq "the mTLS server after a redirect server serves the page" "200" "$code"

# page CODE TITLE -- nginx's page, with this server's token
page() { printf '<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>%s</center>\r\n</body>\r\n</html>\r\n' "$1" "$1" "$TOKEN"; }
# answer STATUS-LINE TITLE CONNECTION [LOCATION] [HEAD] -- nginx 1.22.1's answer, recorded
answer() {
	local body
	body=$(page "$2"; printf x)
	body=${body%x}
	printf 'HTTP/1.1 %s\r\nServer: %s\r\nDate: DATE\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: %s\r\n' \
		"$1" "$TOKEN" "${#body}" "$3"
	if [ -n "${4:-}" ]; then printf 'Location: %s\r\n' "$4"; fi
	printf '\r\n'
	if [ -z "${5:-}" ]; then printf '%s' "$body"; fi
}
redirect_case() {
	local name=$1 port=$2 req=$3 expected got
	expected=$(shift 3; answer "$@"; printf x)
	got=$(raw "$port" "$req"; printf x)
	if [ "$got" = "$expected" ]; then
		ok "redirect: $name"
	else
		fail "redirect: $name" "expected $(printf '%s' "$expected" | od -c | head -n 12) got $(printf '%s' "$got" | od -c | head -n 12)"
	fi
}
redirect_case "301 with \$host (port, final dot and case removed) and \$request_uri" "$P301" \
	'GET /a/b?x=1 HTTP/1.1\r\nHost: Foo.Example.ORG.:80\r\nConnection: close\r\n\r\n' \
	"301 Moved Permanently" "301 Moved Permanently" close "https://foo.example.org/a/b?x=1"
redirect_case "HTTP/1.0 without Host: \$host is the server_name" "$P301" \
	'GET / HTTP/1.0\r\n\r\n' \
	"301 Moved Permanently" "301 Moved Permanently" close "https://example.org/"
redirect_case "302 from location / with \$server_name: nginx's \"Moved Temporarily\" and \"Found\"" "$P302" \
	'GET /x HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n' \
	"302 Moved Temporarily" "302 Found" close "https://example.org:8443/x"
redirect_case "absolute form: its host, and \$request_uri without it" "$P301" \
	'GET http://abs.host/p%20q HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n' \
	"301 Moved Permanently" "301 Moved Permanently" close "https://abs.host/p%20q"
redirect_case "HEAD: the headers only" "$P301" \
	'HEAD /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n' \
	"301 Moved Permanently" "301 Moved Permanently" close "https://h/x" head
redirect_case "a request line nginx refuses: 400" "$P301" \
	'GET /p q HTTP/1.1\r\nHost: h\r\n\r\n' "400 Bad Request" "400 Bad Request" close
redirect_case "HTTP/1.1 without Host: 400" "$P301" \
	'GET / HTTP/1.1\r\n\r\n' "400 Bad Request" "400 Bad Request" close
redirect_case "a path above the root: 400" "$P301" \
	'GET /%2e%2e/../x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n' "400 Bad Request" "400 Bad Request" close
# keep-alive: two pipelined requests on one connection, as nginx answers them
expected=$(answer "301 Moved Permanently" "301 Moved Permanently" keep-alive "https://h/1"; answer "301 Moved Permanently" "301 Moved Permanently" close "https://h/2"; printf x)
got=$(raw "$P301" 'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'; printf x)
expect_eq "redirect: keep-alive and pipelining" "$expected" "$got"
# It serves nothing there, and holds no more than its slots
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$P301/index.html")
expect_eq "redirect port: a file's name is redirected, not served" "301 https://127.0.0.1/index.html" "$code"
python3 - "$P301" <<'EOF' >"$TMPD/flood.out" 2>&1
import socket, sys
socks = [socket.create_connection(('127.0.0.1', int(sys.argv[1]))) for _ in range(64)]
print(len(socks))
EOF
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Host: h' "http://127.0.0.1:$P301/y")
expect_eq "redirect port: answers again after 64 connections at once (it has 32 slots) closed" "301" "$code"
stop_mtlsd

# No heap calls while answering redirects (tests/malloc-count.so, as noalloc.sh)
if [ ! -f tests/malloc-count.so ] || [ -n "$EMULATOR" ] || [ "${MTLSD_CMD[0]}" != ./mtlsd ]; then
	skip "redirects without heap calls" "needs ./mtlsd natively and tests/malloc-count.so (make tests/malloc-count.so)"
else
	LD_PRELOAD=$PWD/tests/malloc-count.so MALLOC_COUNT_OUT=$TMPD/counts \
		PROBE="127.0.0.1:$PTLS 127.0.0.1:$P301 127.0.0.1:$P302" start_mtlsd --nginx-conf "$TMPD/redirect.conf"
	for i in $(seq 1 20); do
		raw "$P301" 'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n' >/dev/null
		raw "$P302" 'GET http://a/b?c HTTP/1.0\r\n\r\n' >/dev/null
		raw "$P301" 'GET /p q HTTP/1.1\r\n\r\n' >/dev/null
		raw "$P301" 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde' >/dev/null
	done
	python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(b"GET /"+b"a"*5000+b" HTTP/1.1\r\n\r\n"); print(s.recv(100)[:12])' "$P301" >/dev/null 2>&1
	stop_mtlsd
	serving=$(heap_calls)
	expect_eq "redirects: no heap calls while serving (malloc-count)" "0" "${serving:-none}"
fi

# The same requests to nginx, when it is here
if [ "${NGINX:-1}" = 0 ]; then
	skip "the same redirects against nginx" "NGINX=0"
elif ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
	skip_or_fail "the same redirects against nginx" "no nginx here (apt-get install nginx-light)"
else
	NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
	N301=$(free_port)
	N302=$(free_port)
	mkdir -p "$TMPD/nginx"
	cat >"$TMPD/nginx/nginx.conf" <<EOF
pid $TMPD/nginx/pid;
error_log $TMPD/nginx/error.log;
events { }
http {
  access_log off;
  client_body_temp_path $TMPD/nginx/body;
  server { listen 127.0.0.1:$N301; server_name example.org www.example.org; return 301 https://\$host\$request_uri; }
  server { listen 127.0.0.1:$N302; server_name example.org; location / { return 302 https://\$server_name:8443\$request_uri; } }
}
EOF
	if ! "$NGINX_BIN" -p "$TMPD/nginx" -c "$TMPD/nginx/nginx.conf" >"$TMPD/nginx/start.log" 2>&1; then
		skip_or_fail "the same redirects against nginx" "nginx did not start: $(cat "$TMPD/nginx/start.log")"
	else
		PROBE="127.0.0.1:$PTLS 127.0.0.1:$P301 127.0.0.1:$P302" start_mtlsd --nginx-conf "$TMPD/redirect.conf"
		for req in 'GET /a/b?x=1 HTTP/1.1\r\nHost: Foo.Example.ORG.:80\r\nConnection: close\r\n\r\n' \
			'GET / HTTP/1.0\r\n\r\n' 'BREW /q?a HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n' \
			'GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n' 'GET /a/../b HTTP/1.0\r\nHost: h\r\n\r\n'; do
			for pair in "301 $P301 $N301" "302 $P302 $N302"; do
				read -r which pm pn <<<"$pair"
				a=$(raw "$pm" "$req" | sed "s#$TOKEN#TOKEN#g" | grep -av '^Content-Length:'; printf x)
				b=$(raw "$pn" "$req" | sed "s#nginx/[0-9.]*#TOKEN#g" | grep -av '^Content-Length:'; printf x)
				expect_eq "as nginx on this machine: ${req%%\\r*} (the $which server)" "$b" "$a"
			done
		done
		stop_mtlsd
		kill "$(cat "$TMPD/nginx/pid")" 2>/dev/null
	fi
fi

# ---- add_header: the same headers, in the same place, as nginx ----------------

AH=$(free_port)
cat >"$TMPD/headers.conf" <<EOF
$(mtls_server $AH)
  root $WWW;
  add_header X-Frame-Options DENY;
  add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
  charset utf-8;
}
EOF
printf 'text\n' >"$WWW/a.txt"
printf 'png' >"$WWW/a.png"
# heads PORT -- the heads of five answers, with what differs by server masked
heads() {
	local path
	for path in "/" "/missing" "/sub" "/index.html -H Range:bytes=0-1" \
		"/index.html -H If-None-Match:*" "/a.txt" "/a.png"; do
		# shellcheck disable=SC2086 # path carries curl's extra words
		curl -s -o /dev/null -D - --cacert "$PKI/ca.crt" --cert "$PKI/server1.crt" \
			--key "$PKI/server1.key" --resolve "server2:$1:127.0.0.1" "https://server2:$1"$path
	done | sed -e 's/^Date: .*/Date: DATE/' -e "s#$TOKEN#TOKEN#g" -e 's#nginx/[0-9.]*#TOKEN#g' \
		-e "s#:$1/#:PORT/#" | grep -av '^Content-Length:'
}
PROBE="127.0.0.1:$AH" start_mtlsd --nginx-conf "$TMPD/headers.conf"
heads "$AH" >"$TMPD/heads.mtlsd"
stop_mtlsd
if grep -q '^X-Frame-Options: DENY' "$TMPD/heads.mtlsd" &&
	[ "$(grep -c '^Strict-Transport-Security: ' "$TMPD/heads.mtlsd")" = 7 ] &&
	[ "$(grep -c '^X-Frame-Options: ' "$TMPD/heads.mtlsd")" = 6 ] &&
	[ "$(grep -c '^Content-Type: text/html; charset=utf-8' "$TMPD/heads.mtlsd")" = 3 ] &&
	grep -q '^Content-Type: text/plain; charset=utf-8' "$TMPD/heads.mtlsd" &&
	grep -q '^Content-Type: image/png' "$TMPD/heads.mtlsd"; then
	ok "add_header: on 200, 206, 301 and 304; with always on the 404 too; charset on text types"
else
	fail "add_header" "$(tr '\r\n' '  ' <"$TMPD/heads.mtlsd")"
fi
if [ -n "${NGINX_BIN:-}" ]; then
	mkdir -p "$TMPD/nginx2"
	{
		# as root, nginx's workers would be nobody, who cannot read this test's files
		if [ "$(id -u)" = 0 ]; then printf 'user root;\n'; fi
		printf 'pid %s/nginx2/pid;\nerror_log %s/nginx2/error.log;\nevents { }\nhttp {\n access_log off;\n' "$TMPD" "$TMPD"
		printf ' client_body_temp_path %s/nginx2/body;\n' "$TMPD"
		printf ' include /etc/nginx/mime.types;\n default_type application/octet-stream;\n' 
		cat "$TMPD/headers.conf"
		printf '}\n'
	} >"$TMPD/nginx2/nginx.conf"
	if "$NGINX_BIN" -p "$TMPD/nginx2" -c "$TMPD/nginx2/nginx.conf" >"$TMPD/nginx2/start.log" 2>&1; then
		sleep 0.2
		heads "$AH" >"$TMPD/heads.nginx"
		kill "$(cat "$TMPD/nginx2/pid")" 2>/dev/null
		expect_eq "add_header and charset: the seven heads as nginx's on this machine" \
			"$(cat "$TMPD/heads.nginx")" "$(cat "$TMPD/heads.mtlsd")"
	else
		skip_or_fail "add_header against nginx" "nginx did not start: $(cat "$TMPD/nginx2/start.log")"
	fi
fi

# ---- locations and identities: the same answers as nginx ---------------------

LW=$TMPD/lw
mkdir -p "$LW/www/sub" "$LW/www/app" "$LW/www/static" "$LW/www/priv" "$LW/www/epoch" \
	"$LW/alias/inner"
printf 'root index\n' >"$LW/www/index.html"
printf 'sub index\n' >"$LW/www/sub/index.html"
printf 'app shell\n' >"$LW/www/app/index.html"
printf 'css{}\n' >"$LW/www/static/s.css"
printf 'js\n' >"$LW/www/static/s.js"
printf 'md\n' >"$LW/www/static/r.md"
printf 'secret\n' >"$LW/www/priv/p.txt"
printf 'e\n' >"$LW/www/epoch/index.html"
printf 'text\n' >"$LW/www/a.txt"
printf 'exact\n' >"$LW/www/exact.txt"
printf 'aliased\n' >"$LW/alias/a.txt"
printf 'aliased index\n' >"$LW/alias/index.htm"
printf 'fav\n' >"$LW/alias/fav.ico"
LP=$(free_port)
# Two configurations: the location kinds and what they hold; identities and
# the index's internal redirect. Requests are made with two client
# certificates, CN=server1 and CN=ec-client.
cat >"$TMPD/loc1.conf" <<EOF
map \$ssl_client_s_dn \$ssl_client_s_dn_cn { default ""; ~(^|,)CN=(?<CN>[^,]+) \$CN; }
map \$ssl_client_s_dn_cn \$allowed { default 0; server1 1; }
map \$ssl_client_s_dn \$cn2 { default ""; ~[/,]?CN=(?<CN>[^/,]+) \$CN; }
map \$cn2 \$ok2 { default "no"; ~^server1\$ "yes"; }
map \$ssl_client_s_dn \$lastv { default "x"; ~^.*=(?<CN>.*)\$ \$CN; }
$(mtls_server $LP)
  root $LW/www;
  add_header X-Server yes;
  location / { index index.html; }
  location = /exact.txt { add_header X-Exact 1 always; default_type text/plain; }
  location /static/ { expires 1h; add_header X-Static s; types { text/plain md; text/css css; } default_type application/x-unknown; charset utf-8; }
  location ^~ /files/ { alias $LW/alias/; index index.htm; }
  location = /favicon.ico { alias $LW/alias/fav.ico; expires max; }
  location /app/ { try_files \$uri \$uri/ /app/index.html; }
  location /try404/ { try_files \$uri =404; }
  location /gone { return 410; }
  location /hello { return 200 "hello \$host \$request_uri \$scheme\n"; }
  location /moved { return 301 https://\$host/new\$request_uri; }
  location /rel { return 302 /elsewhere; }
  location /denied/ { deny all; }
  location /local/ { allow 127.0.0.1; deny all; }
  location /other/ { allow 10.0.0.0/8; deny all; }
  location /priv/ { if (\$ssl_client_s_dn !~ "CN=server1") { return 403; } }
  location /priv2/ { if (\$allowed = 0) { return 403; } root $LW/www; }
  location /epoch/ { expires epoch; }
  location /multi/ { alias $LW/alias/; index none.html index.htm; }
  location /multi2/ { alias $LW/alias/; index none.html none2.html; }
  location /priv3/ { if (\$ok2 = no) { return 403; } alias $LW/www/priv/; }
  location /last { if (\$lastv = ES) { return 200 "es"; } return 404; }
}
EOF
cat >"$TMPD/loc2.conf" <<EOF
map \$ssl_client_s_dn \$who { default none; "CN=server1,OU=TEST,O=ORG,L=Spain,ST=Spain,C=ES" s1; ~*cn=EC-client ec; }
$(mtls_server $LP)
  root $LW/www;
  if (\$who = none) { return 401; }
  location = / { add_header X-Root 1; }
  location / { add_header X-Slash 1; }
  location = /index.html { add_header X-Index 1; }
  location /r200 { return 200; }
  location /r204 { return 204; }
  location /r403t { return 403 "no way"; }
  location /sub/ { try_files \$uri/ =403; }
  location /ec/ { if (\$who != ec) { return 404; } alias $LW/alias/; }
  location /s1 { if (\$who = s1) { return 302 https://elsewhere/; } return 200 "not s1"; }
  location /denyal/ { deny all; add_header X-A 1 always; add_header X-B 2; }
  location /static/ { }
}
EOF
# answers PORT CERT PATH... -- heads and bodies, with what differs by server
# masked (dates, the token, and so the length of error pages)
answers() {
	local port=$1 cert=$2 path
	shift 2
	for path in "$@"; do
		printf '== %s\n' "$path"
		# shellcheck disable=SC2086 # path may carry curl's extra words
		curl -s -D - --cacert "$PKI/ca.crt" --cert "$PKI/$cert.crt" --key "$PKI/$cert.key" \
			--resolve "server2:$port:127.0.0.1" -H 'Host: Ex.Com:99' "https://server2:$port"$path
		printf '\n'
	done | sed -e 's/^Date: .*/Date: DATE/' -e 's/^Expires: .*/Expires: DATE/' \
		-e "s#$TOKEN#TOKEN#g" -e 's#nginx/[0-9.]*#TOKEN#g' | grep -av '^Content-Length: 1[4-6][0-9]'
}
LOC1_PATHS=(/ /index.html /exact.txt /exact.txt/ /static/s.css /static/r.md /static/s.js
	/static/none /files/ /files/a.txt /files/inner /files/inner/ /favicon.ico /app/ /app/x/y
	/try404/x /gone /gone/x "/hello?q=1" "/moved?a" /rel /denied/x /local/ /other/x
	/priv/p.txt /priv2/ /epoch/ /sub /missing "/hello -I" /priv3/p.txt /last /multi/ /multi2/)
LOC2_PATHS=(/ /index.html /r200 /r204 /r403t /sub/ /sub /sub/index.html /ec/a.txt /s1
	/denyal/x /static "/a.txt -I")
mkdir -p "$LW/www/err"
printf 'custom 404\n' >"$LW/www/err/404.html"
printf 'custom 50x\n' >"$LW/www/50x.html"
cat >"$TMPD/loc3.conf" <<EOF
$(mtls_server $LP)
  root $LW/www;
  add_header X-S 1;
  error_page 404 /err/404.html;
  error_page 500 502 503 504 /50x.html;
  location = /50x.html { add_header X-50 1; }
  location /e500 { return 500; }
  location /e503t { return 503 "text"; }
  location /deny/ { deny all; error_page 403 =200 /index.html; }
  location /lost/ { error_page 404 /nothere.html; }
  location /loc404/ { error_page 404 =404 /err/404.html; add_header X-L 1; }
  location /redir/ { error_page 404 https://elsewhere/; }
  location /tf/ { try_files \$uri =404; }
  location = /err/404.html { internal; }
  location /int/ { internal; error_page 404 /50x.html; }
}
EOF
LOC3_PATHS=(/missing /e500 /e503t /deny/x /lost/x /loc404/x /redir/x /tf/x /err/404.html /int/x "/missing -I"
	"/missing -H Range:bytes=0-2" "/missing -H If-None-Match:*")
# autoindex: names that need escaping, cutting and sorting, as nginx lists them
AI=$LW/aiw
N=$AI/names
mkdir -p "$N/sub dir/inner" "$N/empty" "$N/d<&\"x" "$AI/off" "$AI/idx" "$AI/tf/t"
printf 'i\n' >"$AI/idx/index.html"
printf 'o\n' >"$AI/off/o.txt"
printf 'r\n' >"$AI/top.txt"
printf 'space\n' >"$N/a b.txt"
printf 'lt amp\n' >"$N/x<y&z>.txt"
printf 'pct\n' >"$N/100%%+q'\"~_.txt"
printf 'utf8\n' >"$N/été-ñ.txt"
printf 'long\n' >"$N/$(printf 'L%.0s' $(seq 60)).txt"
printf 'long utf8\n' >"$N/$(printf 'é%.0s' $(seq 55)).txt"
mkdir -p "$N/$(printf 'D%.0s' $(seq 49))" "$N/$(printf 'E%.0s' $(seq 50))" "$N/Zdir"
head -c 123457 /dev/zero >"$N/big.bin"
printf 'h\n' >"$N/.hidden"
printf 'B\n' >"$N/B.txt"
printf 'in\n' >"$N/sub dir/in.txt"
ln -s "sub dir" "$N/link-to-dir"
ln -s nowhere "$N/dangling"
touch -h -d '2021-03-04 05:06:07 UTC' "$N"/* "$N/sub dir"/*
cat >"$TMPD/loc4.conf" <<EOF
$(mtls_server $LP)
  root $AI;
  autoindex on;
  location /off/ { autoindex off; }
  location /u8/ { alias $N/; charset utf-8; }
  location /tf/ { try_files \$uri/ =404; }
  location /hdr/ { alias $N/; add_header X-L 1; expires 1h; }
}
EOF
LOC4_PATHS=(/ /names/ /names "/names/sub%20dir/" /names/empty/ "/names/d%3C&%22x/" /names/nope/ /off/
	/idx/ /u8/ /u8/empty/ /tf/t /tf/t/ /hdr/ "/names/ -I" "/names/ -H If-None-Match:*"
	"/names/ -H Range:bytes=0-5" "/names/ -H If-Modified-Since:x" "/names/ -H If-Match:*")
for n in 1 2 3 4; do
	out=$("${MTLSD_CMD[@]}" --nginx-conf "$TMPD/loc$n.conf" -t 2>&1)
	expect_eq "locations, configuration $n: -t, no warning" "0" \
		"$(grep -c -v -e 'test is successful' -e 'syntax is ok' <<<"$out")"
	PROBE="127.0.0.1:$LP" start_mtlsd --nginx-conf "$TMPD/loc$n.conf"
	declare -n paths=LOC${n}_PATHS
	for cert in server1 ec-client; do
		answers "$LP" "$cert" "${paths[@]}" >"$TMPD/loc$n.$cert.mtlsd"
	done
	# A listing has no date or tag to meet these: 412 (mtlsd closes after it)
	[ "$n" != 4 ] || answers "$LP" server1 "/names/ -H If-Match:x" \
		"/names/ -H If-Unmodified-Since:x" >"$TMPD/loc4.412"
	stop_mtlsd
done
# Without nginx too, the answers that must be there
if grep -q '^X-Static: s' "$TMPD/loc1.server1.mtlsd" &&
	grep -q '^Content-Type: text/plain; charset=utf-8' "$TMPD/loc1.server1.mtlsd" &&
	grep -q '^hello ex.com /hello?q=1 https' "$TMPD/loc1.server1.mtlsd" &&
	grep -q '^aliased index' "$TMPD/loc1.server1.mtlsd" &&
	grep -q '^secret' "$TMPD/loc1.server1.mtlsd" && ! grep -q '^secret' "$TMPD/loc1.ec-client.mtlsd" &&
	grep -q '^Location: https://ex.com/new/moved?a' "$TMPD/loc1.server1.mtlsd" &&
	! grep -q '^HTTP/1.1 401' "$TMPD/loc2.server1.mtlsd" &&
	grep -q '^HTTP/1.1 404' "$TMPD/loc2.server1.mtlsd" &&
	[ "$(grep -c '^custom 404' "$TMPD/loc3.server1.mtlsd")" = 6 ]; then
	ok "locations: headers, types, return, alias, identities and error pages as configured"
else
	fail "locations" "$(head -c 3000 "$TMPD/loc1.server1.mtlsd")"
fi
if grep -q '^<head><title>Index of /names/d&lt;&amp;&quot;x/</title></head>' "$TMPD/loc4.server1.mtlsd" &&
	grep -q '^<a href="a%20b.txt">a b.txt</a>  *04-Mar-2021 05:06  *6' "$TMPD/loc4.server1.mtlsd" &&
	grep -q '^<a href="x%3Cy%26z%3E.txt">x&lt;y&amp;z&gt;.txt</a> ' "$TMPD/loc4.server1.mtlsd" &&
	grep -q 'LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL\.\.&gt;</a> ' "$TMPD/loc4.server1.mtlsd" &&
	grep -q '^<a href="sub%20dir/">sub dir/</a>  *04-Mar-2021 05:06  *-' "$TMPD/loc4.server1.mtlsd" &&
	! grep -q 'hidden' "$TMPD/loc4.server1.mtlsd" &&
	[ "$(grep -c '^HTTP/1.1 403' "$TMPD/loc4.server1.mtlsd")" = 1 ] &&
	[ "$(grep -c '^HTTP/1.1 412' "$TMPD/loc4.412")" = 2 ]; then
	ok "autoindex: directories listed with names escaped and cut, dotfiles hidden, off where set"
else
	fail "autoindex" "$(head -c 3000 "$TMPD/loc4.server1.mtlsd")"
fi
if [ -n "${NGINX_BIN:-}" ]; then
	for n in 1 2 3 4; do
		mkdir -p "$TMPD/nginx-loc$n"
		{
			if [ "$(id -u)" = 0 ]; then printf 'user root;\n'; fi
			printf 'pid %s/nginx-loc%s/pid;\nerror_log %s/nginx-loc%s/error.log;\nevents { }\nhttp {\n access_log off;\n' \
				"$TMPD" "$n" "$TMPD" "$n"
			printf ' client_body_temp_path %s/nginx-loc%s/body;\n' "$TMPD" "$n"
			printf ' include /etc/nginx/mime.types;\n default_type application/octet-stream;\n'
			cat "$TMPD/loc$n.conf"
			printf '}\n'
		} >"$TMPD/nginx-loc$n/nginx.conf"
		if "$NGINX_BIN" -p "$TMPD/nginx-loc$n" -c "$TMPD/nginx-loc$n/nginx.conf" \
			>"$TMPD/nginx-loc$n/start.log" 2>&1; then
			sleep 0.2
			declare -n paths=LOC${n}_PATHS
			for cert in server1 ec-client; do
				answers "$LP" "$cert" "${paths[@]}" >"$TMPD/loc$n.$cert.nginx"
			done
			kill "$(cat "$TMPD/nginx-loc$n/pid")" 2>/dev/null
			sleep 0.3
			for cert in server1 ec-client; do
				# A listing: nginx sends it chunked, mtlsd with its length
				[ "$n" != 4 ] || sed -i -e '/^Transfer-Encoding: chunked/d' -e '/^Content-Length: /d' \
					"$TMPD/loc$n.$cert.nginx" "$TMPD/loc$n.$cert.mtlsd"
				if diff "$TMPD/loc$n.$cert.nginx" "$TMPD/loc$n.$cert.mtlsd" >"$TMPD/loc.diff"; then
					ok "locations, configuration $n, client $cert: ${#paths[@]} answers as nginx's on this machine"
				else
					fail "locations, configuration $n, client $cert: as nginx" "$(head -n 40 "$TMPD/loc.diff")"
				fi
			done
		else
			skip_or_fail "locations against nginx" "nginx did not start: $(cat "$TMPD/nginx-loc$n/start.log")"
		fi
	done
fi

# A location's missing directory: -t says where
sed "s#alias $LW/alias/;#alias $LW/absent/;#" "$TMPD/loc1.conf" >"$TMPD/loc-absent.conf"
out=$("${MTLSD_CMD[@]}" --nginx-conf "$TMPD/loc-absent.conf" -t 2>&1)
expect_eq "a location's missing alias directory: -t names the file and line" \
	"mtlsd: $TMPD/loc-absent.conf:17: \"alias $LW/absent/\": No such file or directory" "$out"

# A reload opens a location's alias directory again, as it does the root:
# a release swapped in by a symlink is served from then on
mkdir -p "$TMPD/release2"
printf 'release 2\n' >"$TMPD/release2/a.txt"
ln -sfn "$LW/alias" "$TMPD/current"
sed "/location ^~ \/files\//s#alias $LW/alias/;#alias $TMPD/current/;#" "$TMPD/loc1.conf" >"$TMPD/loc-swap.conf"
PROBE="127.0.0.1:$LP" start_mtlsd --nginx-conf "$TMPD/loc-swap.conf"
swap_get() {
	curl -s --cacert "$PKI/ca.crt" --cert "$PKI/server1.crt" --key "$PKI/server1.key" \
		--resolve "server2:$LP:127.0.0.1" "https://server2:$LP/files/a.txt"
}
before=$(swap_get)
ln -sfn "$TMPD/release2" "$TMPD/current.new"
mv -T "$TMPD/current.new" "$TMPD/current"
unchanged=$(swap_get)
kill -HUP "$SERVER_PID"
if wait_for_match "$SERVER_ERR" "reload: location /files/: alias $TMPD/current/ is another directory now; serving it" 5; then
	ok "a reload with a location's alias moved: logged"
else
	fail "a reload with a location's alias moved: logged" "$(tail -n 3 "$SERVER_ERR")"
fi
expect_eq "a location's alias swapped by a symlink: the old one until a reload, then the new" \
	"aliased|aliased|release 2" "$before|$unchanged|$(swap_get)"
stop_mtlsd

# --sandbox: a location's alias outside the root stays readable
PROBE="127.0.0.1:$LP" start_mtlsd --nginx-conf "$TMPD/loc1.conf" --sandbox
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" --cert "$PKI/server1.crt" \
	--key "$PKI/server1.key" --resolve "server2:$LP:127.0.0.1" "https://server2:$LP/files/a.txt")
stop_mtlsd
if grep -q "sandboxed with Landlock" "$SERVER_ERR" 2>/dev/null; then
	expect_eq "--sandbox: a location's alias outside the root is readable" "200" "$code"
else
	skip "--sandbox with an alias outside the root" "no Landlock here"
fi

# autoindex under --sandbox, and past its bound: 500 and a line naming both
mkdir -p "$AI/many"
(cd "$AI/many" && seq -f 'f%g' 1 4097 | xargs touch)
PROBE="127.0.0.1:$LP" start_mtlsd --nginx-conf "$TMPD/loc4.conf" --sandbox
for p in /names/ /many/; do
	curl -s -o /dev/null -w '%{http_code} ' --cacert "$PKI/ca.crt" --cert "$PKI/server1.crt" \
		--key "$PKI/server1.key" --resolve "server2:$LP:127.0.0.1" "https://server2:$LP$p"
done >"$TMPD/ai.codes"
stop_mtlsd
expect_eq "autoindex: a listing (under --sandbox when there is Landlock), and 500 past 4096 entries" \
	"200 500 " "$(cat "$TMPD/ai.codes")"
if grep -q 'autoindex: the directory of "/many/" has more than 4096 entries' "$SERVER_ERR"; then
	ok "autoindex: past the bound, the error log names the directory and the bound"
else
	fail "autoindex: the error log line past the bound" "$(tail -n 5 "$SERVER_ERR")"
fi

# autoindex with --root-per-client: the client's own directory is listed
mkdir -p "$TMPD/rpc/server1/d" "$TMPD/rpc/d"
printf 'mine\n' >"$TMPD/rpc/server1/d/mine.txt"
printf 'other\n' >"$TMPD/rpc/d/other.txt"
sed -e "s#root $AI;#root $TMPD/rpc;#" "$TMPD/loc4.conf" >"$TMPD/rpc.conf"
PROBE="127.0.0.1:$LP" start_mtlsd --nginx-conf "$TMPD/rpc.conf" --root-per-client
out=$(curl -s --cacert "$PKI/ca.crt" --cert "$PKI/server1.crt" --key "$PKI/server1.key" \
	--resolve "server2:$LP:127.0.0.1" "https://server2:$LP/d/")
stop_mtlsd
case $out in
*'<a href="mine.txt">mine.txt</a>'*) [[ $out == *other.txt* ]] && out="other's: $out" ;;
esac
case $out in
"other's"*|"") fail "autoindex with --root-per-client: the client's directory" "$out" ;;
*'<a href="mine.txt">mine.txt</a>'*) ok "autoindex with --root-per-client: the client's own directory is listed" ;;
*) fail "autoindex with --root-per-client: the client's directory" "$out" ;;
esac

# No heap calls while answering through the location table
if [ ! -f tests/malloc-count.so ] || [ -n "$EMULATOR" ] || [ "${MTLSD_CMD[0]}" != ./mtlsd ]; then
	skip "locations without heap calls" "needs ./mtlsd natively and tests/malloc-count.so (make tests/malloc-count.so)"
else
	for n in 1 2 3 4; do
		rm -f "$TMPD/counts"
		LD_PRELOAD=$PWD/tests/malloc-count.so MALLOC_COUNT_OUT=$TMPD/counts \
			PROBE="127.0.0.1:$LP" start_mtlsd --nginx-conf "$TMPD/loc$n.conf"
		declare -n paths=LOC${n}_PATHS
		for cert in server1 ec-client; do
			answers "$LP" "$cert" "${paths[@]}" >/dev/null
		done
		stop_mtlsd
		serving=$(awk '$1 == "serving" { print $2 }' "$TMPD/counts" 2>/dev/null)
		expect_eq "locations, configuration $n: no heap calls while serving (malloc-count)" "0" "${serving:-none}"
	done
fi

if grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TMPD"/server.*.err >/dev/null 2>&1; then
	fail "sanitizer reports on the server's stderr" "$(grep -h -E 'ERROR:|runtime error:' "$TMPD"/server.*.err | head -n 3)"
else
	ok "no sanitizer reports on the server's stderr"
fi

summary
