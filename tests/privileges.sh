#!/usr/bin/env bash
# tests/privileges.sh -- --user, --chroot and --sandbox (run as root).
#
# Checks, on the running worker's /proc entries, that after start-up it has
# the user's real, effective, saved and file-system IDs, only the user's
# group, no capability and no_new_privs; that it still serves with a key
# the user cannot read; that --chroot moves its root; that --sandbox applies
# Landlock where the kernel has it; that a certificate and key rotated on
# SIGHUP are served under each of them (the supervisor, still root, reads
# them and starts new workers); that a CA removed by a reload stops its
# keep-alive connections there too; and that bad uses fail before
# listening, with -t too.
# Prints "N passed, N failed" last.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

if [ "$(id -u)" != 0 ]; then
	skip "privileges" "needs root"
	summary
	exit
fi
USER_NAME=nobody
USER_ID=$(id -u "$USER_NAME" 2>/dev/null) || { skip "privileges" "no user $USER_NAME"; summary; exit; }
GROUP_ID=$(id -g "$USER_NAME")

given_or_make_pki
# A key only root can read, in a directory only root can enter.
mkdir -m 700 "$TMPD/keys"
cp "$PKI/server2.key" "$TMPD/keys/server.key"
cp "$PKI/server2.crt" "$TMPD/keys/server.crt"
chmod 600 "$TMPD/keys/server.key" "$TMPD/keys/server.crt"
WWW=$TMPD/www
mkdir -m 755 "$WWW"
printf 'small file for probes\n' >"$WWW/small.txt"
chmod 644 "$WWW/small.txt"
SRV=(-r "$WWW" -c "$TMPD/keys/server.crt" -k "$TMPD/keys/server.key" -C "$PKI/ca.crt" --access-log off)

