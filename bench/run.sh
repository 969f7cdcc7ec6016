#!/usr/bin/env bash
# bench/run.sh - what `make bench` runs: mtlsd against nginx and lighttpd on
# this machine, in one run, with the same certificates, document root and
# client verification. Never part of `make test`.
#
# For each key set (RSA-2048: the reference set of tests/mkpki.sh; ECDSA
# P-256: a set made the same way) it starts the three servers on loopback
# and measures them in alternation (the order rotates every round):
#   full       new connection per request (ab -E), req/s, server CPU per handshake
#   resumed    openssl s_time -reuse, conn/s, server CPU per connection, and
#              how many connections really resumed
#   keepalive  ab -k, 8 connections, 1 KiB file: req/s, server CPU per request
#              (less the 8 handshakes, at this round's full-handshake cost)
#   bulk       64 MiB over one connection (curl): MB/s, server CPU per file
#   floor      bench/floor: BearSSL's public-key operations for one handshake
# then, on fresh servers, RSS idle and with 500 idle authenticated keep-alive
# connections, the idle RSS split by mapping (bench/smaps.py), the same for
# mtlsd built with MUSL=1 (static, musl) and, as a baseline, for an idle
# `sleep` (dynamically linked against glibc); once, in the first key set,
# many idle connections (BENCH_MANY, 10,000) held open against mtlsd and
# nginx (one worker), each after one authenticated request: RSS with them
# all open, a new client's time while they are (curl, the slowest of 5), and
# the time until each of them has been answered once more; last, once per
# key set, bench/profile.sh: callgrind's instructions per full handshake, per
# keep-alive request and for the floor. Server CPU is utime and stime
# (user and kernel), each from /proc of all the server's processes (nginx:
# master and worker). Writes bench/results.md, the raw samples in
# bench/results.tsv (round 0: measured once, the callgrind counts) with
# bench/results-meta.tsv (the machine, versions, sizes), and the chart
# bench/results.png; bench/render.sh makes the last two again from the
# first two.
#
# Environment: BENCH_ROUNDS (3), BENCH_KEYSETS ("rsa ec"), BENCH_HS (800
# handshakes), BENCH_KA (150000 requests), BENCH_RESUME_SECONDS (3),
# BENCH_BULK (5 downloads), BENCH_IDLE (500 connections), BENCH_SERVERS
# ("mtlsd nginx lighttpd"), BENCH_OUT (bench), BENCH_MTLSD (./mtlsd: another
# build to compare, e.g. before and after a change), BENCH_LABEL (says which
# build that is, in results.md), BENCH_MUSL (build/musl/mtlsd, made here with
# make MUSL=1, installing musl-tools if it can; another path: that build; 0:
# no musl rows), BENCH_PROFILE (1; 0 skips bench/profile.sh, which takes its
# own PROFILE_HS and PROFILE_KA), BENCH_MANY (10000; 0 leaves the case out;
# as root, the hard descriptor limit is raised if it does not allow that
# many; fewer when it still does not, which results.md then says) with
# BENCH_MANY_PROCS (4 client processes), BENCH_BEFORE (the commit of
# bench/before-issue17-meta.tsv's run: built from this checkout's history
# with git archive and measured beside this build in every round, as
# mtlsd-before; 0: not), BENCH_KEEP=1 keeps the working directory
# (configurations, logs, every client's output, profile.sh's reports).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

ROUNDS=${BENCH_ROUNDS:-3}
KEYSETS=${BENCH_KEYSETS:-"rsa ec"}
HS_N=${BENCH_HS:-800}
KA_N=${BENCH_KA:-150000}
RESUME_SECONDS=${BENCH_RESUME_SECONDS:-3}
BULK_N=${BENCH_BULK:-5}
IDLE_N=${BENCH_IDLE:-500}
MANY_N=${BENCH_MANY:-10000}
MANY_PROCS=${BENCH_MANY_PROCS:-4}
SERVERS=${BENCH_SERVERS:-"mtlsd nginx lighttpd"}
MTLSD=${BENCH_MTLSD:-./mtlsd}
MUSL=${BENCH_MUSL:-build/musl/mtlsd}
PROFILE=${BENCH_PROFILE:-1}
BEFORE=${BENCH_BEFORE:-$(sed -n 's/^version_mtlsd\t.*(\([0-9a-f]*\))$/\1/p' bench/before-issue17-meta.tsv 2>/dev/null)}
OUT=${BENCH_OUT:-bench}
AB_SECONDS=60           # hard cap for one ab run
KA_LIMIT=65535          # requests per keep-alive connection, all servers
                        # (lighttpd's setting is 16-bit)
BULK_BYTES=$((64 * 1024 * 1024))
HZ=$(getconf CLK_TCK)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

# ---- what the benchmark needs ----------------------------------------------

install_missing() {
	local missing="" p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' \
			|| missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	command -v apt-get >/dev/null || die "needs:$missing (no apt-get here)"
	[ "$(id -u)" -eq 0 ] || die "needs:$missing; as root: apt-get install$missing"
	say "installing:$missing"
	# Installing nginx or lighttpd must not leave a system service running.
	local policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' > "$policy"
		chmod 755 "$policy"
	fi
	apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$missing >/dev/null || { [ -n "$policy" ] && rm -f "$policy"; die "apt-get failed"; }
	[ -n "$policy" ] && rm -f "$policy"
	return 0
}

