#!/bin/sh
# tests/install-deps.sh [build|test] - installs the Debian/Ubuntu packages
# mtlsd needs that are missing: "build" for make/make run, "test" for make
# test. Does nothing when everything is there; uses sudo when not root.
set -eu

build_packages="make gcc libc6-dev libbearssl-dev openssl"
test_packages="$build_packages curl gnutls-bin python3 iproute2 procps"

case "${1:-test}" in
build) wanted=$build_packages ;;
test) wanted=$test_packages ;;
*) echo "usage: $0 [build|test]" >&2; exit 2 ;;
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
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
