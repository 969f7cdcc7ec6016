#!/usr/bin/env bash
# tests/netns.sh -- the two-host demo of deploy/docker-compose.yml without Docker.
#
# server2 and server1 are two network namespaces joined by a veth pair
# (10.77.0.2 and 10.77.0.1, which exist only inside them).  server2 runs
# what the container image holds, the way Docker would run it: the static
# binary (make STATIC=1, as deploy/Dockerfile builds it) chrooted into a
# directory that has nothing but it, deploy/demo/nginx.conf byte for byte at
# /etc/nginx/nginx.conf, the reference certificates in /etc/nginx/certs and
# www/ in /var/www/html; as uid 65532, on port 443 thanks to
# net.ipv4.ip_unprivileged_port_start=0 in its namespace.  server1 runs curl
# with valid, no, self-signed, other-CA and expired certificates.
#
# Needs root and iproute2.  Where `ip netns add` is not permitted it skips
# with a message, except under CI=true, where it must run.  The namespaces
# are removed on every exit.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

NS1=mtlsd-server1-$$
NS2=mtlsd-server2-$$
NS_MADE=()
SERVER1_IP=10.77.0.1
SERVER2_IP=10.77.0.2

cleanup_netns() {
	local ns
	[ -n "${SERVER_PID:-}" ] && stop_mtlsd
	for ns in "${NS_MADE[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	_cleanup
}
trap cleanup_netns EXIT

cannot_run() {
	if [ "${CI:-}" = true ]; then
		fail "two hosts in network namespaces" "$1 (CI must run this test)"
	else
		skip "two hosts in network namespaces" "$1"
	fi
	summary
	exit
}

command -v ip >/dev/null 2>&1 || cannot_run "ip (iproute2) is not installed"
[ "$(id -u)" = 0 ] || cannot_run "not root: network namespaces need root"
if ! err=$(ip netns add "$NS1" 2>&1); then
	cannot_run "ip netns add is not permitted here: $err"
fi
NS_MADE+=("$NS1")
ip netns add "$NS2" || cannot_run "ip netns add $NS2 failed"
NS_MADE+=("$NS2")

# One cable between the two hosts.
if ! out=$( {
	ip link add m1-$$ netns "$NS1" type veth peer name m2-$$ netns "$NS2" &&
		ip -n "$NS1" addr add "$SERVER1_IP/24" dev m1-$$ &&
		ip -n "$NS2" addr add "$SERVER2_IP/24" dev m2-$$ &&
		ip -n "$NS1" link set m1-$$ up && ip -n "$NS2" link set m2-$$ up &&
		ip -n "$NS1" link set lo up && ip -n "$NS2" link set lo up &&
		ip netns exec "$NS2" sysctl -q -w net.ipv4.ip_unprivileged_port_start=0
} 2>&1); then
	fail "two hosts: veth pair and addresses" "$out"
	summary
	exit
fi
ok "two hosts: $NS1 ($SERVER1_IP) and $NS2 ($SERVER2_IP) joined by a veth pair"

# ---- server2's file system: the container image's -----------------------------------

STATIC_BIN=build/static/mtlsd
if ! out=$(make -s STATIC=1 BUILDDIR=build/static "$STATIC_BIN" 2>&1); then
	fail "make STATIC=1 BUILDDIR=build/static" "$out"
	summary
	exit
fi
make_pki
ROOT=$TMPD/server2-root
mkdir -p "$ROOT/usr/sbin" "$ROOT/etc/nginx/certs" "$ROOT/var/www/html"
cp "$STATIC_BIN" "$ROOT/usr/sbin/mtlsd"
cp deploy/demo/nginx.conf "$ROOT/etc/nginx/nginx.conf"
cp "$PKI/server2.crt" "$PKI/ca.crt" "$ROOT/etc/nginx/certs/"
# The key readable by the image's user only, as a mounted key must be.
install -m 600 -o 65532 -g 65532 "$PKI/server2.key" "$ROOT/etc/nginx/certs/server2.key"
cp www/index.html "$ROOT/var/www/html/index.html"
chmod -R a+rX "$ROOT"
chmod 600 "$ROOT/etc/nginx/certs/server2.key"
expect_eq "server2: nothing in its file system but the binary, config, certificates and www" \
	"etc/nginx/certs/ca.crt etc/nginx/certs/server2.crt etc/nginx/certs/server2.key etc/nginx/nginx.conf usr/sbin/mtlsd var/www/html/index.html" \
	"$(cd "$ROOT" && find . -type f | sed 's,^\./,,' | sort | tr '\n' ' ' | sed 's/ $//')"
