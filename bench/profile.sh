#!/usr/bin/env bash
# bench/profile.sh [rsa|ec] - where mtlsd's instructions go, by callgrind:
# instructions per full handshake and per keep-alive request, the top
# functions of each, and the same count for BearSSL's floor (bench/floor
# -1), so the handshake's overhead over the crypto is a stable ratio that
# does not depend on what else the machine is doing. Kernel time is not
# in these counts (callgrind sees user space only).
#
# Environment: PROFILE_HS (40 handshakes), PROFILE_KA (4000 requests over
# 8 connections), PROFILE_TOP (25 functions), PROFILE_OUT (directory to
# keep the callgrind files in; default: a temporary one, removed),
# PROFILE_MTLSD (./mtlsd: another build to compare).
set -euo pipefail
cd "$(dirname "$0")/.."

KEYSET=${1:-rsa}
HS_N=${PROFILE_HS:-40}
KA_N=${PROFILE_KA:-4000}
TOP=${PROFILE_TOP:-25}
CONNS=8
MTLSD=${PROFILE_MTLSD:-./mtlsd}

die() { echo "profile: $*" >&2; exit 1; }
for tool in valgrind callgrind_control callgrind_annotate ab python3 curl; do
	command -v "$tool" >/dev/null || die "needs $tool (apt-get install valgrind apache2-utils python3 curl)"
done
[ -x "$MTLSD" ] && [ -x bench/floor ] || die "make mtlsd bench/floor first"

work=$(mktemp -d "${TMPDIR:-/tmp}/mtlsd-profile.XXXXXX")
out=${PROFILE_OUT:-$work}
mkdir -p "$out"
vg_pid=""
client_pid=""
cleanup() {
	[ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null
	[ -n "$vg_pid" ] && kill "$vg_pid" 2>/dev/null && wait "$vg_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

k=$work/keys
case $KEYSET in
rsa)
	sh tests/mkpki.sh "$work/pki" >/dev/null 2>&1 || die "tests/mkpki.sh failed"
	mkdir -p "$k"
	cp "$work/pki/ca.crt" "$k/ca.crt"
	cp "$work/pki/server2.crt" "$k/server.crt"
	cp "$work/pki/server2.key" "$k/server.key"
	cp "$work/pki/server1.crt" "$k/client.crt"
	cp "$work/pki/server1.key" "$k/client.key"
	cipher=ECDHE-RSA-AES128-GCM-SHA256
	;;
ec)
	sh bench/mkpki-ec.sh "$k" >/dev/null 2>&1 || die "bench/mkpki-ec.sh failed"
	cipher=ECDHE-ECDSA-AES128-GCM-SHA256
	;;
*)
	die "usage: $0 [rsa|ec]"
	;;
esac
cat "$k/client.crt" "$k/client.key" > "$k/client.pem"
mkdir -p "$work/www"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/small.html"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# One mtlsd under callgrind for both phases; counters are zeroed before
# and dumped after each, so start-up and warm-up are not counted.
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
	"$MTLSD" -l "127.0.0.1:$port" -r "$work/www" -c "$k/server.crt" -k "$k/server.key" \
	-C "$k/ca.crt" --access-log off --max-requests 65535 2> "$work/valgrind.log" &
vg_pid=$!
for _ in $(seq 100); do
	curl -sk --max-time 20 --cert "$k/client.crt" --key "$k/client.key" -o /dev/null \
		"https://127.0.0.1:$port/small.html" && break
	kill -0 "$vg_pid" 2>/dev/null || { cat "$work/valgrind.log" >&2; die "mtlsd did not start"; }
	sleep 0.3
done

# dump NAME: writes the counters since the last zeroing to $out/NAME.
dump() {
	local f
	callgrind_control -d "$vg_pid" >/dev/null 2>&1
	for _ in $(seq 100); do
		f=$(find "$out" -maxdepth 1 -name 'callgrind.out.*' | head -1)
		[ -n "$f" ] && break
		sleep 0.1
	done
	[ -n "$f" ] || die "callgrind wrote no dump"
	sleep 0.2    # let callgrind finish writing it
	mv "$f" "$out/$1"
}
total_ir() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'; }

# ---- full handshakes ----
callgrind_control -z "$vg_pid" >/dev/null 2>&1
ab -n "$HS_N" -c 1 -E "$k/client.pem" -f TLS1.2 -Z "$cipher" \
	"https://127.0.0.1:$port/small.html" > "$work/ab.txt" 2>&1 || { cat "$work/ab.txt"; die "ab failed"; }
