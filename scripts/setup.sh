#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine (Node 20.19+ already there): a JDK 17+, Maven and
# redis-server from Debian's packages when missing, Apache Kafka's broker jars from Maven Central
# (tools/kafka-broker/pom.xml), and the npm packages. Safe to run again: a second run changes nothing.
# SETUP_NO_APT=1 never calls apt-get (it names what is missing instead).
set -euo pipefail
cd "$(dirname "$0")/.."

KAFKA_DIR=tools/kafka-broker
KAFKA_LIB="$KAFKA_DIR/lib"
MIN_JAVA=17

fail() { echo "setup: $*" >&2; exit 1; }

# Prints the major version of `java` on PATH (17 for "17.0.15", 8 for "1.8.0_392"), or nothing.
java_major() {
  command -v java >/dev/null 2>&1 || return 0
  java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n1 |
    awk -F. '{ print ($1 == 1 ? $2 : $1) }'
}

# apt_install "<what is missing, for the message>" PACKAGE...
apt_install() {
  local why="$1" sudo=""
  shift
  if [ "${SETUP_NO_APT:-}" = 1 ]; then
    fail "missing: $why. Install with: apt-get install -y $*"
  elif [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "missing: $why. Install as root with: apt-get install -y $*"
    sudo=sudo
  fi
  echo "setup: installing $* (apt) for $why"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    fail "apt-get could not install: $*"
}

packages=() why=()
major="$(java_major)"
if [ -z "$major" ] || [ "$major" -lt "$MIN_JAVA" ]; then
  packages+=(default-jdk-headless) why+=("Java $MIN_JAVA+ (java on PATH: ${major:-none})")
fi
command -v mvn >/dev/null 2>&1 || { packages+=(maven) why+=("Maven (mvn)"); }
command -v redis-server >/dev/null 2>&1 || { packages+=(redis-server) why+=("redis-server"); }
if [ ${#packages[@]} -gt 0 ]; then
  list="$(printf '%s, ' "${why[@]}")"
  apt_install "${list%, }" "${packages[@]}"
fi

major="$(java_major)"
[ -n "$major" ] || fail "java is not on PATH. Install a JDK $MIN_JAVA+ with: apt-get install -y default-jdk-headless"
[ "$major" -ge "$MIN_JAVA" ] ||
  fail "Apache Kafka 4 needs Java $MIN_JAVA or newer; java on PATH is $major. Install one with: apt-get install -y default-jdk-headless (or put a JDK $MIN_JAVA+ first on PATH)"

# The broker's jars: resolved again only when the pom changed since the last resolve.
stamp="$KAFKA_LIB/.pom.sha256"
want="$(sha256sum "$KAFKA_DIR/pom.xml" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: resolving Apache Kafka's broker from Maven Central into $KAFKA_LIB"
  rm -rf "$KAFKA_LIB"
  mvn -q -B -f "$KAFKA_DIR/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$PWD/$KAFKA_LIB" ||
    fail "Maven could not resolve the Kafka broker named in $KAFKA_DIR/pom.xml (its output is above). Check that Maven Central is reachable, then run: bash scripts/setup.sh"
  echo "$want" >"$stamp"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-fund --no-audit --loglevel=error
fi
