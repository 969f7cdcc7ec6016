#!/bin/sh
# mkpki-allow.sh OUTDIR -- the certificates of tests/allow.sh: client
# identities beyond the CN (subject OUs, dNSName and URI SANs), and CNs
# that are not plain names, for --root-per-client.
#
#   ca        pinned root (P-256); server.crt/.key for localhost
#   NAME.crt  a client certificate, NAME.key its key (one key for all):
#     alice   OU=reports, DNS alice.example.org,
#             URI spiffe://example.org/ns/prod/sa/reports
#     bob     OU=eng and OU=ops, DNS Bob.Example.Org
#     carol   no OU, no SAN
#     svc     CN=svc-web, DNS web.example.org,
#             URI spiffe://example.org/ns/prod/sa/web
#     many    17 DNS SANs, the last many.example.org: more than mtlsd keeps
#     longuri DNS longuri.example.org and a 330-byte URI: more than it keeps
#     dave    CN=dave (its --root-per-client directory is a symlink)
#     dotdot, dot, slash   CNs "..", "." and "a/b"
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
mkdir -p "$1"
cd "$1"

openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -new -x509 -key ca.key -subj "/O=mtlsd test/CN=allow-ca" -days 3650 \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
openssl ecparam -name prime256v1 -genkey -noout -out server.key 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out client.key 2>/dev/null

# issue NAME SUBJECT [SAN]
issue() {
	key=client.key
	[ "$1" = server ] && key=server.key
	openssl req -new -key "$key" -subj "$2" -out "$1.csr"
	{
		echo "basicConstraints=CA:FALSE"
		[ -z "${3:-}" ] || echo "subjectAltName=$3"
	} >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
		-days 365 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
	[ "$1" = server ] || cp client.key "$1.key"
}

issue server "/CN=localhost" "DNS:localhost,IP:127.0.0.1"
issue alice "/O=mtlsd test/OU=reports/CN=alice" \
	"DNS:alice.example.org,URI:spiffe://example.org/ns/prod/sa/reports"
issue bob "/O=mtlsd test/OU=eng/OU=ops/CN=bob" "DNS:Bob.Example.Org"
issue carol "/O=mtlsd test/CN=carol"
issue svc "/O=mtlsd test/CN=svc-web" \
	"DNS:web.example.org,URI:spiffe://example.org/ns/prod/sa/web"
sans=
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
	sans="${sans}DNS:d$i.example.org,"
done
issue many "/O=mtlsd test/CN=many" "${sans}DNS:many.example.org"
long=spiffe://example.org/$(printf '%0310d' 0)
issue longuri "/O=mtlsd test/CN=longuri" "DNS:longuri.example.org,URI:$long"
issue dave "/O=mtlsd test/CN=dave"
issue dotdot "/O=mtlsd test/CN=.."
issue dot "/O=mtlsd test/CN=."
issue slash "/O=mtlsd test/CN=a\/b"