install_missing nginx lighttpd lighttpd-mod-openssl apache2-utils openssl curl \
	python3 gnuplot-nox procps binutils
[ -x "$MTLSD" ] || die "build $MTLSD first (make bench does)"
[ -x bench/floor ] || die "build bench/floor first (make bench does)"

# The optional parts: without them the run goes on, with fewer rows. In a
# subshell, install_missing's die only ends the subshell.
if [ "$PROFILE" != 0 ] && ! ( install_missing valgrind ); then
	say "bench: no valgrind: no callgrind counts (bench/profile.sh) in this run"
	PROFILE=0
fi
if [ "$MUSL" = build/musl/mtlsd ]; then
	if ! ( install_missing musl-tools ); then
		say "bench: no musl-tools: no MUSL=1 rows in this run"
		MUSL=0
	elif ! MAKEFLAGS='' make -s MUSL=1 build/musl/mtlsd >&2; then
		say "bench: make MUSL=1 failed: no MUSL=1 rows in this run"
		MUSL=0
	fi
fi
if [ "$MUSL" != 0 ] && [ ! -x "$MUSL" ]; then
	say "bench: no $MUSL: no MUSL=1 rows in this run"
	MUSL=0
fi

# Every server gets the same, generous descriptor limit.
ulimit -Sn 4096 2>/dev/null || say "bench: could not raise the open file limit to 4096; the 500-connection test may fail"

work=$(mktemp -d "${TMPDIR:-/tmp}/mtlsd-bench.XXXXXX")
chmod 755 "$work"

# The build issue 17's "before" figures are of, measured in the same rounds
# as this one: a change within 5 % is then not lost in the machine's drift
# between two runs days apart.
MTLSD_BEFORE=
if [ -n "$BEFORE" ] && [ "$BEFORE" != 0 ]; then
	mkdir "$work/before"
	if git archive "$BEFORE" | tar -x -C "$work/before" &&
		MAKEFLAGS='' make -s -C "$work/before" mtlsd >&2; then
		MTLSD_BEFORE=$work/before/mtlsd
		SERVERS="$SERVERS mtlsd-before"
	else
		say "bench: could not build $BEFORE: no mtlsd-before in this run"
	fi
fi
declare -A PID PORT
started=()

stop_all() {
	local p
	for p in "${started[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${started[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	started=()
}
cleanup() {
	stop_all
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		say "bench: kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- certificates and documents -------------------------------------------

say "bench: making certificates and the document root in $work"
sh tests/mkpki.sh "$work/pki" >/dev/null 2>&1 || die "tests/mkpki.sh failed"
mkdir -p "$work/keys-rsa"
cp "$work/pki/ca.crt" "$work/keys-rsa/ca.crt"
cp "$work/pki/server2.crt" "$work/keys-rsa/server.crt"
cp "$work/pki/server2.key" "$work/keys-rsa/server.key"
cp "$work/pki/server1.crt" "$work/keys-rsa/client.crt"
cp "$work/pki/server1.key" "$work/keys-rsa/client.key"
sh bench/mkpki-ec.sh "$work/keys-ec" >/dev/null 2>&1 || die "could not make the ECDSA set"
for ks in rsa ec; do
	cat "$work/keys-$ks/client.crt" "$work/keys-$ks/client.key" > "$work/keys-$ks/client.pem"
done

www=$work/www
mkdir -p "$www"
{
	printf '<!DOCTYPE html>\n<html><head><title>mtlsd bench</title></head><body>\n'
	head -c 700 /dev/zero | tr '\0' 'x' | fold -w 70
	printf '\n'
} > "$www/small.html"
truncate -s 1024 "$www/small.html"
cp "$www/small.html" "$www/index.html"
head -c "$BULK_BYTES" /dev/urandom > "$www/big.bin"

cipher_of() { [ "$1" = rsa ] && echo ECDHE-RSA-AES128-GCM-SHA256 || echo ECDHE-ECDSA-AES128-GCM-SHA256; }

# ---- the servers -------------------------------------------------------------

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

write_nginx_conf() { # KEYSET PORT DIR
	local k=$work/keys-$1
	mkdir -p "$3/tmp"
	cat > "$3/nginx.conf" <<EOF
worker_processes 1;
user root;
pid $3/nginx.pid;
error_log $3/error.log;
worker_rlimit_nofile ${NGINX_NOFILE:-4096};
events { worker_connections ${NGINX_CONNS:-2048}; }
http {
	include /etc/nginx/mime.types;
	access_log off;
	keepalive_requests $KA_LIMIT;
	keepalive_timeout ${KA_TIMEOUT:-75}s;
	client_body_temp_path $3/tmp/body;
	proxy_temp_path $3/tmp/proxy;
	fastcgi_temp_path $3/tmp/fastcgi;
	uwsgi_temp_path $3/tmp/uwsgi;
	scgi_temp_path $3/tmp/scgi;
	server {
		listen 127.0.0.1:$2 ssl;
		server_name server2;
		ssl_certificate $k/server.crt;
		ssl_certificate_key $k/server.key;
		ssl_client_certificate $k/ca.crt;
		ssl_verify_client on;
		location / { root $www; index index.html; }
	}
}
EOF
}

write_lighttpd_conf() { # KEYSET PORT DIR
	local k=$work/keys-$1
	cat > "$3/lighttpd.conf" <<EOF
server.modules = ( "mod_openssl" )
server.document-root = "$www"
server.bind = "127.0.0.1"
server.port = $2
server.errorlog = "$3/error.log"
server.max-fds = 4096
server.max-connections = 2048
server.max-keep-alive-requests = $KA_LIMIT
server.max-keep-alive-idle = 75
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html", ".bin" => "application/octet-stream" )
ssl.engine = "enable"
ssl.pemfile = "$k/server.crt"
ssl.privkey = "$k/server.key"
ssl.ca-file = "$k/ca.crt"
ssl.verifyclient.activate = "enable"
ssl.verifyclient.enforce = "enable"
EOF
}

# start SERVER KEYSET: starts it on a free port; sets PID[S-K] and PORT[S-K].
start() {
	local s=$1 ks=$2 port dir k bin=$MTLSD
	[ "$1" = mtlsd-musl ] && bin=$MUSL
	[ "$1" = mtlsd-before ] && bin=$MTLSD_BEFORE
	port=$(free_port)
	dir=$work/run-$s-$ks
	k=$work/keys-$ks
	rm -rf "$dir"
	mkdir -p "$dir"
	case $s in
	mtlsd | mtlsd-musl | mtlsd-before)
		"$bin" -l "127.0.0.1:$port" -r "$www" -c "$k/server.crt" -k "$k/server.key" \
			-C "$k/ca.crt" --access-log off --max-requests "$KA_LIMIT" \
			--keepalive-timeout "${KA_TIMEOUT:-75}" ${MTLSD_SLOTS:+--max-conns "$MTLSD_SLOTS"} \
			2> "$dir/error.log" &
		;;
	nginx)
		write_nginx_conf "$ks" "$port" "$dir"
		nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log" -g 'daemon off;' &
		;;
	lighttpd)
		write_lighttpd_conf "$ks" "$port" "$dir"
		lighttpd -D -f "$dir/lighttpd.conf" 2> "$dir/stderr.log" &
		;;
	esac
	PID[$s-$ks]=$!
	PORT[$s-$ks]=$port
	started+=("$!")
	check_server "$s" "$ks"
}