get_small() {
	curl -sS --max-time $((10 * TF)) --resolve "server2:$PORT:127.0.0.1" --cacert "$PKI/ca.crt" \
		--cert "$PKI/server1.crt" --key "$PKI/server1.key" -w ' %{http_code}' \
		"https://server2:$PORT/small.txt" 2>&1
}
field() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }
# the worker(s) of the supervisor SERVER_PID, once there are N (default 1)
workers_of() {
	local n=${1:-1}
	for _ in $(seq 100); do
		[ "$(pgrep -c -P "$SERVER_PID")" = "$n" ] && break
		sleep 0.05
	done
	pgrep -P "$SERVER_PID"
}
# SHA-256 of the certificate the server presents
served_cert() {
	openssl s_client -connect "127.0.0.1:$PORT" -servername server2 -cert "$PKI/server1.crt" \
		-key "$PKI/server1.key" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
# rotate NAME -- replace the served certificate and key with ec-server's
# (files only root can read), SIGHUP, and check the new one is served and the
# old worker has gone
rotate() {
	local name=$1 old
	old=$(workers_of)
	cp "$PKI/ec-server.crt" "$TMPD/keys/server.crt"
	cp "$PKI/ec-server.key" "$TMPD/keys/server.key"
	chmod 600 "$TMPD/keys/server.crt" "$TMPD/keys/server.key"
	kill -HUP "$SERVER_PID"
	if wait_for_match "$SERVER_ERR" 'reloaded certificates'; then
		ok "$name: SIGHUP with a rotated certificate and root-only key -> reloaded"
	else
		fail "$name: SIGHUP with a rotated certificate and root-only key -> reloaded" "$(tail -n 3 "$SERVER_ERR")"
	fi
	expect_eq "$name: the new certificate is served" "$(fingerprint "$PKI/ec-server.crt")" "$(served_cert)"
	expect_eq "$name: ... with the files" "small file for probes
 200" "$(get_small)"
	for _ in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$old" 2>/dev/null; then
		fail "$name: the old worker exits after the reload" "pid $old still runs"
	else
		ok "$name: the old worker exits after the reload"
	fi
	cp "$PKI/server2.crt" "$TMPD/keys/server.crt"
	cp "$PKI/server2.key" "$TMPD/keys/server.key"
}

# ---- --user ---------------------------------------------------------------------

PORT=$(free_port)
if start_mtlsd -l "127.0.0.1:$PORT" "${SRV[@]}" --user "$USER_NAME"; then
	expect_eq "user: serves as $USER_NAME" "small file for probes
 200" "$(get_small)"
	W=$(workers_of)
	expect_eq "user: the supervisor keeps root, to read the files again on SIGHUP" "0 0 0 0" \
		"$(field "$SERVER_PID" Uid | tr -s '\t ' ' ')"
	expect_eq "user: the worker's real, effective, saved and fs UID are $USER_ID" \
		"$USER_ID $USER_ID $USER_ID $USER_ID" "$(field "$W" Uid | tr -s '\t ' ' ')"
	expect_eq "user: real, effective, saved and fs GID are $GROUP_ID" \
		"$GROUP_ID $GROUP_ID $GROUP_ID $GROUP_ID" "$(field "$W" Gid | tr -s '\t ' ' ')"
	expect_eq "user: supplementary groups are only $GROUP_ID" "$GROUP_ID" "$(field "$W" Groups | tr -d ' \t')"
	expect_eq "user: no effective or permitted capability" "0000000000000000 0000000000000000" \
		"$(field "$W" CapEff) $(field "$W" CapPrm)"
	if setpriv --reuid="$USER_ID" --regid="$GROUP_ID" --clear-groups cat "$TMPD/keys/server.key" >/dev/null 2>&1; then
		fail "user: the key is unreadable by $USER_NAME (test setup)" "it can read it"
	else
		ok "user: the key is unreadable by $USER_NAME, the server has it anyway"
	fi
	# The supervisor reads the files again as root: the rotation works.
	rotate user
	W=$(workers_of)
	expect_eq "user: the new worker runs as $USER_NAME" "$USER_ID $USER_ID $USER_ID $USER_ID" \
		"$(field "$W" Uid | tr -s '\t ' ' ')"
	# A SIGHUP sent to a worker is not a reload (it could not read the key).
	kill -HUP "$W"
	if wait_for_match "$SERVER_ERR" 'SIGHUP ignored: the supervisor'; then
		ok "user: SIGHUP to a worker -> ignored, pointing at the supervisor"
	else
		fail "user: SIGHUP to a worker -> ignored" "$(tail -n 2 "$SERVER_ERR")"
	fi
	stop_mtlsd
	expect_eq "user: SIGTERM still stops it, status 0" 0 "$SERVER_STATUS"
else
	fail "user: server starts with --user $USER_NAME" "$(cat "$SERVER_ERR")"
fi

# ---- --chroot and --sandbox ----------------------------------------------------------

PORT=$(free_port)
if start_mtlsd -l "127.0.0.1:$PORT" "${SRV[@]}" --user "$USER_NAME" --chroot "$WWW" --sandbox; then
	expect_eq "chroot: serves" "small file for probes
 200" "$(get_small)"
	W=$(workers_of)
	expect_eq "chroot: the worker's root is the directory" "$WWW" "$(readlink "/proc/$W/root")"
	expect_eq "sandbox: no_new_privs set" 1 "$(field "$W" NoNewPrivs)"
	if grep -q 'sandboxed with Landlock ABI [1-9]' "$SERVER_ERR"; then
		ok "sandbox: $(grep -o 'Landlock ABI [0-9]*' "$SERVER_ERR") applied"
	elif grep -q 'has no Landlock' "$SERVER_ERR"; then
		skip "sandbox: Landlock" "this kernel has none; the server runs without it"
	else
		fail "sandbox: Landlock applied or its absence reported" "$(cat "$SERVER_ERR")"
	fi
	rotate "chroot+sandbox"
	stop_mtlsd
	expect_eq "chroot: SIGTERM stops it, status 0" 0 "$SERVER_STATUS"
else
	fail "chroot: server starts with --chroot and --sandbox" "$(cat "$SERVER_ERR")"
fi

# autoindex under --user, --chroot and --sandbox: the listing (a memfd) is served
PORT=$(free_port)
mkdir -m 755 "$WWW/listed"
printf 'x\n' >"$WWW/listed/a b.txt"
chmod 644 "$WWW/listed/a b.txt"
cat >"$TMPD/ai.conf" <<EOF
server {
  listen 127.0.0.1:$PORT ssl;
  ssl_certificate $TMPD/keys/server.crt;
  ssl_certificate_key $TMPD/keys/server.key;
  ssl_client_certificate $PKI/ca.crt;
  ssl_verify_client on;
  access_log off;
  root $WWW;
  location /listed/ { autoindex on; }
}
EOF
if PROBE="127.0.0.1:$PORT" start_mtlsd --nginx-conf "$TMPD/ai.conf" --user "$USER_NAME" --chroot "$WWW" --sandbox; then
	out=$(curl -sS --max-time $((10 * TF)) --resolve "server2:$PORT:127.0.0.1" --cacert "$PKI/ca.crt" \
		--cert "$PKI/server1.crt" --key "$PKI/server1.key" -w ' %{http_code}' \
		"https://server2:$PORT/listed/" 2>&1)
	stop_mtlsd
	case $out in
	*'<a href="a%20b.txt">a b.txt</a>'*' 200') ok "autoindex: listed under --user, --chroot and --sandbox" ;;
	*) fail "autoindex: listed under --user, --chroot and --sandbox" "$out $(tail -n 3 "$SERVER_ERR")" ;;
	esac
