#!/usr/bin/env bash
# Benchmark: is the cost of a host write flat with pool size (issue 16 item 5)? Two controllers of this
# build side by side, the same configuration: A's pool first gets --gib GiB of unique 4 KiB blocks
# (sequential 128 KiB writes of fresh random buffers into a second volume, LUN 1), B's stays empty.
# Then fio-compare runs the same job on LUN 0 of both (unique 4 KiB random writes, QD32, by default),
# so the two differ only in what their pools hold: H2P and A2H sizes, checkpoint sizes, caches.
# Prints fio-compare's table (IOPS, p50/p99, CPU per I/O) and, for each controller, its checkpoints
# during the comparison from the node's `checkpoint_written` lines (bases, deltas, bytes, lock held).
#   deploy/bench-pool-size.sh [--gib 16] [--jobs randwrite-4k] [--runtime 20] [--rounds 2] [--size 2G]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HASHBRICK_TOOLS:-$root/../shared/tools}
gib=16 jobs=randwrite-4k runtime=20 rounds=2 size=2G
while (($#)); do case $1 in
  --gib) gib=$2; shift ;; --jobs) jobs=$2; shift ;; --runtime) runtime=$2; shift ;;
  --rounds) rounds=$2; shift ;; --size) size=$2; shift ;; *) echo "unknown option $1" >&2; exit 2 ;; esac; shift; done
[[ $gib =~ ^[0-9]+$ && $gib -ge 1 ]] || { echo "bench-pool-size: --gib must be a whole number >= 1" >&2; exit 2; }
fio=$(bash "$tools/build-fio-libiscsi.sh" | tail -n 1)
work=$(mktemp -d /var/tmp/hashbrick-poolsize.XXXXXX)
trap '"$root/deploy/hashbrick" down --dir "$work/a" >/dev/null 2>&1 || true
      "$root/deploy/hashbrick" down --dir "$work/b" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$root/deploy/hashbrick" build
a=$("$root/deploy/hashbrick" up --dir "$work/a" --port 3265 --mgmt-port 0 --lun-size "$size" -- ${HASHBRICK_NODE_OPTS:-})
b=$("$root/deploy/hashbrick" up --dir "$work/b" --port 3266 --mgmt-port 0 --lun-size "$size" -- ${HASHBRICK_NODE_OPTS:-})
HASHBRICK_DIR=$work/a "$root/deploy/hashbrick" volume create fill "$((gib + 1))G" >/dev/null
fill=${a%/0}/1
echo "bench-pool-size: filling A's pool with $gib GiB of unique blocks through $fill ..." >&2
t0=$(date +%s)
timeout -s INT -k 10 $((gib * 120 + 120)) "$fio" --name=fill --ioengine=libiscsi --filename="${fill//:/\\:}" \
  --initiator=iqn.2025-01.org.bench:fill --rw=write --bs=128k --iodepth=16 --size="${gib}g" \
  --refill_buffers=1 --randseed=7 --output-format=terse >/dev/null
stat() { "$root/deploy/hashbrick" stats --dir "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
echo "bench-pool-size: filled in $(($(date +%s) - t0)) s: A unique_blocks=$(stat "$work/a" unique_blocks)" \
  "B unique_blocks=$(stat "$work/b" unique_blocks)"
la=$(wc -l <"$work/a/node.log") lb=$(wc -l <"$work/b/node.log")
echo "bench-pool-size: A=$a (pool holding $gib GiB, pid $(cat "$work/a/node.pid")) B=$b (empty pool," \
  "pid $(cat "$work/b/node.pid")), $(git -C "$root" rev-parse --short HEAD), $(nproc) cores"
python3 "$tools/fio-compare.py" --a "$a" --b "$b" --a-pids "$(cat "$work/a/node.pid")" \
  --b-pids "$(cat "$work/b/node.pid")" --jobs "$jobs" --runtime "$runtime" --rounds "$rounds" --size "$size" --fio "$fio"
for side in a b; do
  from=$([[ $side == a ]] && echo "$la" || echo "$lb")
  tail -n +"$((from + 1))" "$work/$side/node.log" | python3 -c '
import re, sys
side = sys.argv[1]
rows = [dict(re.findall(r"(\w+)=(\S+)", l)) for l in sys.stdin if "event=checkpoint_written" in l]
def q(vals, p):
    vals = sorted(vals)
    return vals[min(len(vals) - 1, int(p * len(vals)))] if vals else 0
for kind in ("base", "delta"):
    r = [x for x in rows if x.get("kind") == kind]
    if not r:
        print(f"checkpoints {side}: {kind}s=0")
        continue
    b = [int(x["bytes"]) for x in r]; lk = [int(x["locked_us"]) for x in r]; ms = [int(x["ms"]) for x in r]
    print(f"checkpoints {side}: {kind}s={len(r)} bytes_median={q(b, .5)} bytes_max={max(b)}"
          f" locked_us_median={q(lk, .5)} locked_us_max={max(lk)} ms_median={q(ms, .5)} ms_max={max(ms)}")
' "$side"
done