stop() { # SERVER KEYSET
	local p=${PID[$1-$2]} keep=() q
	kill "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	for q in "${started[@]}"; do
		[ "$q" = "$p" ] || keep+=("$q")
	done
	started=("${keep[@]}")
}

curl_to() { # KEYSET PORT PATH [curl options]
	local ks=$1 port=$2 path=$3
	shift 3
	curl -sS -k --tlsv1.2 --tls-max 1.2 --ciphers "$(cipher_of "$ks")" \
		--max-time 30 "$@" "https://127.0.0.1:$port$path"
}

# Waits for the server, then checks that it serves a verified client and
# refuses one without a certificate.
check_server() {
	local s=$1 ks=$2 port=${PORT[$1-$2]} k=$work/keys-$2 i code
	for i in $(seq 50); do
		code=$(curl_to "$ks" "$port" /small.html --cert "$k/client.crt" --key "$k/client.key" \
			-o /dev/null -w '%{http_code}' 2>/dev/null) && [ "$code" = 200 ] && break
		kill -0 "${PID[$s-$ks]}" 2>/dev/null || die "$s ($ks) did not start: $(cat "$work/run-$s-$ks"/*.log)"
		sleep 0.1
	done
	[ "$code" = 200 ] || die "$s ($ks) does not answer a verified client"
	code=$(curl_to "$ks" "$port" /small.html -o /dev/null -w '%{http_code}' 2>/dev/null) || true
	case $code in
	200) die "$s ($ks) served a client without a certificate" ;;
	esac
}

# The server's processes: the one started and its children (nginx's worker).
pids_of() {
	local p=${PID[$1-$2]}
	echo "$p"
	pgrep -P "$p" || true
}

cpu_ticks() { # SERVER KEYSET -> "UTIME STIME" of all its processes, in ticks
	local u=0 t=0 p pu pt
	for p in $(pids_of "$1" "$2"); do
		read -r pu pt < <(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12, $13}') \
			|| continue
		u=$((u + ${pu:-0}))
		t=$((t + ${pt:-0}))
	done
	echo "$u $t"
}

