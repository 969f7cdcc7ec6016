#!/bin/sh
# mkpki-identity.sh OUTDIR -- the certificate matrix of tests/identity.sh.
#
# Made with `openssl ca`, so that dates, serials, extensions and CRLs are
# exactly what the tests need. Keys are reused where that is harmless (the
# tests pin certificates, not keys); only the RSA-4096 key costs time.
#
#   ca        pinned root (RSA-2048); ca.crl revokes "revoked" and "int-rev",
#             ca-2.crl also "reloadee"
#   ec-ca     second pinned root (P-256); ec-ca.crl (ECDSA) revokes "ec-revoked"
#   other-ca  not pinned
#   rekey-a, rekey-b  two CAs of one name (CN=id-rekey-ca), different keys:
#             a CA re-keyed; rekey-X.crl revokes rekey-X-revoked
#   ca-*.crl  CRLs of ca with an issuingDistributionPoint (ca-only, user-only,
#             partition, indirect), an unknown critical extension (crit), a
#             delta CRL; big.crl and big-2.crl list 40000 more serials (> 1 MiB)
#   int1 -> int2, int-rev, v1int, nc-int, c1 -> ... -> c19: intermediates;
#             int1.crl, int2.crl, int-rev.crl revoke nothing, int1-rev.crl
#             revokes "int-revoked"; int1-forged.crl names int1 as its
#             issuer but is signed with another key
#   NAME.crt  a client certificate; NAME.chain the chain a client sends
#             (leaf first); NAME.key its key
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
mkdir -p "$1"
cd "$1"

