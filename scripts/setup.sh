#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine (Node 20.19+ already there): system packages the test
# stand-ins need, npm packages, and the Kafka stand-in's launcher. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || missing+=(librdkafka-dev)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "setup: these Debian packages are missing: ${missing[*]}; install them as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]} (apt)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-fund --no-audit --loglevel=error
fi
npm run --silent build:standins
