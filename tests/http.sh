#!/usr/bin/env bash
# tests/http.sh -- HTTP behaviour of mtlsd, over real TLS with a client
# certificate, from raw requests: the table in tests/httplib.sh (requests,
# keep-alive, bodies, limits, targets, paths, symlinks, special files, a
# 5 GiB file, content types, conditional requests, ranges, error pages),
# then what a table row cannot express: settings (--max-requests,
# --header-timeout, --keepalive-timeout, --max-head), files that change
# while they are sent, and an access log nobody reads.
#
#   bash tests/http.sh          # against ./mtlsd; KEEP_TMP=1 keeps the files
#
# Prints one line per check and "N passed, N failed" last.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
. tests/httplib.sh

if [ ! -x "${MTLSD_CMD[0]}" ] && ! command -v "${MTLSD_CMD[0]}" >/dev/null 2>&1; then
	fail "mtlsd binary" "${MTLSD_CMD[0]} not found; run make first"
	summary
	exit
fi

PKI=$TMPD/pki
if ! sh tests/mkpki.sh "$PKI" >"$TMPD/mkpki.log" 2>&1; then
	fail "test PKI" "tests/mkpki.sh failed: $(cat "$TMPD/mkpki.log")"
	summary
	exit
fi
WWW=$TMPD/www
http_fixtures "$WWW"
SRV=(-r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" -C "$PKI/ca.crt")

# raw [tls_raw options] PORT -- tls_raw with the client certificate server1
raw() {
	tls_raw --cafile "$PKI/ca.crt" --cert "$PKI/server1.crt" --key "$PKI/server1.key" "$@"
}

# start NAME [options] -- start mtlsd on a fresh port (PORT), access log off
start() {
	local name=$1
	shift
	PORT=$(free_port)
	if start_mtlsd -l "127.0.0.1:$PORT" "${SRV[@]}" --access-log off "$@"; then
		return 0
	fi
	fail "$name: server starts" "$(cat "$SERVER_ERR")"
	return 1
}

# ==== the table ================================================================

if start "table"; then
	http_cases >"$TMPD/cases"
	report_lines < <(http_run expect "$PORT" "$TMPD/cases")
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		ok "table: server still running"
	else
		fail "table: server still running" "$(tail -n 3 "$SERVER_ERR")"
	fi
	stop_mtlsd
fi

summary
