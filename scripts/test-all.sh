#!/usr/bin/env bash
# Every test, on a fresh machine: installs the Debian and npm packages the suites need,
# then builds, lints and runs the whole suite with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
# the real broker: password-file and ACL parity tests compare Culex with it
[ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
# test certificates (TLS, WSS, client certificates) are made with the openssl CLI
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# paho belongs to Debian's own python, not to whatever python3 is first on PATH
/usr/bin/python3 -c 'import paho.mqtt.client' >/dev/null 2>&1 || need+=(python3-paho-mqtt)
# cluster tests start their own redis-server on a free port (and restart it)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

npm ci --no-audit --no-fund
npm test
