#!/bin/sh
# mkcerts.sh [-f] [DIR] -- make the demo PKI used by `make certs`.
#
#   ca.crt ca.key          CN=mtlsd demo CA
#   server.crt server.key  CN=localhost, SAN DNS:localhost IP:127.0.0.1, serverAuth
#   client.crt client.key  CN=client, clientAuth
#   client.p12             client cert + key for browsers, password "mtlsd"
#
# All RSA-2048, signed by the CA.  DIR defaults to this script's directory.
# Does nothing when DIR/ca.crt exists, unless -f is given.
set -eu

usage() { echo "usage: $0 [-f] [DIR]" >&2; exit 2; }

force=0
while [ $# -gt 0 ]; do
	case $1 in
	-f) force=1; shift ;;
	-h|--help) echo "usage: $0 [-f] [DIR]"; exit 0 ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -le 1 ] || usage
dir=${1:-$(dirname "$0")}
days=${DAYS:-825}

mkdir -p "$dir"
cd "$dir"

if [ -e ca.crt ] && [ "$force" -eq 0 ]; then
	echo "mkcerts: $(pwd)/ca.crt exists, nothing to do (use -f to remake)"
	exit 0
fi

umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# CA
openssl genrsa -out ca.key 2048 2>/dev/null
openssl req -x509 -new -key ca.key -out ca.crt -days "$days" -sha256 \
	-subj "/CN=mtlsd demo CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign"

# leaf NAME CN EXTFILE
leaf() {
	openssl genrsa -out "$1.key" 2048 2>/dev/null
	openssl req -new -key "$1.key" -out "$tmp/$1.csr" -subj "/CN=$2"
	openssl x509 -req -in "$tmp/$1.csr" -CA ca.crt -CAkey ca.key \
		-CAserial "$tmp/ca.srl" -CAcreateserial \
		-out "$1.crt" -days "$days" -sha256 -extfile "$3" 2>/dev/null
}

cat > "$tmp/server.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
leaf server localhost "$tmp/server.ext"

cat > "$tmp/client.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
leaf client client "$tmp/client.ext"

# OpenSSL 3's default PKCS#12 (AES-256-CBC, PBKDF2, SHA-256 MAC) imports
# into current Firefox, Chrome, Windows 10+ and macOS; set P12_LEGACY=1 to
# get the old RC2/3DES form for older key stores.
legacy=
[ "${P12_LEGACY:-0}" = 1 ] && legacy=-legacy
# shellcheck disable=SC2086
openssl pkcs12 -export $legacy -in client.crt -inkey client.key -certfile ca.crt \
	-name "mtlsd demo client" -out client.p12 -passout pass:mtlsd

chmod 644 ca.crt server.crt client.crt
chmod 600 ca.key server.key client.key client.p12

echo "mkcerts: made in $(pwd):"
echo "  ca.crt ca.key          CA \"mtlsd demo CA\" (give ca.crt to mtlsd -C and to clients)"
echo "  server.crt server.key  server cert for localhost / 127.0.0.1 (mtlsd -c / -k)"
echo "  client.crt client.key  client cert CN=client (curl --cert/--key)"
echo "  client.p12             client cert for browsers, password: mtlsd"
