#!/bin/sh
# mkpki.sh OUTDIR -- make the throwaway PKI used by tests/integration.sh.
#
# The reference set (ca, server1 = client, server2 = server) is made exactly
# the way the setup we replace made it: RSA-2048, PKCS#8 keys from genrsa,
# a v3 CA from `req -x509` and v1 leaf certificates without SAN.
# Everything else is made for negative and compatibility checks.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
mkdir -p "$1"
cd "$1"

subj() { echo "/C=ES/ST=Spain/L=Spain/O=ORG/OU=TEST/CN=$1"; }

# ---- reference set -------------------------------------------------------
openssl genrsa -out server1.key 2048 2>/dev/null
openssl genrsa -out server2.key 2048 2>/dev/null
openssl genrsa -out ca.key 2048 2>/dev/null
openssl req -x509 -new -key ca.key -out ca.crt -nodes -days 365 -subj "$(subj ca.com)"
openssl req -new -key server1.key -out server1.csr -nodes -subj "$(subj server1)"
openssl req -new -key server2.key -out server2.csr -nodes -subj "$(subj server2)"
openssl x509 -req -in server1.csr -CA ca.crt -CAkey ca.key -out server1.crt -days 365 2>/dev/null
openssl x509 -req -in server2.csr -CA ca.crt -CAkey ca.key -out server2.crt -days 365 2>/dev/null

# One-file forms some clients want.
cat server1.crt server1.key > server1.pem
cat server2.crt ca.crt > server2-chain.crt   # leaf first, then the CA

# ---- untrusted client certificates ---------------------------------------
# A second, unrelated CA and a client certificate it signed.
openssl genrsa -out other-ca.key 2048 2>/dev/null
openssl req -x509 -new -key other-ca.key -out other-ca.crt -nodes -days 365 -subj "$(subj other-ca.com)"
openssl genrsa -out other-client.key 2048 2>/dev/null
openssl req -new -key other-client.key -out other-client.csr -nodes -subj "$(subj other-client)"
openssl x509 -req -in other-client.csr -CA other-ca.crt -CAkey other-ca.key \
	-out other-client.crt -days 365 2>/dev/null

# Self-signed client certificate (same subject as the good client).
openssl genrsa -out selfsigned.key 2048 2>/dev/null
openssl req -x509 -new -key selfsigned.key -out selfsigned.crt -nodes -days 365 -subj "$(subj server1)"

# Expired and not-yet-valid client certificates signed by the real CA.
# `openssl x509 -req` in OpenSSL 3.0 cannot set explicit dates, so use
# `openssl ca` with a throwaway configuration.
mkdir -p ca-db
: > ca-db/index.txt
cat > ca-db/ca.cnf <<'EOF'
[ ca ]
default_ca = tmp_ca
[ tmp_ca ]
dir           = ./ca-db
database      = $dir/index.txt
new_certs_dir = $dir
certificate   = ./ca.crt
private_key   = ./ca.key
serial        = $dir/serial
default_md    = sha256
policy        = policy_any
unique_subject = no
email_in_dn   = no
copy_extensions = none
[ policy_any ]
countryName            = optional
stateOrProvinceName    = optional
localityName           = optional
organizationName       = optional
organizationalUnitName = optional
commonName             = supplied
EOF
echo 1000 > ca-db/serial
dated_cert() { # NAME CN STARTDATE ENDDATE
	openssl genrsa -out "$1.key" 2048 2>/dev/null
	openssl req -new -key "$1.key" -out "$1.csr" -nodes -subj "$(subj "$2")"
	openssl ca -batch -config ca-db/ca.cnf -notext -in "$1.csr" -out "$1.crt" \
		-startdate "$3" -enddate "$4" 2>/dev/null
}
dated_cert expired server1 20200101000000Z 20210101000000Z
dated_cert notyet server1 20900101000000Z 20910101000000Z

# ---- EC keys --------------------------------------------------------------
# Server: P-256, SEC1 "EC PRIVATE KEY", CN=server2; plus the same key as PKCS#8.
openssl ecparam -name prime256v1 -genkey -noout -out ec-server.key
openssl pkey -in ec-server.key -out ec-server.p8.key
openssl req -new -key ec-server.key -out ec-server.csr -nodes -subj "$(subj server2)"
openssl x509 -req -in ec-server.csr -CA ca.crt -CAkey ca.key -out ec-server.crt -days 365 2>/dev/null
# Client: P-256.
openssl ecparam -name prime256v1 -genkey -noout -out ec-client.key
openssl req -new -key ec-client.key -out ec-client.csr -nodes -subj "$(subj ec-client)"
openssl x509 -req -in ec-client.csr -CA ca.crt -CAkey ca.key -out ec-client.crt -days 365 2>/dev/null

# ---- other key forms and broken inputs ------------------------------------
openssl rsa -in server2.key -traditional -out rsa-pkcs1.key 2>/dev/null     # "RSA PRIVATE KEY"
openssl pkey -in server2.key -aes256 -passout pass:mtlsd-test -out encrypted.key  # "ENCRYPTED PRIVATE KEY"
openssl rsa -in server2.key -traditional -aes256 -passout pass:mtlsd-test \
	-out encrypted-pkcs1.key 2>/dev/null                                   # legacy "Proc-Type: 4,ENCRYPTED"
openssl genrsa -out mismatch.key 2048 2>/dev/null
openssl genpkey -algorithm ed25519 -out ed25519.key                        # unsupported key type
{
	echo "This file has no CERTIFICATE block, only text and a public key."
	openssl pkey -in mismatch.key -pubout
} > notacert.pem
: > empty.pem

rm -rf ca-db ./*.csr
chmod 600 ./*.key
exit 0
