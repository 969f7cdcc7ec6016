#!/usr/bin/env bash
# tests/privileges.sh -- --user, --chroot and --sandbox (run as root).
#
# Checks, on the running server's /proc entries, that after start-up it has
# the user's real, effective, saved and file-system IDs, only the user's
# group, no capability and no_new_privs; that it still serves with a key
# the user cannot read; that --chroot moves its root; that --sandbox applies
# Landlock where the kernel has it; and that bad uses fail before listening.
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
chmod 600 "$TMPD/keys/server.key"
WWW=$TMPD/www
mkdir -m 755 "$WWW"
printf 'small file for probes\n' >"$WWW/small.txt"
chmod 644 "$WWW/small.txt"
SRV=(-r "$WWW" -c "$PKI/server2.crt" -k "$TMPD/keys/server.key" -C "$PKI/ca.crt" --access-log off)

get_small() {
	curl -sS --max-time $((10 * TF)) --resolve "server2:$PORT:127.0.0.1" --cacert "$PKI/ca.crt" \
		--cert "$PKI/server1.crt" --key "$PKI/server1.key" -w ' %{http_code}' \
		"https://server2:$PORT/small.txt" 2>&1
}
field() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }

# ---- --user ---------------------------------------------------------------------

PORT=$(free_port)
if start_mtlsd -l "127.0.0.1:$PORT" "${SRV[@]}" --user "$USER_NAME"; then
	expect_eq "user: serves as $USER_NAME" "small file for probes
 200" "$(get_small)"
	expect_eq "user: real, effective, saved and fs UID are $USER_ID" \
		"$USER_ID $USER_ID $USER_ID $USER_ID" "$(field "$SERVER_PID" Uid | tr -s '\t ' ' ')"
	expect_eq "user: real, effective, saved and fs GID are $GROUP_ID" \
		"$GROUP_ID $GROUP_ID $GROUP_ID $GROUP_ID" "$(field "$SERVER_PID" Gid | tr -s '\t ' ' ')"
	expect_eq "user: supplementary groups are only $GROUP_ID" "$GROUP_ID" "$(field "$SERVER_PID" Groups | tr -d ' \t')"
	expect_eq "user: no effective or permitted capability" "0000000000000000 0000000000000000" \
		"$(field "$SERVER_PID" CapEff) $(field "$SERVER_PID" CapPrm)"
	if setpriv --reuid="$USER_ID" --regid="$GROUP_ID" --clear-groups cat "$TMPD/keys/server.key" >/dev/null 2>&1; then
		fail "user: the key is unreadable by $USER_NAME (test setup)" "it can read it"
	else
		ok "user: the key is unreadable by $USER_NAME, the server has it anyway"
	fi
	# A reload reads the files again, as the user: they are out of reach,
	# so the reload fails and the server keeps what it has.
	kill -HUP "$SERVER_PID"
	if wait_for_match "$SERVER_ERR" 'reload failed.*Permission denied'; then
		ok "user: SIGHUP with key files the user cannot read -> reload refused, logged"
	else
		fail "user: SIGHUP with unreadable key files -> reload refused" "$(tail -n 2 "$SERVER_ERR")"
	fi
	expect_eq "user: still serves after the refused reload" "small file for probes
 200" "$(get_small)"
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
	expect_eq "chroot: the process root is the directory" "$WWW" "$(readlink "/proc/$SERVER_PID/root")"
	expect_eq "sandbox: no_new_privs set" 1 "$(field "$SERVER_PID" NoNewPrivs)"
	if grep -q 'sandboxed with Landlock ABI [1-9]' "$SERVER_ERR"; then
		ok "sandbox: $(grep -o 'Landlock ABI [0-9]*' "$SERVER_ERR") applied"
	elif grep -q 'has no Landlock' "$SERVER_ERR"; then
		skip "sandbox: Landlock" "this kernel has none; the server runs without it"
	else
		fail "sandbox: Landlock applied or its absence reported" "$(cat "$SERVER_ERR")"
	fi
	stop_mtlsd
	expect_eq "chroot: SIGTERM stops it, status 0" 0 "$SERVER_STATUS"
else
	fail "chroot: server starts with --chroot and --sandbox" "$(cat "$SERVER_ERR")"
fi

# --workers: the supervisor drops before it forks, so every process is the user
PORT=$(free_port)
if start_mtlsd -l "127.0.0.1:$PORT" "${SRV[@]}" --user "$USER_NAME" --workers 2; then
	for _ in $(seq 40); do [ "$(pgrep -c -P "$SERVER_PID")" = 2 ] && break; sleep 0.05; done
	uids=$(for p in "$SERVER_PID" $(pgrep -P "$SERVER_PID"); do field "$p" Uid | tr -s '\t ' ' '; done | sort -u)
	if [ "$(pgrep -c -P "$SERVER_PID")" = 2 ] && [ "$uids" = "$USER_ID $USER_ID $USER_ID $USER_ID" ]; then
		ok "workers: the supervisor and its 2 workers all run as $USER_NAME"
	else
		fail "workers: supervisor and workers run as $USER_NAME" "$(pgrep -c -P "$SERVER_PID") workers, UIDs: $uids"
	fi
	expect_eq "workers: serve as $USER_NAME" "small file for probes
 200" "$(get_small)"
	stop_mtlsd
else
	fail "workers: server starts with --user and --workers 2" "$(cat "$SERVER_ERR")"
fi

# --sandbox alone (root): a reload still reads the key files' directories
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
summary