if file "$ROOT/usr/sbin/mtlsd" 2>/dev/null | grep -q 'statically linked' ||
	! ldd "$ROOT/usr/sbin/mtlsd" >/dev/null 2>&1; then
	ok "server2: the binary is static"
else
	fail "server2: the binary is static" "$(ldd "$ROOT/usr/sbin/mtlsd" 2>&1)"
fi

SERVER_N=$((SERVER_N + 1))
SERVER_OUT=$TMPD/server2.out
SERVER_ERR=$TMPD/server2.err
# As the Dockerfile's ENTRYPOINT and CMD, as USER 65532:65532.
ip netns exec "$NS2" chroot --userspec=65532:65532 "$ROOT" \
	/usr/sbin/mtlsd --nginx-conf /etc/nginx/nginx.conf >"$SERVER_OUT" 2>"$SERVER_ERR" </dev/null &
SERVER_PID=$!
SERVER_PIDS+=("$SERVER_PID")

in_server1() { ip netns exec "$NS1" "$@"; }
up=0
for ((i = 0; i < 100 * TF; i++)); do
	kill -0 "$SERVER_PID" 2>/dev/null || break
	if in_server1 bash -c "exec 3<>/dev/tcp/$SERVER2_IP/443" 2>/dev/null; then
		up=1
		break
	fi
	sleep 0.05
done
if [ $up = 0 ]; then
	fail "server2: mtlsd --nginx-conf /etc/nginx/nginx.conf listens on 443" "$(cat "$SERVER_ERR")"
	summary
	exit
fi
ok "server2: mtlsd --nginx-conf /etc/nginx/nginx.conf listens on $SERVER2_IP:443"
expect_eq "server2: runs as uid 65532, gid 65532, no groups" "65532 65532 " \
	"$(awk '/^Uid:/ { u = $2 } /^Gid:/ { g = $2 } /^Groups:/ { s = $2 } END { print u, g, s }' "/proc/$SERVER_PID/status")"

# ---- server1 ---------------------------------------------------------------------------

# from_server1 WHO -- curl https://server2/ from server1 as WHO (a PKI name or -)
BODY=$TMPD/body
from_server1() {
	local certs=()
	[ "$1" = - ] || certs=(--cert "$PKI/$1.crt" --key "$PKI/$1.key")
	CODE=$(in_server1 curl -sS --max-time $((10 * TF)) --resolve "server2:443:$SERVER2_IP" \
		--cacert "$PKI/ca.crt" "${certs[@]}" -o "$BODY" -w '%{http_code}' \
		https://server2/ 2>"$TMPD/curl.err") || true
}

from_server1 server1
if [ "$CODE" = 200 ] && cmp -s "$BODY" www/index.html; then
	ok "server1 -> server2 with server1's certificate: the page"
else
	fail "server1 -> server2 with server1's certificate: the page" "status $CODE $(cat "$TMPD/curl.err")"
fi
from_server1 -
expect_eq "server1 -> server2 without a certificate: 400 No required SSL certificate was sent" \
	"400 1" "$CODE $(grep -c '<title>400 No required SSL certificate was sent</title>' "$BODY")"
from_server1 selfsigned
expect_eq "server1 -> server2 with a self-signed certificate: 400 The SSL certificate error" \
	"400 1" "$CODE $(grep -c '<title>400 The SSL certificate error</title>' "$BODY")"
from_server1 other-client
expect_eq "server1 -> server2 with another CA's certificate: 400" 400 "$CODE"
from_server1 expired
expect_eq "server1 -> server2 with an expired certificate: 400" 400 "$CODE"

if wait_for_match "$SERVER_OUT" "^$SERVER1_IP - server1 .*\"GET / HTTP/1\\.1\" 200 "; then
	ok "server2's access log: server1's address and CN"
else
	fail "server2's access log: server1's address and CN" "$(cat "$SERVER_OUT")"
fi
stop_mtlsd
expect_eq "server2: SIGTERM, exit 0" 0 "$SERVER_STATUS"

summary
