#!/bin/sh
# mkpki-ec.sh DIR -- the ECDSA P-256 key set for bench/run.sh and
# bench/profile.sh, made the way tests/mkpki.sh makes the RSA reference set:
# a CA from `req -x509`, v1 leaf certificates without SAN, PKCS#8 keys.
#   ca.crt ca.key  server.crt server.key  client.crt client.key
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
cd "$1"
subj="/C=ES/ST=Spain/L=Spain/O=ORG/OU=TEST/CN"
for k in ca server client; do
	openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkey -out "$k.key"
done
openssl req -x509 -new -key ca.key -out ca.crt -nodes -days 30 -subj "$subj=ec-ca.com"
for k in server client; do
	openssl req -new -key "$k.key" -out "$k.csr" -nodes -subj "$subj=ec-$k"
	openssl x509 -req -in "$k.csr" -CA ca.crt -CAkey ca.key -out "$k.crt" -days 30 2>/dev/null
done
rm -f ./*.csr
chmod 600 ./*.key