else
	fail "autoindex: server starts with --chroot and --sandbox" "$(cat "$SERVER_ERR")"
fi

# --chroot with relative paths: they name files outside the chroot, which
# only the supervisor (never chrooted) can reach on SIGHUP
PORT=$(free_port)
SAVED_CMD=("${MTLSD_CMD[@]}")
MTLSD_CMD[0]=$(realpath "${MTLSD_CMD[0]}" 2>/dev/null || command -v "${MTLSD_CMD[0]}")
# The CA too, wherever PKI is: relative to the same directory.
cp "$PKI/ca.crt" "$TMPD/keys/ca.crt"
cd "$TMPD" || exit 1
start_mtlsd -l "127.0.0.1:$PORT" -r www -c keys/server.crt -k keys/server.key \
	-C keys/ca.crt --access-log off --user "$USER_NAME" --chroot www --pid-file "$TMPD/chroot.pid"
started=$?
cd - >/dev/null || exit 1
if [ $started = 0 ]; then
	rotate "chroot, relative paths"
	# -s reload from the same directory with the same options
	if (cd "$TMPD" && exec "${MTLSD_CMD[@]}" -l "127.0.0.1:$PORT" -r www -c keys/server.crt \
		-k keys/server.key -C keys/ca.crt --access-log off --user "$USER_NAME" --chroot www \
		--pid-file "$TMPD/chroot.pid" -s reload) >"$TMPD/sreload.out" 2>&1; then
		ok "chroot, relative paths: -s reload -> exit 0"
	else
		fail "chroot, relative paths: -s reload -> exit 0" "$(cat "$TMPD/sreload.out")"
	fi
	expect_eq "chroot, relative paths: the rotated-back certificate is served" \
		"$(fingerprint "$PKI/server2.crt")" "$(served_cert)"
	stop_mtlsd
	expect_eq "chroot, relative paths: SIGTERM stops it, status 0" 0 "$SERVER_STATUS"
else
	fail "chroot, relative paths: server starts" "$(cat "$SERVER_ERR")"
fi
MTLSD_CMD=("${SAVED_CMD[@]}")