mem_kb() { # SERVER KEYSET FIELD(VmRSS|Pss) -> summed over its processes, KiB
	local t=0 p v
	for p in $(pids_of "$1" "$2"); do
		if [ "$3" = Pss ]; then
			v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
		else
			v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
		fi
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# shm_kb SERVER KEYSET -> KiB resident in shared anonymous mappings (shown
# as /dev/zero in smaps), summed over its processes: mtlsd's session cache,
# a fixed cost of at most --session-cache entries, whatever the connections
shm_kb() {
	local t=0 p v
	for p in $(pids_of "$1" "$2"); do
		v=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { z = ($6 == "/dev/zero") }
			z && /^Rss:/ { t += $2 } END { print t + 0 }' "/proc/$p/smaps" 2>/dev/null) || continue
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# ---- measurements ------------------------------------------------------------

raw=$work/results.tsv
printf 'keyset\tround\tserver\tmetric\tvalue\n' > "$raw"
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$raw"; }
meta=$work/meta.tsv
: > "$meta"
note() { printf '%s\t%s\n' "$1" "$2" >> "$meta"; }

now_s() { date +%s.%N; }
sample() { # KEYSET ROUND SERVER METRIC -> the value recorded, or nothing
	awk -F'\t' -v k="$1" -v r="$2" -v s="$3" -v m="$4" \
		'$1 == k && $2 == r && $3 == s && $4 == m { print $5 }' "$raw"
}

# record_cpu KEYSET ROUND SERVER PREFIX BEFORE AFTER N UNIT_US [LESS_USER LESS_SYS]:
# from two cpu_ticks readings, records PREFIX_cpu_us (user+sys), PREFIX_user_us
# and PREFIX_sys_us (ms for bulk: PREFIX_*_ms, UNIT_US 1000): the CPU
# between them, less LESS_USER and LESS_SYS µs, per N.
record_cpu() {
	local ks=$1 r=$2 s=$3 prefix=$4 c0=$5 c1=$6 n=$7 unit=$8 lu=${9:-0} ls=${10:-0}
	local suffix=us u t
	[ "$unit" = 1000 ] && suffix=ms
	read -r u t < <(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$n" -v unit="$unit" \
		-v lu="$lu" -v ls="$ls" 'BEGIN {
			split(a, x, " "); split(b, y, " ")
			if (n <= 0) n = 1
			printf "%.3f %.3f\n", ((y[1] - x[1]) / hz * 1e6 - lu) / n / unit,
				((y[2] - x[2]) / hz * 1e6 - ls) / n / unit
		}')
	record "$ks" "$r" "$s" "${prefix}_cpu_$suffix" "$(awk -v u="$u" -v t="$t" 'BEGIN { printf "%.3f", u + t }')"
	record "$ks" "$r" "$s" "${prefix}_user_$suffix" "$u"
	record "$ks" "$r" "$s" "${prefix}_sys_$suffix" "$t"
}
field() { awk -F: -v k="$1" '$1 == k { sub(/^[ \t]+/, "", $2); print $2; exit }' "$2"; }

run_ab() { # OUTFILE SERVER KEYSET REQUESTS CONCURRENCY [-k]
	local out=$1 s=$2 ks=$3 n=$4 c=$5
	shift 5
	ab "$@" -t "$AB_SECONDS" -n "$n" -c "$c" -E "$work/keys-$ks/client.pem" -f TLS1.2 \
		-Z "$(cipher_of "$ks")" "https://127.0.0.1:${PORT[$s-$ks]}/small.html" \
		> "$out" 2>&1 || { cat "$out" >&2; die "ab failed against $s ($ks)"; }
	local failed non2xx
	failed=$(field "Failed requests" "$out")
	non2xx=$(field "Non-2xx responses" "$out")
	[ "${failed:-0}" = 0 ] && [ -z "$non2xx" ] \
		|| die "ab against $s ($ks): $failed failed, ${non2xx:-0} non-2xx (see $out)"
	grep -q "^SSL/TLS Protocol: *TLSv1.2,$(cipher_of "$ks")," "$out" \
		|| die "ab against $s ($ks) did not negotiate TLS 1.2 $(cipher_of "$ks")"
}

measure_full() { # SERVER KEYSET ROUND
	local s=$1 ks=$2 r=$3 out=$work/ab-full-$1-$2-$3.txt c0 c1 n
	c0=$(cpu_ticks "$s" "$ks")
	run_ab "$out" "$s" "$ks" "$HS_N" 4
	c1=$(cpu_ticks "$s" "$ks")
	n=$(field "Complete requests" "$out")
	record "$ks" "$r" "$s" full_rps "$(field "Requests per second" "$out" | awk '{print $1}')"
	record_cpu "$ks" "$r" "$s" full "$c0" "$c1" "$n" 1
	note "kex-$s-$ks" "$(field "Server Temp Key" "$out")"
}

measure_resumed() { # SERVER KEYSET ROUND
	local s=$1 ks=$2 r=$3 out=$work/stime-$1-$2-$3.txt k=$work/keys-$2 c0 c1 t0 t1 marks n reused
	c0=$(cpu_ticks "$s" "$ks")
	t0=$(now_s)
	timeout $((RESUME_SECONDS + 30)) openssl s_time -connect "127.0.0.1:${PORT[$s-$ks]}" \
		-reuse -tls1_2 -cipher "$(cipher_of "$ks")" -cert "$k/client.crt" -key "$k/client.key" \
		-www /small.html -time "$RESUME_SECONDS" > "$out" 2>&1 \
		|| { cat "$out" >&2; die "openssl s_time failed against $s ($ks)"; }
	t1=$(now_s)
	c1=$(cpu_ticks "$s" "$ks")
	# One mark per timed connection: 'r' reused, anything else a full handshake.
	marks=$(sed -n '/^starting$/,/connections in/p' "$out" \
		| { grep -v -e '^starting$' -e 'connections in' || true; } | tr -d '\n')
	n=$(( ${#marks} + 1 ))    # plus the untimed first connection
	reused=$(printf '%s' "$marks" | tr -cd 'r' | wc -c)
	record "$ks" "$r" "$s" resumed_cps "$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')"
	record_cpu "$ks" "$r" "$s" resumed "$c0" "$c1" "$n" 1
	record "$ks" "$r" "$s" resumed_share "$(awk -v a="$reused" -v n="$n" 'BEGIN { printf "%.3f", a / n }')"
}

measure_keepalive() { # SERVER KEYSET ROUND
	local s=$1 ks=$2 r=$3 out=$work/ab-ka-$1-$2-$3.txt c0 c1 n hs_user hs_sys
	c0=$(cpu_ticks "$s" "$ks")
	run_ab "$out" "$s" "$ks" "$KA_N" 8 -k
	c1=$(cpu_ticks "$s" "$ks")
	n=$(field "Complete requests" "$out")
	[ "$(field "Keep-Alive requests" "$out")" = "$n" ] || die "$s ($ks) did not keep connections alive"
	record "$ks" "$r" "$s" ka_rps "$(field "Requests per second" "$out" | awk '{print $1}')"
	# ab opened 8 connections: take their handshakes out at the cost (user
	# and sys) the full-handshake test measured for this server in this round.
	hs_user=$(sample "$ks" "$r" "$s" full_user_us)
	hs_sys=$(sample "$ks" "$r" "$s" full_sys_us)
	record_cpu "$ks" "$r" "$s" ka "$c0" "$c1" "$n" 1 \
		"$(awk -v a="${hs_user:-0}" 'BEGIN { print 8 * a }')" \
		"$(awk -v a="${hs_sys:-0}" 'BEGIN { print 8 * a }')"
}

measure_bulk() { # SERVER KEYSET ROUND
	local s=$1 ks=$2 r=$3 k=$work/keys-$2 c0 c1 i line bytes=0 secs=0
	c0=$(cpu_ticks "$s" "$ks")
	for i in $(seq "$BULK_N"); do
		line=$(curl_to "$ks" "${PORT[$s-$ks]}" /big.bin --cert "$k/client.crt" --key "$k/client.key" \
			-o /dev/null -w '%{http_code} %{size_download} %{time_appconnect} %{time_total}') \
			|| die "bulk download from $s ($ks) failed"
		set -- $line
		[ "$1" = 200 ] && [ "$2" = "$BULK_BYTES" ] || die "bulk download from $s ($ks): $line"
		bytes=$((bytes + $2))
		secs=$(awk -v a="$secs" -v t="$4" -v h="$3" 'BEGIN { printf "%.6f", a + t - h }')
	done
	c1=$(cpu_ticks "$s" "$ks")
	record "$ks" "$r" "$s" bulk_mbps "$(awk -v b="$bytes" -v t="$secs" 'BEGIN { printf "%.1f", b / t / 1e6 }')"
	record_cpu "$ks" "$r" "$s" bulk "$c0" "$c1" "$BULK_N" 1000
}

measure_floor() { # KEYSET ROUND
	local ks=$1 r=$2 k=$work/keys-$1 curve line kv
	case ${KEX[$ks]:-X25519} in
	X25519*) curve=x25519 ;;
	*P-256* | *prime256v1*) curve=p256 ;;
	*) die "no floor for the curve mtlsd negotiated: ${KEX[$ks]}" ;;
	esac
	line=$(bench/floor -n 200 -g "$curve" "$k/server.key" "$k/ca.crt" "$k/client.crt" "$k/client.key") \
		|| die "bench/floor failed"
	for kv in $line; do
		case $kv in
		curve=* | server_key=*) ;;
		*=*) record "$ks" "$r" floor "floor_${kv%%=*}" "${kv#*=}" ;;
		esac
	done
}

