#!/bin/bash
# cpu as the cloud (or its admin) hands it over: a TLS certificate for the site. Runs as root
# on the booted host; env: SITE (the site's DNS name). Nothing of the application: `fab
# setup` makes the rest (with tls=acme, the default, its own certificate: this one is what
# tls=provided finds).
#
# A lab CA (trusted on this host; the operator side copies ca.pem to .lab/tls/cloud-ca.pem)
# and a leaf it signs: ECDSA P-256, SHA-256, 365 days (Mozilla: at most 366), CA:FALSE, EKU
# serverAuth, SAN the site's name only (no localhost, no address: as a real certificate).
set -euo pipefail
install -d -m 755 /etc/ssl/dojangkok
(
  cd /etc/ssl/dojangkok
  ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256"
  openssl req -x509 $ec -days 3650 -subj '/CN=dojangkok lab CA' \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout ca.key -out ca.pem 2>/dev/null
  openssl req $ec -subj "/CN=${SITE}" -keyout privkey.pem -out leaf.csr 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=DNS:${SITE}" > leaf.ext
  openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
    -sha256 -extfile leaf.ext -out leaf.pem 2>/dev/null
  cat leaf.pem ca.pem > fullchain.pem
  chmod 600 privkey.pem ca.key
  rm -f leaf.csr leaf.ext
)
cp /etc/ssl/dojangkok/ca.pem /usr/local/share/ca-certificates/dojangkok-lab.crt
update-ca-certificates >/dev/null