# a CA removed by a reload under --user: the old worker's keep-alive
# connection of that CA's client is not served again
cat "$PKI/ca.crt" "$PKI/other-ca.crt" >"$TMPD/keys/ca.crt"
PORT=$(free_port)
if start_mtlsd -l "127.0.0.1:$PORT" -r "$WWW" -c "$TMPD/keys/server.crt" -k "$TMPD/keys/server.key" \
	-C "$TMPD/keys/ca.crt" --access-log off --user "$USER_NAME"; then
	two_gets "$PORT" other-client /small.txt "$TMPD/ka.go" "$TMPD/ka.ready" >"$TMPD/ka.out" 2>&1 &
	ka=$!
	for _ in $(seq 200); do [ -e "$TMPD/ka.ready" ] && break; sleep 0.05; done
	cp "$PKI/ca.crt" "$TMPD/keys/ca.crt"
	: >"$TMPD/marker"
	kill -HUP "$SERVER_PID"
	wait_for_match "$SERVER_ERR" 'reloaded certificates'
	touch "$TMPD/ka.go"
	wait "$ka"
	expect_eq "user: a removed CA's keep-alive connection is not served again" "200 closed" \
		"$(tr '\n' ' ' <"$TMPD/ka.out" | sed 's/ $//')"
	if curl -sS --max-time 10 --resolve "server2:$PORT:127.0.0.1" --cacert "$PKI/ca.crt" \
		--cert "$PKI/other-client.crt" --key "$PKI/other-client.key" -o /dev/null -w '%{http_code}' \
		"https://server2:$PORT/small.txt" 2>/dev/null | grep -q 400; then
		ok "user: the removed CA's client gets 400 on a new connection"
	else
		fail "user: the removed CA's client gets 400 on a new connection" "not 400"
	fi
	stop_mtlsd
else
	fail "user: removed CA: server starts" "$(cat "$SERVER_ERR")"
fi

# --workers: each worker drops after the fork; the supervisor keeps root
PORT=$(free_port)
if start_mtlsd -l "127.0.0.1:$PORT" "${SRV[@]}" --user "$USER_NAME" --workers 2; then
	uids=$(for p in $(workers_of 2); do field "$p" Uid | tr -s '\t ' ' '; done | sort -u)
	if [ "$(pgrep -c -P "$SERVER_PID")" = 2 ] && [ "$uids" = "$USER_ID $USER_ID $USER_ID $USER_ID" ]; then
		ok "workers: its 2 workers run as $USER_NAME"
	else
		fail "workers: workers run as $USER_NAME" "$(pgrep -c -P "$SERVER_PID") workers, UIDs: $uids"
	fi
	expect_eq "workers: serve as $USER_NAME" "small file for probes
 200" "$(get_small)"
	old=$(workers_of 2 | sort | tr '\n' ' ')
	kill -HUP "$SERVER_PID"
	wait_for_match "$SERVER_ERR" 'reloaded certificates'
	for _ in $(seq 100); do
		[ "$(pgrep -P "$SERVER_PID" | sort | tr '\n' ' ')" != "$old" ] && [ "$(pgrep -c -P "$SERVER_PID")" = 2 ] && break
		sleep 0.05
	done
	new=$(pgrep -P "$SERVER_PID" | sort | tr '\n' ' ')
	if [ "$(pgrep -c -P "$SERVER_PID")" = 2 ] && [ -z "$(comm -12 <(tr ' ' '\n' <<<"$old" | sort) <(tr ' ' '\n' <<<"$new" | sort) | grep .)" ]; then
		ok "workers: SIGHUP -> 2 new workers, the old ones gone"
	else
		fail "workers: SIGHUP -> 2 new workers" "before: $old, after: $new"
	fi
	expect_eq "workers: serve after the reload" "small file for probes
 200" "$(get_small)"
	stop_mtlsd
else
	fail "workers: server starts with --user and --workers 2" "$(cat "$SERVER_ERR")"
fi

