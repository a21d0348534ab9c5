#!/usr/bin/env bash
# Starts the librdkafka mock cluster carried by Debian's kcat: a real
# Kafka-protocol broker on loopback, in memory only. Prints the bootstrap list
# (host:port,...) on stdout and writes kcat's PID to the file given as $1 so
# the caller can stop it. kcat stays alive (consumer mode on a dummy topic
# waits forever); its debug log is read for the bootstrap line, then discarded.
set -euo pipefail

pidfile=${1:?usage: start-broker.sh PIDFILE}
brokers=${PROBEWATCH_MOCK_BROKERS:-3}
bootfile=$(mktemp)
trap 'rm -f "$bootfile"' EXIT

# kcat and its log filter hold none of this script's stdio, so a caller reading
# our output (`$(start-broker.sh)`, execFileSync) sees it end when we exit.
kcat -X "test.mock.num.brokers=${brokers}" -b localhost:1 -C -t __pw_dummy -d mock </dev/null >/dev/null \
  2> >(exec >/dev/null 2>&1; grep -m1 -o 'bootstrap.servers=[^ ]*' > "$bootfile.tmp" && mv "$bootfile.tmp" "$bootfile"; exec cat >/dev/null) &
pid=$!
echo "$pid" > "$pidfile"

for _ in $(seq 1 300); do
  if [[ -s "$bootfile" ]]; then
    sed 's/^bootstrap.servers=//' "$bootfile"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start-broker.sh: kcat exited before printing bootstrap.servers" >&2
    exit 1
  fi
  sleep 0.1
done
echo "start-broker.sh: no bootstrap.servers from kcat after 30 s" >&2
kill "$pid" 2>/dev/null || true
exit 1