# record_smaps SERVER KEYSET ROUND: its idle RSS split by mapping
# (bench/smaps.py), as idle_NAME_kb, and each library's as idle_lib_kb:FILE.
record_smaps() {
	local s=$1 ks=$2 r=$3 own=() line kv
	[ "$s" = lighttpd ] && own=(--own /usr/lib/lighttpd/)
	# shellcheck disable=SC2046
	line=$(python3 bench/smaps.py "${own[@]}" $(pids_of "$s" "$ks")) \
		|| die "could not read /proc/PID/smaps of $s ($ks)"
	for kv in $line; do
		case $kv in
		lib:*) kv=${kv#lib:}; record "$ks" "$r" "$s" "idle_lib_kb:${kv%=*}" "${kv##*=}" ;;
		*) record "$ks" "$r" "$s" "idle_${kv%%=*}_kb" "${kv#*=}" ;;
		esac
	done
}

# The baseline: what an idle process linked dynamically against glibc
# (sleep) has resident, measured like the servers.
measure_baseline() { # KEYSET ROUND
	local ks=$1 r=$2
	sleep 60 &
	PID[sleep-$ks]=$!
	started+=("$!")
	sleep 1
	record "$ks" "$r" sleep rss_idle_kb "$(mem_kb sleep "$ks" VmRSS)"
	record "$ks" "$r" sleep pss_idle_kb "$(mem_kb sleep "$ks" Pss)"
	record_smaps sleep "$ks" "$r"
	stop sleep "$ks"
}

