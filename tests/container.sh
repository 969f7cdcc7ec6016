#!/usr/bin/env bash
# tests/container.sh -- the seed's container, for real, with podman: builds
# the image from the project's Dockerfile, runs it with the seed's nginx
# server block and certificates, and checks the seed's three curl answers
# (the page with a client certificate; nginx's two 400 pages without one
# and with a self-signed one) byte for byte; then the seed's two-host
# compose scenario with podman-compose: server2 that image, server1 a
# client image with curl built here from the same base.
#
#   bash tests/container.sh
#
# Needs: podman, buildah (podman build), mmdebstrap (the base image, once),
# podman-compose (installed from Debian's archive when missing and root),
# runc where crun cannot run (cgroups in hybrid mode). The base image is
# made from Debian's archive, never pulled from a registry:
#   mmdebstrap --variant=minbase --format=tar bookworm base.tar
#   podman import base.tar debian:bookworm-slim
# and kept: the tarball in $CACHE, the images in podman's store.
# A step that cannot run here is skipped with the reason; under CI=true a
# skip is a failure. Prints "N passed, N failed" last.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1

# Where the deployment files are, relative to the project's top directory.
DOCKERFILE=${DOCKERFILE:-deploy/Dockerfile}
COMPOSE_FILE=${COMPOSE_FILE:-deploy/docker-compose.yml}
DEMO_CONF=${DEMO_CONF:-deploy/demo/nginx.conf}   # the seed's server block
DEMO_CERTS=${DEMO_CERTS:-deploy/demo/certs}       # what the compose file mounts
CACHE=${MTLSD_CONTAINER_CACHE:-/var/tmp/mtlsd-container}
BASE_IMAGE=debian:bookworm-slim
IMAGE=localhost/mtlsd-test:latest
CLIENT_IMAGE=localhost/mtlsd-test-client:latest

TARGET=mtlsd
. tests/lib.sh
START=$SECONDS

# cannot NAME REASON -- a step that cannot run on this machine
cannot() {
	if [ "${CI:-}" = true ]; then fail "$1" "cannot run under CI=true: $2"; else skip "$1" "$2"; fi
}
finish() { echo "# $((SECONDS - START)) s in all"; summary; exit; }

# ---- what the machine needs ------------------------------------------------

for tool in podman buildah; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		cannot "containers" "no $tool here (apt-get install podman buildah)"
		finish
	fi
done

# podman may not raise rlimits here: the default ulimits must be none.
CONF_ETC=/etc/containers/containers.conf
if [ ! -f "$CONF_ETC" ] && [ -w /etc ]; then
	mkdir -p /etc/containers && printf '[containers]\ndefault_ulimits = []\n' >"$CONF_ETC"
fi
# This suite's own settings (CONTAINERS_CONF replaces the system files):
# the same, and runc where crun refuses a host with cgroups in hybrid mode.
export CONTAINERS_CONF=$TMPD/containers.conf
printf '[containers]\ndefault_ulimits = []\n' >"$CONTAINERS_CONF"

# The base image: imported from the cached tarball, or made first.
if ! podman image exists "$BASE_IMAGE" 2>/dev/null; then
	mkdir -p "$CACHE"
	if [ ! -s "$CACHE/base.tar" ]; then
		if ! command -v mmdebstrap >/dev/null 2>&1; then
			cannot "base image" "no $BASE_IMAGE and no mmdebstrap to make it (apt-get install mmdebstrap)"
			finish
		fi
		t=$SECONDS
		if ! mmdebstrap --variant=minbase --format=tar bookworm "$CACHE/base.tar.part" \
			>"$TMPD/mmdebstrap.log" 2>&1; then
			cannot "base image" "mmdebstrap failed (is Debian's archive reachable?): $(tail -n 3 "$TMPD/mmdebstrap.log")"
			finish
		fi
		mv "$CACHE/base.tar.part" "$CACHE/base.tar"
		echo "# mmdebstrap: $((SECONDS - t)) s"
	fi
	if ! podman import "$CACHE/base.tar" "$BASE_IMAGE" >"$TMPD/import.log" 2>&1; then
		fail "base image" "podman import: $(tail -n 3 "$TMPD/import.log")"
		finish
	fi
fi
ok "base image $BASE_IMAGE from Debian's archive"

if ! podman run --rm --network none "$BASE_IMAGE" true >"$TMPD/run.log" 2>&1; then
	if grep -q "hybrid mode" "$TMPD/run.log" && command -v runc >/dev/null 2>&1; then
		printf '[engine]\nruntime = "runc"\n' >>"$CONTAINERS_CONF"
		echo "# crun cannot run here ($(head -n 1 "$TMPD/run.log")): using runc"
	fi
	if ! podman run --rm --network none "$BASE_IMAGE" true >"$TMPD/run.log" 2>&1; then
		cannot "containers" "podman cannot run a container here: $(head -n 3 "$TMPD/run.log")$(command -v runc >/dev/null || echo ' (apt-get install runc may help)')"
		finish
	fi
