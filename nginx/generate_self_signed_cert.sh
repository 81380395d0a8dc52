#!/usr/bin/env bash
# A local certificate authority and a server certificate signed by it, for NGINX in front of
# the TAMS gateway. Clients then verify the server against ca.crt instead of skipping
# verification (curl --cacert nginx/certs/ca.crt https://localhost/service).
#
#   nginx/generate_self_signed_cert.sh [HOST] [OUT_DIR]
#
# HOST (default tams.local) is added to the subjectAltName beside localhost, 127.0.0.1 and ::1:
# as an IP address when it looks like one, as a DNS name otherwise. OUT_DIR defaults to
# nginx/certs. An existing CA in OUT_DIR is reused, so clients that trust it keep working when
# the server certificate is renewed. Writes ca.crt, ca.key, server.crt and server.key.
set -euo pipefail

host="${1:-tams.local}"
out="${2:-$(cd "$(dirname "$0")" && pwd)/certs}"
ca_days=3650
server_days=825

if ! command -v openssl >/dev/null 2>&1; then
  echo "openssl is required" >&2
  exit 1
fi
if [[ ! "$host" =~ ^[A-Za-z0-9.:*-]+$ ]]; then
  echo "not a host name or IP address: $host" >&2
  exit 2
fi

mkdir -p "$out"
umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# openssl chatters on stderr even when it succeeds: show its output only when it fails.
quietly() {
  if ! "$@" 2>"$work/openssl.log"; then
    cat "$work/openssl.log" >&2
    exit 1
  fi
}

if [[ ! -s "$out/ca.crt" || ! -s "$out/ca.key" ]]; then
  quietly openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$out/ca.key" -out "$out/ca.crt" -days "$ca_days" -sha256 \
    -subj "/CN=TAMS gateway local CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"
fi

san="DNS:localhost, IP:127.0.0.1, IP:::1"
case "$host" in
  localhost | 127.0.0.1 | ::1) ;;
  *[!0-9.]* | "") if [[ "$host" == *:* ]]; then san="$san, IP:$host"; else san="$san, DNS:$host"; fi ;;
  *) san="$san, IP:$host" ;;
esac

cat >"$work/server.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $san
EXT

quietly openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$work/server.key" -out "$work/server.csr" -subj "/CN=$host"
quietly openssl x509 -req -in "$work/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
  -set_serial "0x$(openssl rand -hex 16)" -days "$server_days" -sha256 \
  -extfile "$work/server.ext" -out "$work/server.crt"

# Replace the pair together, so NGINX never sees a key that does not match its certificate.
mv "$work/server.key" "$out/server.key"
mv "$work/server.crt" "$out/server.crt"
chmod 600 "$out/ca.key" "$out/server.key"
chmod 644 "$out/ca.crt" "$out/server.crt"

echo "CA:          $out/ca.crt (give this to clients)"
echo "certificate: $out/server.crt (subjectAltName: $san)"
echo "key:         $out/server.key"
