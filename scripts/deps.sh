#!/usr/bin/env bash
# Installs the exact Debian bookworm packages danced needs to build, test and
# run its demo.  Idempotent; needs root (apt-get).  Set DEPS_QUIET=1 to hide apt output.
set -euo pipefail
PKGS=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libuv1-dev libwolfssl-dev libunbound-dev libevent-dev libcyaml-dev libyaml-dev
  libcmocka-dev libprotobuf-c-dev protobuf-c-compiler libfstrm-dev libmicrohttpd-dev
  # real peers and clients for tests and the demo
  nsd ldnsutils knot-dnsutils bind9-dnsutils openssl dns-root-data fstrm-bin
  python3-pytest python3-dnspython python3-cryptography
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/danced-deps.log 2>&1 || {
  tail -20 /tmp/danced-deps.log >&2; exit 1; }
