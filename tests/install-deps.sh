#!/bin/sh
# tests/install-deps.sh [build|test|cross|musl] - installs the Debian/Ubuntu
# packages mtlsd needs that are missing: "build" for make/make run, "test"
# for make test, "cross" for make test-cross and make size (arm64 and armhf
# cross compilers, BearSSL for both from multiarch, qemu-user), "musl" for
# make test-musl (musl-gcc). Does nothing when everything is there; uses
# sudo when not root.
set -eu

build_packages="make gcc libc6-dev libbearssl-dev openssl"
test_packages="$build_packages curl gnutls-bin python3 iproute2 procps valgrind"
cross_packages="$test_packages binutils gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf
	libc6-dev-arm64-cross libc6-dev-armhf-cross libbearssl-dev:arm64
	libbearssl-dev:armhf qemu-user-static"
musl_packages="$test_packages binutils musl-tools"

case "${1:-test}" in
build) wanted=$build_packages ;;
test) wanted=$test_packages ;;
cross) wanted=$cross_packages ;;
musl) wanted=$musl_packages ;;
*) echo "usage: $0 [build|test|cross|musl]" >&2; exit 2 ;;
esac

missing=""
for package in $wanted; do
	if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $package"
	fi
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "mtlsd needs these packages (no apt-get here):$missing" >&2
	exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "mtlsd needs:$missing; as root run: apt-get install$missing" >&2
		exit 1
	fi
	sudo=sudo
fi
echo "installing:$missing"
if [ "${1:-test}" = cross ]; then
	for arch in arm64 armhf; do
		dpkg --print-foreign-architectures | grep -qx "$arch" ||
			$sudo dpkg --add-architecture "$arch"
	done
fi
# One index the mirror serves badly (seen: bookworm-security for armhf) must
# not stop us: the install below fails if a package is really missing.
$sudo apt-get update -qq || echo "apt-get update failed in part; installing anyway" >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
