#!/bin/sh
# tests/cross.sh - what `make test-cross` runs. For each ARM target (arm64,
# armhf; TARGETS='arm64' for one): builds mtlsd from scratch with Debian's
# cross compiler, dynamic and fully static, checks the ELF files, then runs
# the unit tests and the whole integration suite (tests/run.sh) against the
# static binary under qemu-user, with the native curl, openssl, gnutls-cli
# and python3 as clients on loopback.
#
# Prints one line per check and "N passed, N failed" last. A target whose
# emulator cannot run anything on this machine is skipped with the reason,
# except under CI=true, where that is a failure: CI must run it.
set -u
cd "$(dirname "$0")/.." || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/mtlsd-cross.XXXXXX")
server=
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null
		wait "$server" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

. tests/tally.sh

# triplet, ELF machine, emulator and qemu sysroot of a target
target_info() {
	case $1 in
	arm64) set -- aarch64-linux-gnu AArch64 qemu-aarch64-static ;;
	armhf) set -- arm-linux-gnueabihf ARM qemu-arm-static ;;
	*) return 1 ;;
	esac
	triplet=$1 machine=$2 qemu=$3 sysroot=/usr/$1
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if ! sh tests/mkpki.sh "$work/pki" >"$work/mkpki.log" 2>&1; then
	cat "$work/mkpki.log"
	echo "FAIL - tests/mkpki.sh could not make the test certificates"
	echo "0 passed, 1 failed"
	exit 1
fi
PKI=$work/pki

# check_static_elf T BINARY: the right machine, and nothing for ld.so to do
check_static_elf() {
	t=$1 bin=$2
	readelf -h "$bin" >"$work/elf" 2>&1
	readelf -d "$bin" >"$work/dyn" 2>&1
	readelf -l "$bin" >"$work/seg" 2>&1
	if ! grep -q "Machine: *$machine\$" "$work/elf"; then
		fail "$t: $bin is $machine" "$(grep Machine "$work/elf" | oneline)"
	elif [ "$t" = armhf ] && ! grep -q 'hard-float ABI' "$work/elf"; then
		fail "$t: $bin uses the hard-float ABI" "$(grep Flags "$work/elf" | oneline)"
	elif ! grep -q 'There is no dynamic section' "$work/dyn" || grep -q INTERP "$work/seg"; then
		fail "$t: $bin is fully static" "$(head -n 3 "$work/dyn" | oneline)"
	else
		ok "$t: $bin is $machine, fully static (no dynamic section, no interpreter)"
	fi
}

# The static binary must open no shared object or NSS file while serving:
# qemu's -strace shows every open.
check_no_runtime_files() {
	t=$1 dir=$2
	port=$(free_port)
	"$qemu" -strace "$dir/mtlsd" -l "127.0.0.1:$port" -r www -c "$PKI/server2.crt" \
		-k "$PKI/server2.key" -C "$PKI/ca.crt" --access-log off \
		>/dev/null 2>"$work/strace" </dev/null &
	server=$!
	i=0
	code=000
	while [ $i -lt 150 ]; do
		code=$(curl -s --max-time 10 --resolve "server2:$port:127.0.0.1" --cacert "$PKI/ca.crt" \
			--cert "$PKI/server1.crt" --key "$PKI/server1.key" -o /dev/null -w '%{http_code}' \
			"https://server2:$port/") && break
		kill -0 "$server" 2>/dev/null || break
		sleep 0.2
		i=$((i + 1))
	done
	kill -TERM "$server" 2>/dev/null
	wait "$server" 2>/dev/null
	server=
	if [ "$code" != 200 ]; then
		fail "$t: static binary serves without any shared library" "status $code; $(tail -n 3 "$work/strace" | oneline)"
	elif ! grep -q 'openat(.*server2\.crt' "$work/strace"; then
		fail "$t: static binary serves without any shared library" "qemu -strace showed no opens"
	elif grep -E 'open(at)?\(.*(\.so|nsswitch\.conf|/etc/(hosts|services|gai\.conf|resolv\.conf|host\.conf))' \
		"$work/strace" >"$work/opened"; then
		fail "$t: static binary serves without any shared library" "$(oneline <"$work/opened")"
	else
		ok "$t: static binary served a request, opening no shared library or NSS file"
	fi
}

for t in ${TARGETS:-arm64 armhf}; do
	if ! target_info "$t"; then
		fail "$t: unknown target (arm64 or armhf)"
		continue
	fi
	echo "# $t: $triplet-gcc, $qemu"
	dyn=build/$t
	static=build/$t-static
	rm -rf "$dyn" "$static"
	if make CROSS="$triplet-" all >"$work/build.log" 2>&1; then
		ok "$t: make CROSS=$triplet- builds $dyn/mtlsd"
	else
		fail "$t: make CROSS=$triplet- builds $dyn/mtlsd" "$(tail -n 5 "$work/build.log" | oneline)"
	fi
	if make CROSS="$triplet-" STATIC=1 all "$static/unit" "$static/unit-proxy" >"$work/build.log" 2>&1; then
		ok "$t: make CROSS=$triplet- STATIC=1 builds $static/mtlsd"
	else
		fail "$t: make CROSS=$triplet- STATIC=1 builds $static/mtlsd" "$(tail -n 5 "$work/build.log" | oneline)"
		continue
	fi
	check_static_elf "$t" "$static/mtlsd"

	if ! command -v "$qemu" >/dev/null 2>&1; then
		fail "$t: $qemu installed" "apt-get install qemu-user-static (make test-cross installs it)"
		continue
	fi
	out=$(timeout 60 "$qemu" "$static/mtlsd" -V 2>&1)
	# -V's first line; the second names the BearSSL it was built with.
	if [ "$(printf '%s\n' "$out" | head -n 1)" != "mtlsd 0.1.0" ]; then
		if [ "${CI:-}" = true ]; then
			fail "$t: $qemu runs the static binary" "$(echo "$out" | oneline)"
		else
			skip "$t: everything under emulation" "$qemu cannot run programs on this machine: $(echo "$out" | oneline)"
		fi
		continue
	fi
	ok "$t: $qemu $static/mtlsd -V"
	if [ -x "$dyn/mtlsd" ]; then
		out=$(timeout 60 "$qemu" -L "$sysroot" "$dyn/mtlsd" -V 2>&1)
		if [ "$(printf '%s\n' "$out" | head -n 1)" = "mtlsd 0.1.0" ]; then
			ok "$t: the dynamic build runs (qemu -L $sysroot)"
		else
			fail "$t: the dynamic build runs (qemu -L $sysroot)" "$(echo "$out" | oneline)"
		fi
	fi
	check_no_runtime_files "$t" "$static"

	UNIT="$qemu $static/unit" UNIT_PROXY="$qemu $static/unit-proxy" MTLSD="$qemu $static/mtlsd" \
		sh tests/run.sh >"$work/run.$t" 2>&1
	rc=$?
	# Each line once, marked with the target; the run's total is counted.
	relabel "$t" "$work/run.$t"
	tally "$t: tests/run.sh under $qemu" "$work/run.$t" "$rc"
done
total