fi

# ---- the image ---------------------------------------------------------------

# The build context: the project's files as git knows them (no keys, no
# builds), so the compose file's relative paths work in a scratch copy.
CTX=$TMPD/ctx
mkdir -p "$CTX"
if git rev-parse --show-toplevel >/dev/null 2>&1; then
	git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$CTX"
else
	tar --exclude=.git -cf - . | tar -xf - -C "$CTX"
fi
for f in "$DOCKERFILE" "$COMPOSE_FILE" "$DEMO_CONF"; do
	if [ ! -f "$CTX/$f" ]; then
		fail "deployment files" "$f is not in the project (set DOCKERFILE, COMPOSE_FILE, DEMO_CONF)"
		finish
	fi
done
# The seed's certificates (the reference openssl commands, tests/mkpki.sh),
# readable by the image's user 65532: test keys, in this scratch copy only.
if ! sh tests/mkpki.sh "$CTX/$DEMO_CERTS" >"$TMPD/mkpki.log" 2>&1; then
	fail "certificates" "tests/mkpki.sh: $(tail -n 3 "$TMPD/mkpki.log")"
	finish
fi
chmod 644 "$CTX/$DEMO_CERTS"/*.key
CERTS=$CTX/$DEMO_CERTS

t=$SECONDS
if podman build --isolation chroot -t "$IMAGE" -f "$CTX/$DOCKERFILE" "$CTX" >"$TMPD/build.log" 2>&1; then
	ok "podman build --isolation chroot of $DOCKERFILE ($((SECONDS - t)) s)"
else
	fail "podman build of $DOCKERFILE" "$(tail -n 5 "$TMPD/build.log")"
	finish
fi
echo "# image build: $((SECONDS - t)) s (apt-get in the build stage; layers are cached between runs)"

# ---- the image, run with the seed's server block -----------------------------

NAME=mtlsd-test-$$
PORT=$(free_port)
cleanup_container() { podman rm -f "$NAME" >/dev/null 2>&1 || true; }
trap 'cleanup_container; _cleanup' EXIT
if ! podman run -d --name "$NAME" --read-only --cap-drop ALL \
	--security-opt no-new-privileges:true \
	--sysctl net.ipv4.ip_unprivileged_port_start=0 \
	-p "127.0.0.1:$PORT:443" \
	-v "$CTX/$DEMO_CONF:/etc/nginx/nginx.conf:ro" \
	-v "$CERTS/server2.crt:/etc/nginx/certs/server2.crt:ro" \
	-v "$CERTS/server2.key:/etc/nginx/certs/server2.key:ro" \
	-v "$CERTS/ca.crt:/etc/nginx/certs/ca.crt:ro" \
	"$IMAGE" >"$TMPD/podman-run.log" 2>&1; then
	fail "podman run" "$(tail -n 3 "$TMPD/podman-run.log")"
	finish
fi
for _ in $(seq 1 100); do
	port_open 127.0.0.1 "$PORT" && break
	sleep 0.1
done

# nginx 1.22.1's two 400 pages (see nginx-answers.md), with mtlsd's token.
TOKEN=mtlsd/$(podman run --rm "$IMAGE" --version 2>/dev/null | head -n 1 | awk '{print $2}')
page400() {
	printf '<html>\r\n<head><title>400 %s</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>%s</center>\r\n<hr><center>%s</center>\r\n</body>\r\n</html>\r\n' "$1" "$1" "$TOKEN"
}
page400 "No required SSL certificate was sent" >"$TMPD/expect-nocert"
page400 "The SSL certificate error" >"$TMPD/expect-selfsigned"

# The seed's three curl commands, to server2 at the published port
seed_curl() {
	curl -sS --resolve "server2:$PORT:127.0.0.1" --cacert "$CERTS/ca.crt" "$@" "https://server2:$PORT/"
}
seed_curl --cert "$CERTS/server1.crt" --key "$CERTS/server1.key" -o "$TMPD/got-page" 2>"$TMPD/curl.err"
if cmp -s "$TMPD/got-page" "$CTX/www/index.html"; then
	ok "container: the page, with server1's certificate"
else
	fail "container: the page" "$(head -c 300 "$TMPD/got-page") $(cat "$TMPD/curl.err") $(podman logs "$NAME" 2>&1 | tail -n 3)"
fi
seed_curl -o "$TMPD/got-nocert" 2>"$TMPD/curl.err"
if cmp -s "$TMPD/got-nocert" "$TMPD/expect-nocert"; then
	ok "container: nginx's 400 page without a certificate, byte for byte"
else
	fail "container: 400 without a certificate" "$(head -c 300 "$TMPD/got-nocert") $(cat "$TMPD/curl.err")"
fi
seed_curl --cert "$CERTS/selfsigned.crt" --key "$CERTS/selfsigned.key" -o "$TMPD/got-selfsigned" 2>"$TMPD/curl.err"
if cmp -s "$TMPD/got-selfsigned" "$TMPD/expect-selfsigned"; then
	ok "container: nginx's 400 page with a self-signed certificate, byte for byte"
else
	fail "container: 400 with a self-signed certificate" "$(head -c 300 "$TMPD/got-selfsigned") $(cat "$TMPD/curl.err")"
fi
user=$(podman top "$NAME" user 2>/dev/null | tail -n 1 | tr -d ' ')
expect_eq "container: runs as the image's user, not root" "65532" "$user"
cleanup_container

# ---- the two-host compose scenario -------------------------------------------

COMPOSE=()
if command -v podman-compose >/dev/null 2>&1; then
	COMPOSE=(podman-compose)
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
	apt-get install -y podman-compose >"$TMPD/apt.log" 2>&1; then
	COMPOSE=(podman-compose)
fi
if [ ${#COMPOSE[@]} = 0 ]; then
	cannot "compose scenario" "no podman-compose here (apt-get install podman-compose)"
	finish
fi

# server1 finds server2 by name: podman's CNI networks need the dnsname plugin.
if [ "$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null)" = cni ] &&
	[ ! -x /usr/lib/cni/dnsname ] && [ ! -x /usr/libexec/cni/dnsname ] && [ ! -x /opt/cni/bin/dnsname ]; then
	cannot "compose scenario" "containers cannot find each other by name: podman's CNI network has no dnsname plugin (apt-get install golang-github-containernetworking-plugin-dnsname)"
	finish
fi

# server1: curl on the same base, built here (no registry but Debian's archive)
mkdir -p "$TMPD/client"
cat >"$TMPD/client/Containerfile" <<EOF
FROM $BASE_IMAGE
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates \\
	&& rm -rf /var/lib/apt/lists/*
EOF
t=$SECONDS
if ! podman build --isolation chroot -t "$CLIENT_IMAGE" "$TMPD/client" >"$TMPD/client-build.log" 2>&1; then
	fail "client image" "$(tail -n 5 "$TMPD/client-build.log")"
	finish
fi
echo "# client image build: $((SECONDS - t)) s"

# The project's compose file, with server1's registry image replaced by the
# local one, server2's image by the one built above, and the published port
# made a free loopback one.
CPORT=$(free_port)
# Written next to the original, so its relative paths (../www, ./demo) hold.
CFILE=$(dirname "$CTX/$COMPOSE_FILE")/compose-test.yml
sed -e "s#^\(    image:\) curlimages/curl:.*#\1 $CLIENT_IMAGE#" \
	-e "s#^\(    image:\) mtlsd:latest#\1 $IMAGE#" \
	-e "s#\"8443:443\"#\"127.0.0.1:$CPORT:443\"#" \
	"$CTX/$COMPOSE_FILE" >"$CFILE"
# podman-compose 1.0.3 (Debian 12) passes a sysctl given as a mapping
# ("key: value") without its value, and podman refuses it; the list form
# ("- key=value") means the same to docker compose and works with both.
if grep -q '^      net\.ipv4\.ip_unprivileged_port_start: ' "$CFILE"; then
	sed -i 's#^      net\.ipv4\.ip_unprivileged_port_start: "*\([0-9]*\)"*#      - net.ipv4.ip_unprivileged_port_start=\1#' "$CFILE"
	echo "# note: $COMPOSE_FILE gives sysctls as a mapping, which podman-compose 1.0.3 cannot pass; run with the list form"
fi
if ! grep -q "$CLIENT_IMAGE" "$CFILE" || ! grep -q "$IMAGE" "$CFILE"; then
	fail "compose file" "$COMPOSE_FILE no longer names curlimages/curl and mtlsd:latest as this test expects"
	finish
fi
PROJECT=mtlsdtest$$
t=$SECONDS
(cd "$(dirname "$CFILE")" && timeout -k 10 180 "${COMPOSE[@]}" -p "$PROJECT" -f "$CFILE" \
	up --abort-on-container-exit) >"$TMPD/compose.log" 2>&1
podman logs "${PROJECT}_server1_1" >"$TMPD/server1.out" 2>"$TMPD/server1.err"
(cd "$(dirname "$CFILE")" && timeout -k 10 60 "${COMPOSE[@]}" -p "$PROJECT" -f "$CFILE" down) \
	>>"$TMPD/compose.log" 2>&1
podman network rm "${PROJECT}_default" >/dev/null 2>&1 || true
echo "# compose scenario: $((SECONDS - t)) s"
cat "$CTX/www/index.html" "$TMPD/expect-nocert" "$TMPD/expect-selfsigned" >"$TMPD/expect-server1"
if cmp -s "$TMPD/server1.out" "$TMPD/expect-server1"; then
	ok "compose: server1 prints the page, then nginx's two 400 pages, byte for byte"
else
	fail "compose: server1's output" "$(head -c 600 "$TMPD/server1.out") | stderr: $(tail -n 5 "$TMPD/server1.err") | compose: $(grep -v '^\(podman\|exit code\)' "$TMPD/compose.log" | tail -n 8)"
fi
finish