# Fresh server: RSS idle, then with IDLE_N authenticated idle connections.
measure_memory() { # SERVER KEYSET ROUND
	local s=$1 ks=$2 r=$3 k=$work/keys-$2 line
	[ "$s" = sleep ] && { measure_baseline "$ks" "$r"; return; }
	start "$s" "$ks"
	sleep 1
	record "$ks" "$r" "$s" rss_idle_kb "$(mem_kb "$s" "$ks" VmRSS)"
	record "$ks" "$r" "$s" pss_idle_kb "$(mem_kb "$s" "$ks" Pss)"
	record "$ks" "$r" "$s" shm_idle_kb "$(shm_kb "$s" "$ks")"
	record_smaps "$s" "$ks" "$r"
	coproc IDLE { exec python3 bench/idle_clients.py 127.0.0.1 "${PORT[$s-$ks]}" \
		"$k/client.crt" "$k/client.key" "$(cipher_of "$ks")" "$IDLE_N" /small.html; }
	local idle_pid=$IDLE_PID
	if ! read -r -t 180 line <&"${IDLE[0]}" || [ "$line" != "ready $IDLE_N" ]; then
		kill "$idle_pid" 2>/dev/null || true
		wait "$idle_pid" 2>/dev/null || true
		die "could not hold $IDLE_N connections to $s ($ks)"
	fi
	sleep 0.5
	record "$ks" "$r" "$s" rss_conns_kb "$(mem_kb "$s" "$ks" VmRSS)"
	record "$ks" "$r" "$s" pss_conns_kb "$(mem_kb "$s" "$ks" Pss)"
	record "$ks" "$r" "$s" shm_conns_kb "$(shm_kb "$s" "$ks")"
	echo done >&"${IDLE[1]}"
	wait "$idle_pid" || true
	stop "$s" "$ks"
}