grep -q '^Failed requests: *0' "$work/ab.txt" || die "ab: failed requests"
dump handshake.out

# ---- keep-alive requests on open connections ----
coproc CLIENT { exec python3 bench/idle_clients.py 127.0.0.1 "$port" "$k/client.crt" \
	"$k/client.key" "$cipher" "$CONNS" /small.html "$KA_N"; }
client_pid=$CLIENT_PID
read -r -t 120 line <&"${CLIENT[0]}" && [ "$line" = "ready $CONNS" ] || die "client: $line"
callgrind_control -z "$vg_pid" >/dev/null 2>&1
echo go >&"${CLIENT[1]}"
read -r -t 600 line <&"${CLIENT[0]}" && [ "$line" = "done $KA_N" ] || die "client: $line"
dump keepalive.out
echo close >&"${CLIENT[1]}"
wait "$client_pid" || true
client_pid=""
kill "$vg_pid"
wait "$vg_pid" || true
vg_pid=""

# ---- the floor, counted inside handshake_ops() only ----
curve=x25519
grep -q 'Server Temp Key: *ECDH P-256' "$work/ab.txt" && curve=p256
valgrind --tool=callgrind --callgrind-out-file="$out/floor.out" --toggle-collect=handshake_ops \
	bench/floor -1 -g "$curve" "$k/server.key" "$k/ca.crt" "$k/client.crt" "$k/client.key" \
	2> "$work/floor.log" || { cat "$work/floor.log" >&2; die "bench/floor failed"; }

hs=$(total_ir "$out/handshake.out")
ka=$(total_ir "$out/keepalive.out")
fl=$(total_ir "$out/floor.out")
per() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.0f", a / n }'; }
hs_per=$(per "$hs" "$HS_N")
# mtlsd -V: "mtlsd VERSION", then (newer builds) "built with BearSSL VERSION".
version=$("$MTLSD" -V | sed -n '1s/^mtlsd //p')
bearssl=$("$MTLSD" -V | sed -n 's/^built with BearSSL //p')
echo "$MTLSD $version${bearssl:+ (BearSSL $bearssl)}, $KEYSET key set, $cipher," \
	"$(grep 'Server Temp Key' "$work/ab.txt" | sed 's/.*: *//')"
echo "instructions per full handshake (ab -c 1, $HS_N): $(printf "%'d" "$hs_per")"
echo "instructions per keep-alive request ($KA_N over $CONNS connections): $(printf "%'d" "$(per "$ka" "$KA_N")")"
echo "BearSSL floor, instructions for one handshake's public-key operations: $(printf "%'d" "$fl")"
echo "full handshake / floor: $(awk -v a="$hs_per" -v b="$fl" 'BEGIN { printf "%.3f", a / b }')"
# functions FILE DIVISOR: "instructions<TAB>function" per operation, self
# cost, without the frames that only enclose everything (main's callers).
functions() {
	callgrind_annotate --threshold=100 "$1" 2>/dev/null \
		| awk '/file:function/ { on = 1; next } on && /^$/ { on = 0; done = 1 } on && !done' \
		| grep -v '(100.0%)' \
		| awk -v n="$2" '$1 ~ /^[0-9,]+$/ {
			ir = $1; gsub(",", "", ir)
			name = $0; sub(/^[^)]*\) +/, "", name); sub(/ \[.*$/, "", name)
			sub(/^.*:/, "", name)
			cost[name] += ir / n
		} END { for (f in cost) printf "%.0f\t%s\n", cost[f], f }' | sort -rn
}
show() { head -n "$TOP" | awk -F'\t' '{ printf "%12s  %s\n", $1, $2 }'; }
functions "$out/handshake.out" "$HS_N" > "$work/hs.fn"
functions "$out/keepalive.out" "$KA_N" > "$work/ka.fn"
functions "$out/floor.out" 1 > "$work/floor.fn"
echo
echo "== full handshake: instructions per handshake, by function (self) =="
show < "$work/hs.fn"
echo
echo "== full handshake minus the floor, by function: where the overhead is =="
awk -F'\t' 'NR == FNR { floor[$2] = $1; next }
	{ d = $1 - floor[$2]; if (d > 0) printf "%.0f\t%s\n", d, $2 }' \
	"$work/floor.fn" "$work/hs.fn" | sort -rn | show
echo
echo "== keep-alive: instructions per request, by function (self) =="
show < "$work/ka.fn"
[ "$out" != "$work" ] && echo && echo "callgrind files kept in $out"
exit 0