# --sandbox alone (root): the supervisor reloads, the new worker is sandboxed again
PORT=$(free_port)
if start_mtlsd -l "127.0.0.1:$PORT" "${SRV[@]}" --sandbox; then
	if grep -q 'sandboxed with Landlock' "$SERVER_ERR"; then
		kill -HUP "$SERVER_PID"
		if wait_for_match "$SERVER_ERR" 'reloaded certificates'; then
			ok "sandbox: SIGHUP reload reads the certificate, key and CA files"
		else
			fail "sandbox: SIGHUP reload reads the key files" "$(tail -n 2 "$SERVER_ERR")"
		fi
		expect_eq "sandbox: serves after the reload" "small file for probes
 200" "$(get_small)"
	else
		skip "sandbox: reload" "no Landlock here"
	fi
	stop_mtlsd
else
	fail "sandbox: server starts with --sandbox" "$(cat "$SERVER_ERR")"
fi

# ---- mistakes fail before anything listens -------------------------------------------------

# refused NAME PATTERN [options] -- exit 1, one stderr line with PATTERN
refused() {
	local name=$1 pat=$2
	shift 2
	run_mtlsd -l "127.0.0.1:$(free_port)" "${SRV[@]}" "$@"
	if [ "$RUN_RC" = 1 ] && grep -q -F -- "$pat" "$RUN_ERR" && [ "$(grep -c . "$RUN_ERR")" = 1 ]; then
		ok "$name"
	else
		fail "$name" "exit $RUN_RC, stderr '$(cat "$RUN_ERR")'"
	fi
}
refused "start: --user with an unknown name" "no such user" --user no-such-user-mtlsd
refused "start: --user root is refused" "that is root" --user root
refused "start: --chroot to a missing directory" "$TMPD/nowhere" --chroot "$TMPD/nowhere"
refused "-t: --user with an unknown name" "--user no-such-user-mtlsd: no such user" --user no-such-user-mtlsd -t
refused "-t: --chroot to a missing directory" "--chroot /nonexistent-mtlsd: No such file" --chroot /nonexistent-mtlsd -t
refused "-t: --user root" "that is root" --user root -t
SERVER_N=$((SERVER_N + 1))
RUN_ERR=$TMPD/run.$SERVER_N.err
timeout 5 setpriv --reuid="$USER_ID" --regid="$GROUP_ID" --clear-groups \
	"${MTLSD_CMD[@]}" -l "127.0.0.1:$(free_port)" -r "$WWW" -c "$PKI/server2.crt" \
	-k "$PKI/server2.key" -C "$PKI/ca.crt" --user "$USER_NAME" >/dev/null 2>"$RUN_ERR" && rc=0 || rc=$?
if [ "$rc" = 1 ] && grep -q 'only root can change user' "$RUN_ERR"; then
	ok "start: --user when not root is refused"
else
	fail "start: --user when not root is refused" "exit $rc, stderr '$(cat "$RUN_ERR")'"
fi

# port 443 as a user without CAP_NET_BIND_SERVICE: Permission denied, and how
# to get it (files the user can read, in a directory it can enter)
PUB=$(mktemp -d)
chmod 755 "$PUB"
cp "$PKI/server2.crt" "$PKI/server2.key" "$PKI/ca.crt" "$PUB/"
chmod 644 "$PUB"/*
if [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)" -gt 443 ]; then
	timeout 5 setpriv --reuid="$USER_ID" --regid="$GROUP_ID" --clear-groups --inh-caps=-all \
		"${MTLSD_CMD[@]}" -l "127.0.0.1:443" -r "$PUB" -c "$PUB/server2.crt" \
		-k "$PUB/server2.key" -C "$PUB/ca.crt" >/dev/null 2>"$RUN_ERR" && rc=0 || rc=$?
	if [ "$rc" = 1 ] && grep -q 'Permission denied.*CAP_NET_BIND_SERVICE.*--user.*setcap' "$RUN_ERR"; then
		ok "start: port 443 as a user -> Permission denied, with the ways to get it"
	else
		fail "start: port 443 as a user -> Permission denied with a hint" "exit $rc, stderr '$(cat "$RUN_ERR")'"
	fi
else
	skip "start: port 443 as a user" "ports from $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start) are unprivileged here"
fi
rm -rf "$PUB"
summary