cat >ext.cnf <<'EOF'
[ req ]
distinguished_name = dn
[ dn ]
[ ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ int ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ nc_int ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
nameConstraints = critical, permitted;DNS:example.com
[ ncn_int ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
nameConstraints = permitted;DNS:example.com
[ leaf ]
basicConstraints = CA:FALSE
[ server ]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:server2
[ eku_client ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth
[ eku_both ]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth, clientAuth
[ eku_server ]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
[ ku_certsign ]
basicConstraints = CA:FALSE
keyUsage = keyCertSign
[ crit_eku ]
basicConstraints = CA:FALSE
extendedKeyUsage = critical, clientAuth
[ leaf_akid ]
basicConstraints = CA:FALSE
authorityKeyIdentifier = keyid
[ ca_pl0 ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
[ ca_ku_nosign ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, cRLSign
[ ca_false ]
basicConstraints = critical, CA:FALSE
[ ca_eku_server ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
extendedKeyUsage = serverAuth
[ ca_crit_unknown ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
1.3.6.1.4.1.55555.1 = critical, ASN1:NULL
[ ca_unreadable ]
basicConstraints = critical, CA:TRUE
nameConstraints = critical, permitted;DNS:example.com
2.5.29.15 = critical, DER:0300
[ int_eku_server ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
extendedKeyUsage = serverAuth
[ int_pl0 ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
[ int_ku_nosign ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature
[ ns_server ]
basicConstraints = CA:FALSE
nsCertType = server
[ ns_client ]
basicConstraints = CA:FALSE
nsCertType = client
[ crit_unknown ]
basicConstraints = CA:FALSE
1.3.6.1.4.1.55555.1 = critical, ASN1:NULL
EOF

# CRL extensions (openssl ca -gencrl reads them from the CA's own file)
cat >crlext.cnf <<'EOF'
[ crl_akid ]
authorityKeyIdentifier = keyid:always
[ crl_crit ]
authorityKeyIdentifier = keyid:always
1.3.6.1.4.1.55555.1 = critical, ASN1:UTF8String:mtlsd test
[ crl_ca_only ]
issuingDistributionPoint = critical, @idp_ca
[ idp_ca ]
onlyCA = TRUE
[ crl_user_only ]
issuingDistributionPoint = critical, @idp_user
[ idp_user ]
onlyuser = TRUE
[ crl_partition ]
issuingDistributionPoint = critical, @idp_part
[ idp_part ]
fullname = URI:http://crl.example/part1.crl
[ crl_indirect ]
issuingDistributionPoint = critical, @idp_ind
[ idp_ind ]
indirectCRL = TRUE
[ crl_delta ]
2.5.29.27 = critical, ASN1:INTEGER:1
EOF

# ca_init NAME -- an `openssl ca` database for the CA NAME (NAME.crt/.key)
ca_init() {
	mkdir -p "db-$1"
	: >"db-$1/index.txt"
	printf '%06X\n' "$2" >"db-$1/serial"
	echo 01 >"db-$1/crlnumber"
	cat >"db-$1/ca.cnf" <<EOF
[ ca ]
default_ca = this_ca
[ this_ca ]
database       = db-$1/index.txt
new_certs_dir  = db-$1
certificate    = $1.crt
private_key    = $1.key
serial         = db-$1/serial
crlnumber      = db-$1/crlnumber
default_md     = sha256
default_days   = 365
default_crl_days = 30
policy         = policy_any
unique_subject = no
email_in_dn    = no
copy_extensions = none
[ policy_any ]
commonName     = supplied
organizationName = optional
EOF
	cat crlext.cnf >>"db-$1/ca.cnf"
}

# root NAME KEY CN -- a self-signed pinned-style CA
root() {
	openssl req -x509 -new -key "$2" -out "$1.crt" -days 3650 -subj "/O=mtlsd test/CN=$3" \
		-config ext.cnf -extensions ca 2>/dev/null
	cp "$2" "$1.key"
}

# issue CA NAME KEY SUBJECT EXTENSIONS|- [openssl ca options...]
# (EXTENSIONS "-": none at all, a v1 certificate)
issue() {
	ca=$1 name=$2 key=$3 subj=$4 ext=$5
	shift 5
	if [ "$ext" = - ]; then
		set -- "$@"
	else
		set -- -extfile ext.cnf -extensions "$ext" "$@"
	fi
	openssl req -new -key "$key" -out "$name.csr" -subj "$subj" 2>/dev/null
	openssl ca -batch -config "db-$ca/ca.cnf" -notext -in "$name.csr" -out "$name.crt" \
		-utf8 "$@" 2>/dev/null
	rm -f "$name.csr"
}

# ---- keys -------------------------------------------------------------------
openssl genrsa -out ca.key.in 2048 2>/dev/null
openssl genrsa -out other-ca.key.in 2048 2>/dev/null
openssl genrsa -out client.key 2048 2>/dev/null
openssl genrsa -out rsa4096.key 4096 2>/dev/null
for k in ec-ca server int ec256 rekey-a rekey-b; do
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$k.key.in" 2>/dev/null
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec384.key 2>/dev/null
mv server.key.in server.key
mv ec256.key.in ec256.key
mv int.key.in int.key

# ---- CAs ----------------------------------------------------------------------
root ca ca.key.in id-root-ca
root ec-ca ec-ca.key.in id-ec-ca
root other-ca other-ca.key.in other-ca
root rekey-a rekey-a.key.in id-rekey-ca
root rekey-b rekey-b.key.in id-rekey-ca
rm -f ./*.key.in
ca_init ca 1000
ca_init ec-ca 2000
ca_init other-ca 3000
ca_init rekey-a 22000
ca_init rekey-b 23000
cat rekey-a.crt rekey-b.crt >rekey-bundle.crt
cat ca.crt ec-ca.crt >bundle.crt

issue ca server server.key "/CN=server2" server
# Due within 7 days, for the start-up and reload warnings.
issue ca server-soon server.key "/CN=server2" server -days 3
openssl req -x509 -new -key ec256.key -out soon-ca.crt -days 3 -subj "/CN=soon-ca" \
	-config ext.cnf -extensions ca 2>/dev/null

# ---- client certificates issued by the pinned root -------------------------------
leaf() {
	issue ca "$1" "${3:-client.key}" "/O=mtlsd test/CN=$1" "$2"
	[ "${3:-client.key}" = "$1.key" ] || cp "${3:-client.key}" "$1.key"
}
leaf good leaf
leaf eku-client eku_client
leaf eku-both eku_both
leaf eku-server eku_server
leaf ku-certsign ku_certsign
leaf crit-eku crit_eku
leaf revoked leaf
leaf reloadee leaf
leaf rsa4096 leaf rsa4096.key
leaf ec256 leaf ec256.key
leaf ec384 leaf ec384.key
leaf mismatch leaf
leaf v1-leaf -
issue ca expired client.key "/CN=expired" leaf -startdate 20200101000000Z -enddate 20210101000000Z
issue ca notyet client.key "/CN=notyet" leaf -startdate 20900101000000Z -enddate 20910101000000Z
cp client.key expired.key
cp client.key notyet.key
# A different key than the certificate's, for the client that ignores that.
cp rsa4096.key mismatch.key

# Log forging: a CN with a newline, quotes and a backslash (openssl's
# configuration syntax turns \n into a newline byte outside quotes).
cat >evil.cnf <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
utf8 = yes
[ dn ]
O = mtlsd test
CN = evil\n2024/01/01 00:00:00 [notice] forged \"quote\" \\ end
EOF
openssl req -new -key client.key -out evil.csr -config evil.cnf
openssl ca -batch -config db-ca/ca.cnf -notext -in evil.csr -out evil.crt \
	-extfile ext.cnf -extensions leaf -utf8 2>/dev/null
rm -f evil.csr evil.cnf
cp client.key evil.key

# CNs that a byte-wise comparison gets wrong: a NUL inside, one longer than
# the 64 characters X.509 allows, two CNs, a BMPString. openssl refuses to
# make these, so they are the good certificate with its subject replaced
# and signed again by the CA.
openssl x509 -in good.crt -outform DER -out good.der
python3 - good.der <<'EOF'
import subprocess, sys

def der(tag, body):
    n = len(body)
    if n < 128:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + body

def elements(data):
    out, i = [], 0
    while i < len(data):
        n, j = data[i + 1], i + 2
        if n & 0x80:
            k = n & 0x7f
            n, j = int.from_bytes(data[j:j + k], 'big'), j + k
        out.append(data[i:j + n])
        i = j + n
    return out

def content_len(elem):
    n = elem[1]
    if n & 0x80:
        return int.from_bytes(elem[2:2 + (n & 0x7f)], 'big')
    return n

cert = open(sys.argv[1], 'rb').read()
tbs, alg, _ = elements(cert[len(cert) - content_len(cert):])
fields = elements(tbs[len(tbs) - content_len(tbs):])
CN, O = bytes([0x06, 3, 0x55, 4, 3]), bytes([0x06, 3, 0x55, 4, 10])
rdn = lambda oid, tag, value: der(0x31, der(0x30, oid + der(tag, value)))
org = rdn(O, 0x0c, b'mtlsd test')
subjects = {
    'cn-nul': org + rdn(CN, 0x0c, b'good\x00evil'),
    'cn-long': org + rdn(CN, 0x0c, b'a' * 65),
    'cn-two': org + rdn(CN, 0x0c, b'evil') + rdn(CN, 0x0c, b'good'),
    'cn-bmp': org + rdn(CN, 0x1e, 'good'.encode('utf-16-be')),
}
for serial, (name, subject) in enumerate(sorted(subjects.items()), 0x7000):
    f = list(fields)
    f[1] = der(0x02, serial.to_bytes(2, 'big'))
    f[5] = der(0x30, subject)
    new_tbs = der(0x30, b''.join(f))
    sig = subprocess.run(['openssl', 'dgst', '-sha256', '-sign', 'ca.key'], input=new_tbs,
                         stdout=subprocess.PIPE, check=True).stdout
    new = der(0x30, new_tbs + alg + der(0x03, b'\x00' + sig))
    subprocess.run(['openssl', 'x509', '-inform', 'DER', '-out', name + '.crt'], input=new, check=True)
EOF
rm -f good.der
for n in cn-nul cn-long cn-two cn-bmp; do cp client.key "$n.key"; done

# ---- intermediates -----------------------------------------------------------------
# issue_int PARENT NAME EXT
issue_int() {
	issue "$1" "$2" int.key "/O=mtlsd test/CN=$2" "$3" -days 3650
	cp int.key "$2.key"
	ca_init "$2" "$4"
}
issue_int ca int1 int 4000
issue_int int1 int2 int 5000
issue_int ca int-rev int 6000
issue_int ca v1int - 7000
issue_int ca nc-int nc_int 8000
issue_int ca ncn-int ncn_int 9000

issue int1 int-client client.key "/O=mtlsd test/CN=int-client" leaf
cat int-client.crt int1.crt >int-client.chain
# Revoked in int1-rev.crl (not in int1.crl, made before).
issue int1 int-revoked client.key "/O=mtlsd test/CN=int-revoked" leaf
cat int-revoked.crt int1.crt >int-revoked.chain
issue int2 int2-client client.key "/O=mtlsd test/CN=int2-client" leaf
cat int2-client.crt int2.crt int1.crt >int2-client.chain
issue int-rev int-rev-client client.key "/O=mtlsd test/CN=int-rev-client" leaf
cat int-rev-client.crt int-rev.crt >int-rev-client.chain
issue v1int v1int-client client.key "/O=mtlsd test/CN=v1int-client" leaf
cat v1int-client.crt v1int.crt >v1int-client.chain
issue nc-int nc-client client.key "/O=mtlsd test/CN=nc-client" leaf
cat nc-client.crt nc-int.crt >nc-client.chain
# Non-critical name constraints: BearSSL ignores them, OpenSSL applies
# them to a CN that looks like a host name.
issue ncn-int ncn-client client.key "/O=mtlsd test/CN=x.other.com" leaf
cat ncn-client.crt ncn-int.crt >ncn-client.chain
issue ncn-int ncn-ok-client client.key "/O=mtlsd test/CN=x.example.com" leaf
cat ncn-ok-client.crt ncn-int.crt >ncn-ok-client.chain
# A self-signed CA with name constraints, to pin.
openssl req -x509 -new -key ec256.key -out nc-ca.crt -days 30 -subj "/CN=nc-ca" \
	-config ext.cnf -extensions ncn_int 2>/dev/null
# The client sends int1 although no certificate needs it: ignored.
cat good.crt int1.crt >good-extra.chain

# 19 intermediates under the root, sharing one key; chain8 and chain20 are
# what a client sends: 8 certificates (the cap) and 20.
parent=ca
i=1
: >c-chain.rev
while [ $i -le 19 ]; do
	issue_int "$parent" "c$i" int $((10000 + i * 100))
	cat "c$i.crt" c-chain.rev >c-chain.tmp
	mv c-chain.tmp c-chain.rev
	if [ $i = 7 ]; then
		issue c7 chain8 client.key "/O=mtlsd test/CN=chain8" leaf
		cat chain8.crt c-chain.rev >chain8.chain
	fi
	parent=c$i
	i=$((i + 1))
done
issue c19 chain20 client.key "/O=mtlsd test/CN=chain20" leaf
cat chain20.crt c-chain.rev >chain20.chain
rm -f c-chain.rev

# ---- the second pinned CA and the unpinned one ---------------------------------------
issue ec-ca ec-client ec256.key "/O=mtlsd test/CN=ec-client" leaf
issue ec-ca ec-revoked ec256.key "/O=mtlsd test/CN=ec-revoked" leaf
cp ec256.key ec-client.key
cp ec256.key ec-revoked.key
issue other-ca other-client client.key "/O=mtlsd test/CN=good" leaf
cp client.key other-client.key

# ---- a CA re-keyed under the same name -----------------------------------------------
# Clients carry an authorityKeyIdentifier, as real CAs issue them, so that
# OpenSSL (nginx) finds the right one of the two CAs.
for ab in a b; do
	for n in client revoked; do
		issue "rekey-$ab" "rekey-$ab-$n" ec256.key "/O=mtlsd test/CN=rekey-$ab-$n" leaf_akid
		cp ec256.key "rekey-$ab-$n.key"
	done
done

for n in int-client int-revoked int2-client int-rev-client v1int-client nc-client ncn-client ncn-ok-client \
	chain8 chain20 good-extra; do
	cp client.key "$n.key"
done
for n in *.crt; do
	[ -f "${n%.crt}.chain" ] || cp "$n" "${n%.crt}.chain"
done

# ---- CRLs ----------------------------------------------------------------------
gencrl() { # CA OUT [options]
	ca=$1 out=$2
	shift 2
	openssl ca -gencrl -config "db-$ca/ca.cnf" -out "$out" "$@" 2>/dev/null
}
openssl ca -config db-ca/ca.cnf -revoke int-rev.crt 2>/dev/null
# Scope: CRLs that do not cover the end-entity certificates, made while
# "revoked" is not yet revoked (a CA lists it only in its user CRLs).
gencrl ca ca-ca-only.crl -crlexts crl_ca_only
gencrl ca ca-partition.crl -crlexts crl_partition
openssl ca -config db-ca/ca.cnf -revoke revoked.crt 2>/dev/null
gencrl ca ca.crl
gencrl ca ca-user-only.crl -crlexts crl_user_only
gencrl ca ca-indirect.crl -crlexts crl_indirect
gencrl ca ca-delta.crl -crlexts crl_delta
# The same CA's newest CRL, with an unknown critical extension.
sleep 1
gencrl ca ca-crit.crl -crlexts crl_crit
# More than 1 MiB: 40000 serials revoked besides the real ones, written
# straight into a copy of the CA's database; big-2.crl also lists reloadee.
rm -rf db-big
cp -r db-ca db-big
sed -i 's/db-ca/db-big/g' db-big/ca.cnf
python3 - db-big/index.txt <<'EOF'
import random, sys
rnd = random.Random(12)
with open(sys.argv[1], 'a') as f:
    for i in range(40000):
        f.write('R\t301231000000Z\t250101000000Z\t%032X\tunknown\t/CN=bulk%d\n'
                % (rnd.getrandbits(124) | (1 << 124), i))
EOF
gencrl big big.crl
openssl ca -config db-big/ca.cnf -revoke reloadee.crt 2>/dev/null
gencrl big big-2.crl
for ab in a b; do
	openssl ca -config "db-rekey-$ab/ca.cnf" -revoke "rekey-$ab-revoked.crt" 2>/dev/null
	gencrl "rekey-$ab" "rekey-$ab.crl" -crlexts crl_akid
done
openssl crl -in ca.crl -outform DER -out ca.crl.der
openssl ca -config db-ca/ca.cnf -revoke reloadee.crt 2>/dev/null
gencrl ca ca-2.crl
gencrl ca ca-expired.crl -crl_lastupdate 20200101000000Z -crl_nextupdate 20200201000000Z
gencrl ca ca-future.crl -crl_lastupdate 20900101000000Z -crl_nextupdate 20900201000000Z
gencrl ca ca-soon.crl -crlhours 48
openssl ca -config db-ec-ca/ca.cnf -revoke ec-revoked.crt 2>/dev/null
gencrl ec-ca ec-ca.crl
gencrl other-ca other-ca.crl
gencrl int1 int1.crl
gencrl int2 int2.crl
gencrl int-rev int-rev.crl
openssl ca -config db-int1/ca.cnf -revoke int-revoked.crt 2>/dev/null
gencrl int1 int1-rev.crl
# A CRL that claims to be int1's, signed with another key.
# (openssl ca put int1's CN first: the same Name, byte for byte.)
openssl req -x509 -new -key ec256.key -out int1-forged.crt -days 3650 \
	-subj "/CN=int1/O=mtlsd test" -config ext.cnf -extensions ca 2>/dev/null
cp ec256.key int1-forged.key
ca_init int1-forged 24000
gencrl int1-forged int1-forged.crl
# The same CRL with one bit of its signature flipped.
openssl crl -in ca.crl -outform DER -out bad-sig.der
python3 - bad-sig.der <<'EOF'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
d[-1] ^= 1
open(sys.argv[1], 'wb').write(d)
EOF
openssl crl -inform DER -in bad-sig.der -out bad-sig.crl
rm -f bad-sig.der

# The pinned root again, same name and key, with dates that are over or not
# yet begun: OpenSSL refuses chains that end at such a CA, and so must mtlsd.
dated_root() { # OUT STARTDATE ENDDATE
	openssl req -new -key ca.key -out "$1.csr" -subj "/O=mtlsd test/CN=id-root-ca" 2>/dev/null
	openssl ca -batch -config db-ca/ca.cnf -selfsign -keyfile ca.key -preserveDN -notext \
		-extfile ext.cnf -extensions ca -in "$1.csr" -out "$1.crt" \
		-startdate "$2" -enddate "$3" 2>/dev/null
	rm -f "$1.csr"
}
dated_root ca-old 20200101000000Z 20210101000000Z
dated_root ca-later 20900101000000Z 20910101000000Z
cat ca-old.crt ca.crt >ca-renewed.crt

# ---- issue 12: pinned CAs that cannot be CAs, and the chain policy ----------------------
openssl genrsa -out rsa1024.key 1024 2>/dev/null
openssl genrsa -out rsa512.key 512 2>/dev/null
# root_ext NAME KEY EXT SERIAL -- a self-signed root with EXT, and its database
root_ext() {
	openssl req -x509 -new -key "$2" -out "$1.crt" -days 3650 -subj "/O=mtlsd test/CN=$1" \
		-config ext.cnf -extensions "$3" 2>/dev/null
	cp "$2" "$1.key"
	ca_init "$1" "$4"
}
# pl0-root and rsa1024-root can be pinned (rsa1024-root at --security-level 1);
# the others cannot
root_ext pl0-root ca.key ca_pl0 20000
root_ext ku-root ca.key ca_ku_nosign 21000
root_ext cafalse-root ca.key ca_false 22000
root_ext eku-root ca.key ca_eku_server 23000
root_ext crit-root ca.key ca_crit_unknown 24000
root_ext rsa1024-root rsa1024.key ca 25000
issue pl0-root pl0-client client.key "/O=mtlsd test/CN=pl0-client" leaf
issue pl0-root pl0-int int.key "/O=mtlsd test/CN=pl0-int" int -days 3650
ca_init pl0-int 26000
cp int.key pl0-int.key
issue pl0-int pl0-int-client client.key "/O=mtlsd test/CN=pl0-int-client" leaf
cat pl0-int-client.crt pl0-int.crt >pl0-int-client.chain
for r in ku-root cafalse-root eku-root crit-root rsa1024-root; do
	issue "$r" "$r-client" client.key "/O=mtlsd test/CN=$r-client" leaf
done
# A leaf pinned by mistake signs for CN=admin: the CA:FALSE good.crt, and a
# v1 leaf made as the seed's server1.crt (`openssl x509 -req`, no extensions).
openssl req -new -key client.key -out v1x-leaf.csr -subj "/O=mtlsd test/CN=v1x-leaf" 2>/dev/null
openssl x509 -req -in v1x-leaf.csr -CA ca.crt -CAkey ca.key -out v1x-leaf.crt -days 365 \
	-set_serial 0x7100 2>/dev/null
rm -f v1x-leaf.csr
cp client.key v1x-leaf.key
ca_init good 27000
issue good admin-by-leaf client.key "/O=mtlsd test/CN=admin" leaf
ca_init v1x-leaf 28000
issue v1x-leaf admin-by-v1 client.key "/O=mtlsd test/CN=admin" leaf
# A self-signed v1 root (made as the seed's CA could be): pinned, it works,
# as with OpenSSL.
openssl req -new -key ca.key -out v1-root.csr -subj "/O=mtlsd test/CN=v1-root" 2>/dev/null
openssl x509 -req -in v1-root.csr -signkey ca.key -out v1-root.crt -days 365 2>/dev/null
openssl req -new -key client.key -out v1-root-client.csr -subj "/O=mtlsd test/CN=v1-root-client" 2>/dev/null
openssl x509 -req -in v1-root-client.csr -CA v1-root.crt -CAkey ca.key -out v1-root-client.crt \
	-days 365 -set_serial 0x7200 2>/dev/null
rm -f v1-root.csr v1-root-client.csr
cp client.key v1-root-client.key
cp v1-root-client.crt v1-root-client.chain
# The CA of issue 13.1: expired in 2021, name constraints, and a keyUsage
# whose BIT STRING is empty, which mtlsd's parser cannot read.
openssl req -new -key ca.key -out unreadable-ca.csr -subj "/O=mtlsd test/CN=unreadable-ca" 2>/dev/null
openssl ca -batch -config db-ca/ca.cnf -selfsign -keyfile ca.key -preserveDN -notext \
	-extfile ext.cnf -extensions ca_unreadable -in unreadable-ca.csr -out unreadable-ca.crt \
	-startdate 20200101000000Z -enddate 20210101000000Z 2>/dev/null
rm -f unreadable-ca.csr
# intermediates under the pinned root that break the chain policy
issue_int ca int-eku-server int_eku_server 29000
issue_int ca cafalse-int leaf 30000
issue_int ca ku-int int_ku_nosign 31000
issue_int ca int-pl0 int_pl0 32000
issue_int int-pl0 int-pl0-sub int 33000
issue ca int-rsa1024 rsa1024.key "/O=mtlsd test/CN=int-rsa1024" int -days 3650
ca_init int-rsa1024 34000
issue ca sha1-int int.key "/O=mtlsd test/CN=sha1-int" int -days 3650 -md sha1
ca_init sha1-int 35000
cp int.key sha1-int.key
cp rsa1024.key int-rsa1024.key
for i in int-eku-server cafalse-int ku-int int-rsa1024 sha1-int; do
	issue "$i" "$i-client" client.key "/O=mtlsd test/CN=$i-client" leaf
	cat "$i-client.crt" "$i.crt" >"$i-client.chain"
done
issue int-pl0-sub int-pl0-client client.key "/O=mtlsd test/CN=int-pl0-client" leaf
cat int-pl0-client.crt int-pl0-sub.crt int-pl0.crt >int-pl0-client.chain
# leaves under the pinned root
leaf rsa1024 leaf rsa1024.key
leaf rsa512 leaf rsa512.key
leaf ns-server ns_server
leaf ns-client ns_client
leaf crit-unknown crit_unknown
issue ca sha1-leaf client.key "/O=mtlsd test/CN=sha1-leaf" leaf -md sha1
issue ca md5-leaf client.key "/O=mtlsd test/CN=md5-leaf" leaf -md md5
openssl req -x509 -new -key client.key -out self-signed.crt -days 365 \
	-subj "/O=mtlsd test/CN=self-signed" -config ext.cnf -extensions leaf 2>/dev/null
# good.crt with one bit of its signature flipped
openssl x509 -in good.crt -outform DER -out forged.der
python3 - forged.der <<'PY'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
d[-1] ^= 1
open(sys.argv[1], 'wb').write(d)
PY
openssl x509 -inform DER -in forged.der -out forged.crt
rm -f forged.der
for n in pl0-client pl0-int-client ku-root-client cafalse-root-client eku-root-client \
	crit-root-client rsa1024-root-client admin-by-leaf admin-by-v1 int-eku-server-client \
	cafalse-int-client ku-int-client int-rsa1024-client sha1-int-client int-pl0-client \
	sha1-leaf md5-leaf self-signed forged; do
	cp client.key "$n.key"
done
for n in pl0-client ku-root-client cafalse-root-client eku-root-client crit-root-client \
	rsa1024-root-client admin-by-leaf admin-by-v1 sha1-leaf md5-leaf self-signed forged \
	rsa1024 rsa512 ns-server ns-client crit-unknown; do
	[ -s "$n.crt" ] || { echo "mkpki-identity: $n.crt was not made" >&2; exit 1; }
	cp "$n.crt" "$n.chain"
done
[ -s unreadable-ca.crt ] || { echo "mkpki-identity: unreadable-ca.crt was not made" >&2; exit 1; }

rm -rf db-*
chmod 600 ./*.key
exit 0

