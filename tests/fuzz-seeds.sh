#!/bin/sh
# tests/fuzz-seeds.sh PKI OUTDIR -- inputs for the PEM fuzz target made from
# a PKI that tests/mkpki.sh made: CERT NUL KEY NUL CA, with real private
# keys. They are made at test time because no private key is checked in
# (tests/corpus/pem has certificates and damaged keys only).
set -eu
if [ $# -ne 2 ]; then
	echo "usage: $0 PKI OUTDIR" >&2
	exit 2
fi
pki=$1 out=$2
mkdir -p "$out"
for files in server2.crt,server2.key,ca.crt server2-chain.crt,rsa-pkcs1.key,ca.crt \
	ec-server.crt,ec-server.key,ca.crt ec-server.crt,ec-server.p8.key,other-ca.crt \
	server2.crt,mismatch.key,ca.crt server2.crt,ec-server.key,ca.crt \
	server2.crt,encrypted.key,ca.crt server2.crt,ed25519.key,ca.crt \
	server1.pem,server1.pem,ca.crt; do
	cert=${files%%,*}
	key=${files#*,}
	key=${key%,*}
	ca=${files##*,}
	{
		cat "$pki/$cert"
		printf '\000'
		cat "$pki/$key"
		printf '\000'
		cat "$pki/$ca"
	} >"$out/pki-${cert%.*}-${key%.*}-${ca%.*}"
done