# Many idle authenticated connections (MANY_N, or as many as the hard
# descriptor limit allows) on a fresh server, in round 0: RSS idle and with
# them all open (after 1 s: mtlsd gives an idle connection's buffers back
# after 200 ms), a new client's time while they are open (curl's
# time_total, the slowest of 5), then one more request on each of them and
# the seconds until all are answered. The servers' keep-alive timeout is
# raised to 600 s so that the first connections outlive the opening of the
# last.
measure_many() { # SERVER KEYSET N
	local s=$1 ks=$2 n=$3 k=$work/keys-$2 line i t code slowest=0 many_pid
	local soft
	soft=$(ulimit -Sn)
	ulimit -Sn "$(ulimit -Hn)"
	# nginx closes idle keep-alive connections once fewer than a sixteenth
	# of its worker_connections are free (ngx_drain_connections): twice as
	# many keep all of them open.
	NGINX_CONNS=$((2 * n + 64)) NGINX_NOFILE=$(ulimit -Hn) KA_TIMEOUT=600 MTLSD_SLOTS=$((n + 2)) \
		start "$s" "$ks"
	# mtlsd says when the descriptor limit made it lower --max-conns: then
	# its rule and many_fit's differ, and not all n would be held.
	if grep -q -e '--max-conns.*lowered' "$work/run-$s-$ks/error.log" 2>/dev/null; then
		die "$s ($ks) for $n idle connections: $(grep -e '--max-conns.*lowered' "$work/run-$s-$ks/error.log")"
	fi
	sleep 1
	record "$ks" 0 "$s" many_rss_idle_kb "$(mem_kb "$s" "$ks" VmRSS)"
	coproc MANY { exec python3 bench/idle_clients.py --procs "$MANY_PROCS" 127.0.0.1 \
		"${PORT[$s-$ks]}" "$k/client.crt" "$k/client.key" "$(cipher_of "$ks")" "$n" \
		/small.html "$n"; }
	many_pid=$MANY_PID
	if ! read -r -t 900 line <&"${MANY[0]}" || [ "$line" != "ready $n" ]; then
		kill "$many_pid" 2>/dev/null || true
		wait "$many_pid" 2>/dev/null || true
		die "could not hold $n connections to $s ($ks): ${line:-nothing}"
	fi
	sleep 1
	record "$ks" 0 "$s" many_rss_kb "$(mem_kb "$s" "$ks" VmRSS)"
	record "$ks" 0 "$s" many_pss_kb "$(mem_kb "$s" "$ks" Pss)"
	for i in 1 2 3 4 5; do
		read -r code t < <(curl_to "$ks" "${PORT[$s-$ks]}" /small.html --cert "$k/client.crt" \
			--key "$k/client.key" -o /dev/null -w '%{http_code} %{time_total}\n') || true
		[ "${code:-}" = 200 ] || die "a new client of $s ($ks) with $n open: status ${code:-none}"
		slowest=$(awk -v a="$slowest" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
	done
	record "$ks" 0 "$s" many_new_ms "$(awk -v t="$slowest" 'BEGIN { printf "%.1f", t * 1000 }')"
	echo go >&"${MANY[1]}"
	if ! read -r -t 600 line <&"${MANY[0]}" || [ "${line% *}" != "done $n" ]; then
		kill "$many_pid" 2>/dev/null || true
		wait "$many_pid" 2>/dev/null || true
		die "$s ($ks) did not answer all $n connections once more: ${line:-nothing}"
	fi
	record "$ks" 0 "$s" many_answer_s "${line##* }"
	record "$ks" 0 "$s" many_rss_after_kb "$(mem_kb "$s" "$ks" VmRSS)"
	record "$ks" 0 "$s" many_conns "$n"
	echo close >&"${MANY[1]}"
	wait "$many_pid" || true
	stop "$s" "$ks"
	ulimit -Sn "$soft"
}

# How many of MANY_N idle connections both servers can hold under a hard
# descriptor limit (measure_many raises the soft one to it). mtlsd: 16
# descriptors for itself and 1 for the listener (avail is the rest), the
# open-file cache (--open-file-cache, 64 by default, at most avail / 4), then
# one descriptor a connection for its socket, and a file for one connection
# in eight at least: --max-conns <= (avail - cache) * 8 / 9; its slots are
# the connections and 2 more (MTLSD_SLOTS). nginx: one a connection, and 64
# for its listener, logs and the files it is sending.
MTLSD_FILE_CACHE=64
many_fit() { # HARD -> the count, at most MANY_N
	local hard=$1 avail cache m
	[ "$hard" = unlimited ] && { echo "$MANY_N"; return; }
	avail=$((hard - 16 - 1))
	cache=$MTLSD_FILE_CACHE
	[ "$cache" -gt $((avail / 4)) ] && cache=$((avail / 4))
	m=$(((avail - cache) * 8 / 9 - 2))
	[ $((hard - 64)) -lt "$m" ] && m=$((hard - 64))
	[ "$MANY_N" -lt "$m" ] && m=$MANY_N
	[ "$m" -lt 0 ] && m=0
	echo "$m"
}
many_need() { # N -> the hard limit that lets both servers hold N: mtlsd's
	# rule above, or nginx's worker_connections (2 N + 64) if that is more
	local n=$1 m
	m=$((16 + 1 + MTLSD_FILE_CACHE + (9 * (n + 2) + 7) / 8))
	[ $((2 * n + 64)) -gt "$m" ] && m=$((2 * n + 64))
	echo "$m"
}

# bench/profile.sh under callgrind, once: instructions per full handshake,
# per keep-alive request and for BearSSL's floor, in round 0.
measure_profile() { # KEYSET
	local ks=$1 out=$work/profile-$1.txt hs ka fl hs_n ka_n
	if ! PROFILE_MTLSD=$MTLSD bash bench/profile.sh "$ks" > "$out" 2>&1; then
		say "bench: bench/profile.sh $ks failed; no callgrind counts for $ks:"
		tail -n 5 "$out" >&2
		return 0
	fi
	hs=$(sed -n 's/^instructions per full handshake.*: *//p' "$out" | tr -cd '0-9')
	ka=$(sed -n 's/^instructions per keep-alive request.*: *//p' "$out" | tr -cd '0-9')
	fl=$(sed -n "s/^BearSSL floor, instructions.*: *//p" "$out" | tr -cd '0-9')
	[ -n "$hs" ] && [ -n "$ka" ] && [ -n "$fl" ] \
		|| { say "bench: could not read bench/profile.sh's counts (see $out)"; return 0; }
	record "$ks" 0 mtlsd prof_hs_ir "$hs"
	record "$ks" 0 mtlsd prof_ka_ir "$ka"
	record "$ks" 0 floor prof_floor_ir "$fl"
	hs_n=$(sed -n 's/^instructions per full handshake (ab -c 1, \([0-9]*\)).*/\1/p' "$out")
	ka_n=$(sed -n 's/^instructions per keep-alive request (\([0-9]*\) over.*/\1/p' "$out")
	note "profile_settings-$ks" "handshakes=$hs_n keepalive_requests=$ka_n"
	# The before build's counts, the same way (the floor is the same).
	[ -n "$MTLSD_BEFORE" ] || return 0
	if PROFILE_MTLSD=$MTLSD_BEFORE bash bench/profile.sh "$ks" > "$out.before" 2>&1; then
		hs=$(sed -n 's/^instructions per full handshake.*: *//p' "$out.before" | tr -cd '0-9')
		ka=$(sed -n 's/^instructions per keep-alive request.*: *//p' "$out.before" | tr -cd '0-9')
		[ -z "$hs" ] || record "$ks" 0 mtlsd-before prof_hs_ir "$hs"
		[ -z "$ka" ] || record "$ks" 0 mtlsd-before prof_ka_ir "$ka"
	fi
}

rotate() { # N WORDS... -> the words rotated left N times
	local n=$1
	shift
	local a=("$@") i
	for i in "${!a[@]}"; do
		printf '%s ' "${a[$(((i + n) % ${#a[@]}))]}"
	done
}

# ---- the run -------------------------------------------------------------------

note machine_cpu "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
note machine_nproc "$(nproc)"
note machine_kernel "$(uname -sr)"
note machine_os "$(. /etc/os-release && echo "$PRETTY_NAME")"
note machine_mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
note machine_load "$(cut -d' ' -f1-3 /proc/loadavg)"
note date "$(date -u '+%Y-%m-%d %H:%M UTC')"
# mtlsd -V prints the version, then (newer builds) the BearSSL it was built with.
mtlsd_version=$("$MTLSD" -V | head -n 1)
if [ -n "${BENCH_LABEL:-}" ]; then
	note version_mtlsd "$mtlsd_version ($BENCH_LABEL)"
elif [ "$MTLSD" = ./mtlsd ]; then
	note version_mtlsd "$mtlsd_version ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
else
	note version_mtlsd "$mtlsd_version ($MTLSD)"
fi
[ -z "$MTLSD_BEFORE" ] || note version_mtlsd_before "$("$MTLSD_BEFORE" -V | head -n 1) ($BEFORE)"
# How the kernel splits a process's CPU time into user and sys.
kconfig=$( (zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null) \
	| grep -E '^CONFIG_(TICK_CPU_ACCOUNTING|VIRT_CPU_ACCOUNTING_GEN|IRQ_TIME_ACCOUNTING|HZ)=' \
	| sed 's/^CONFIG_//' | tr '\n' ' ' || true)
note cpu_accounting "${kconfig% }"
note version_nginx "$(nginx -v 2>&1 | sed 's/.*: //')"
note version_lighttpd "$(lighttpd -v 2>&1 | head -1 | sed 's/ - .*//')"
note version_openssl "$(openssl version | sed 's/ *(.*//')"
note version_bearssl "$(dpkg-query -W -f='${Version}\n' libbearssl-dev 2>/dev/null | head -1)"
note settings "rounds=$ROUNDS handshakes=$HS_N keepalive_requests=$KA_N resume_seconds=$RESUME_SECONDS bulk_downloads=$BULK_N idle_conns=$IDLE_N many_conns=$MANY_N"
note hz "$HZ"

strip -o "$work/mtlsd.stripped" "$MTLSD"
note size_mtlsd "$(stat -c %s "$work/mtlsd.stripped")"
note links_mtlsd "$( (ldd "$MTLSD" 2>/dev/null || echo nothing) | awk '$1 !~ /vdso/ {print $1}' | tr '\n' ' ')"
note size_nginx "$(stat -c %s "$(command -v nginx)")"
note links_nginx "$(ldd "$(command -v nginx)" | awk '$1 !~ /vdso/ {print $1}' | tr '\n' ' ')"
note size_lighttpd "$(( $(stat -c %s "$(command -v lighttpd)") + $(stat -c %s /usr/lib/lighttpd/mod_openssl.so) ))"
note links_lighttpd "$(ldd "$(command -v lighttpd)" /usr/lib/lighttpd/mod_openssl.so | awk '$1 !~ /vdso|:$/ {print $1}' | sort -u | tr '\n' ' ')"
if [ "$MUSL" != 0 ]; then
	strip -o "$work/mtlsd-musl.stripped" "$MUSL"
	note size_mtlsd_musl "$(stat -c %s "$work/mtlsd-musl.stripped")"
	note links_mtlsd_musl "$( (ldd "$MUSL" 2>/dev/null || echo nothing) | awk '$1 !~ /vdso/ {print $1}' | tr '\n' ' ')"
	note version_mtlsd_musl "$MUSL$([ "$MUSL" = build/musl/mtlsd ] && echo " (make MUSL=1 at $(git rev-parse --short HEAD 2>/dev/null || echo '?'))")"
fi
note links_sleep "$(ldd "$(command -v sleep)" | awk '$1 !~ /vdso/ {print $1}' | tr '\n' ' ')"

read -r -a server_list <<< "$SERVERS"
memory_list=("${server_list[@]}")
[ "$MUSL" != 0 ] && memory_list+=(mtlsd-musl)
memory_list+=(sleep)
declare -A KEX
start_time=$(now_s)
for ks in $KEYSETS; do
	say "bench: $ks key set: starting ${server_list[*]}"
	for s in "${server_list[@]}"; do
		start "$s" "$ks"
	done
	for r in $(seq "$ROUNDS"); do
		order=$(rotate $((r - 1)) "${server_list[@]}")
		say "bench: $ks round $r/$ROUNDS, order: $order"
		for test in full resumed keepalive bulk; do
			for s in $order; do
				"measure_$test" "$s" "$ks" "$r"
			done
			if [ "$test" = full ]; then
				KEX[$ks]=$(field "Server Temp Key" "$work/ab-full-mtlsd-$ks-$r.txt" 2>/dev/null || echo X25519)
				measure_floor "$ks" "$r"
			fi
		done
	done
	for s in "${server_list[@]}"; do
		stop "$s" "$ks"
	done
	for r in $(seq "$ROUNDS"); do
		say "bench: $ks memory, round $r/$ROUNDS"
		for s in $(rotate $((r - 1)) "${memory_list[@]}"); do
			measure_memory "$s" "$ks" "$r"
		done
	done
	if [ "$MANY_N" != 0 ] && [ "$ks" = "${KEYSETS%% *}" ]; then
		many=$(many_fit "$(ulimit -Hn)")
		raise=""
		if [ "$many" -lt "$MANY_N" ]; then
			need=$(many_need "$MANY_N")
			if [ "$(id -u)" -ne 0 ]; then
				raise=" (not root: not raised)"
			elif ulimit -Hn "$need" 2>/dev/null; then
				say "bench: hard descriptor limit raised to $need for $MANY_N idle connections"
				many=$(many_fit "$(ulimit -Hn)")
			else
				raise=" (raising it to $need failed)"
			fi
		fi
		if [ "$many" -lt "$MANY_N" ]; then
			note many_limited "$many of $MANY_N: the hard descriptor limit is $(ulimit -Hn)$raise"
		fi
		for s in "${server_list[@]}"; do
			case $s in
			mtlsd | nginx)
				say "bench: $ks, $many idle connections to $s"
				measure_many "$s" "$ks" "$many"
				;;
			esac
		done
	fi
	if [ "$PROFILE" != 0 ]; then
		say "bench: $ks callgrind counts (bench/profile.sh $ks)"
		measure_profile "$ks"
	fi
done
note duration_s "$(awk -v a="$start_time" -v b="$(now_s)" 'BEGIN { printf "%.0f", b - a }')"

cp "$raw" "$OUT/results.tsv"
cp "$meta" "$OUT/results-meta.tsv"
bash bench/render.sh "$OUT"
say "bench: wrote $OUT/results.md, $OUT/results.png, $OUT/results.tsv and $OUT/results-meta.tsv"
cat "$OUT/results.md"
