#!/usr/bin/env bash
# Benchmark: Hashbrick's controller against Linux tgt (the peer), side by side in one run, with
# ../shared/tools/fio-compare.py (fio's libiscsi engine; A = Hashbrick, B = tgt, file LUNs of the
# same size on the same file system). Prints IOPS, p50/p99 latency and CPU microseconds per I/O.
#   deploy/bench-vs-tgt.sh [--jobs randwrite-4k,randread-4k,...] [--runtime 15] [--rounds 2] [--size 4G]
# $HASHBRICK_NODE_OPTS adds controller options (e.g. "--read-cache-size 0").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HASHBRICK_TOOLS:-$root/../shared/tools}
jobs=randwrite-4k,randread-4k,seqwrite-128k,seqread-128k,randwrite-4k-qd1,randread-4k-qd1
runtime=15 rounds=2 size=4G
while (($#)); do case $1 in
  --jobs) jobs=$2; shift ;; --runtime) runtime=$2; shift ;; --rounds) rounds=$2; shift ;;
  --size) size=$2; shift ;; *) echo "unknown option $1" >&2; exit 2 ;; esac; shift; done
[[ -f $tools/fio-compare.py ]] || { echo "bench: $tools/fio-compare.py not found (set HASHBRICK_TOOLS)" >&2; exit 1; }
fio=$(bash "$tools/build-fio-libiscsi.sh" | tail -n 1)
work=$(mktemp -d /var/tmp/hashbrick-bench.XXXXXX)
cleanup() {
  "$root/deploy/hashbrick" down --dir "$work/hashbrick" >/dev/null 2>&1 || true
  bash "$tools/peer-tgt.sh" stop --dir "$work/tgt" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck disable=SC2086 # $HASHBRICK_NODE_OPTS: extra controller options, e.g. "--read-cache-size 0"
a=$("$root/deploy/hashbrick" up --dir "$work/hashbrick" --port 3262 --mgmt-port 0 --lun-size "$size" -- ${HASHBRICK_NODE_OPTS:-})
b=$(bash "$tools/peer-tgt.sh" start --thin --size "$size" --port 3272 --dir "$work/tgt" | tail -n 1)
echo "bench: A=$a (pid $(cat "$work/hashbrick/node.pid"))  B=$b (pid $(cat "$work/tgt/tgtd.pid"))  $(nproc) cores"
python3 "$tools/fio-compare.py" --a "$a" --b "$b" --a-pids "$(cat "$work/hashbrick/node.pid")" \
  --b-pids "$(cat "$work/tgt/tgtd.pid")" --jobs "$jobs" --runtime "$runtime" --rounds "$rounds" --size "$size" --fio "$fio"
