#!/usr/bin/env bash
# The danced demo, on loopback only:
#   1. builds danced and dancectl (installing Debian packages if needed),
#   2. provisions an org CA, two CA-issued devices, one self-signed identity and two clients that must fail,
#   3. publishes the TLSA records in a DNSSEC-signed zone (ldns-signzone) served by NSD on 127.0.0.1,
#   4. starts danced requiring client certificates (DANE) and runs real kdig clients against it,
#   5. keeps danced in the foreground until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=${DEMO_DIR:-$ROOT/demo-run}
DOT_PORT=${DOT_PORT:-8853}
NSD_PORT=${NSD_PORT:-15353}
ZONE=corp.example

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

scripts/deps.sh
say "building danced"
cmake -S "$ROOT" -B "$ROOT/build-demo" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$ROOT/build-demo" -j2 --target danced dancectl >/dev/null
DANCED=$ROOT/build-demo/resolver/danced
DANCECTL=$ROOT/build-demo/tools/dancectl

pkill -f "nsd -c $DEMO/nsd.conf" 2>/dev/null || true
rm -rf "$DEMO"
mkdir -p "$DEMO"/{ids,ca,zone,server}
cd "$DEMO"

say "provisioning identities with dancectl"
$DANCECTL ca new $ZONE --out ca | tee ca.records
$DANCECTL ca issue sensor1._device.$ZONE --ca-dir ca --out ids >/dev/null
$DANCECTL ca issue sensor2._device.$ZONE --ca-dir ca --out ids --ed25519 >/dev/null
$DANCECTL identity new laptop.$ZONE --out ids | tee laptop.records
$DANCECTL identity new ghost.$ZONE --out ids >/dev/null                  # allowed, but nothing published
$DANCECTL identity new mallory._device.evil.example --out ids >/dev/null # outside the allow-list
$DANCECTL server-identity dot.$ZONE --out server --address 127.0.0.1 | tee server.records

say "signing zone $ZONE (ldns-signzone) and serving it with NSD on 127.0.0.1:$NSD_PORT"
{
  echo "\$ORIGIN $ZONE."
  echo "\$TTL 300"
  echo "@ IN SOA ns1.$ZONE. hostmaster.$ZONE. 1 3600 600 86400 60"
  echo "@ IN NS ns1.$ZONE."
  echo "ns1 IN A 127.0.0.1"
  echo "www IN A 192.0.2.80"
  echo "www IN AAAA 2001:db8::80"
  echo "@ IN TXT \"served by NSD, validated and forwarded by danced\""
  grep -v '^;' ca.records
  grep -v '^;' laptop.records
  grep -v '^;' server.records | grep -v ' A \| AAAA ' || true
} > zone/$ZONE.zone
(cd zone && ksk=$(ldns-keygen -a ECDSAP256SHA256 -k $ZONE) && zsk=$(ldns-keygen -a ECDSAP256SHA256 $ZONE) \
  && ldns-signzone -n $ZONE.zone "$ksk" "$zsk" && cp "$ksk.ds" ../trust-anchor.ds)
cat > nsd.conf <<EOF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  username: ""
  chroot: ""
  database: ""
  zonesdir: "$DEMO/zone"
  pidfile: "$DEMO/nsd.pid"
  xfrdfile: "$DEMO/xfrd.state"
  zonelistfile: "$DEMO/zone.list"
  logfile: "$DEMO/nsd.log"
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: $ZONE
  zonefile: $ZONE.zone.signed
EOF
nsd -c nsd.conf
for _ in $(seq 50); do dig +short @127.0.0.1 -p $NSD_PORT SOA $ZONE >/dev/null 2>&1 && break; sleep 0.1; done

say "starting danced on 127.0.0.1:$DOT_PORT (client-auth: require, allow-list: $ZONE)"
cat > danced.yaml <<EOF
server:
  workers: 2
  log-level: info
  counters-file: counters.txt
listeners:
  - name: dot-dane
    address: 127.0.0.1
    port: $DOT_PORT
    certificate: server/dot.$ZONE.crt
    key: server/dot.$ZONE.key
    client-auth: require
resolver:
  mode: recursive
  root-hints: ""
  trust-anchor-file: ""
  stub-zones:
    - zone: $ZONE
      addresses: ["127.0.0.1@$NSD_PORT"]
      trust-anchor: "$(tr '\t' ' ' < trust-anchor.ds)"
dane:
  allow: [$ZONE]
EOF
cat danced.yaml
$DANCED --check-config -c danced.yaml
$DANCED -c danced.yaml 2> >(sed 's/^/[danced] /' >&2) &
DANCED_PID=$!
cleanup() {
  kill "$DANCED_PID" 2>/dev/null || true
  wait "$DANCED_PID" 2>/dev/null || true
  [ -f "$DEMO/nsd.pid" ] && kill "$(cat "$DEMO/nsd.pid")" 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo; say "Ctrl-C: stopping"; exit 0' INT TERM
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$DOT_PORT) 2>/dev/null && break; sleep 0.1; done

client() {
  local who=$1; shift
  say "client: $who"
  echo "\$ kdig +tls $* @127.0.0.1 -p $DOT_PORT www.$ZONE A +dnssec"
  kdig +tls "$@" @127.0.0.1 -p $DOT_PORT www.$ZONE A +dnssec +edns +timeout=3 2>&1 \
    | grep -E 'status:|Flags:|EDE|^www|ERROR|WARNING' || true
}
client "sensor1 (issued by the org CA; DANE-TA wildcard *._device)" \
  +tls-certfile=ids/sensor1._device.$ZONE.crt +tls-keyfile=ids/sensor1._device.$ZONE.key
client "sensor2 (Ed25519, issued by the org CA)" \
  +tls-certfile=ids/sensor2._device.$ZONE.crt +tls-keyfile=ids/sensor2._device.$ZONE.key
client "laptop (self-signed; DANE-EE 3 1 1)" \
  +tls-certfile=ids/laptop.$ZONE.crt +tls-keyfile=ids/laptop.$ZONE.key
client "ghost (allowed name, but no TLSA published) -> refused" \
  +tls-certfile=ids/ghost.$ZONE.crt +tls-keyfile=ids/ghost.$ZONE.key
client "mallory (outside the allow-list: refused without any DNS lookup)" \
  +tls-certfile=ids/mallory._device.evil.example.crt +tls-keyfile=ids/mallory._device.evil.example.key
client "no client certificate -> refused"

sleep 1.2
say "danced counters (counters.txt, refreshed every second)"
grep -E '^(conn_accepted|handshake_ok|auth_ok|auth_refused|auth_reason_[a-z_]+|tlsa_lookups|verdict_cache_hits|queries|rcode_[a-z]+) [1-9]' counters.txt || true

say "danced keeps running in the foreground; try it yourself, then press Ctrl-C"
echo "  kdig +tls +tls-certfile=$DEMO/ids/laptop.$ZONE.crt +tls-keyfile=$DEMO/ids/laptop.$ZONE.key @127.0.0.1 -p $DOT_PORT www.$ZONE A +dnssec"
wait "$DANCED_PID"
