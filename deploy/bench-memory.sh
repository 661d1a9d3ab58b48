#!/usr/bin/env bash
# Benchmark: RAM of the metadata tables per block, as `hashbrick stats` reports it and as the process
# really uses it. Writes N GiB of unique 4 KiB blocks (fio, libiscsi engine, sequential 128 KiB writes
# of fresh random buffers) into one volume and compares:
#   h2p_ram_bytes / unique_blocks (budget 48)   a2h_ram_bytes / mapped_blocks (budget 8)
# with the controller's RSS growth over the same writes. The JVM heap is committed up front
# (-Xms = -Xmx, AlwaysPreTouch) and the read cache is off, so RSS growth is off-heap metadata.
#   deploy/bench-memory.sh [--gib 8] [--port 3264]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HASHBRICK_TOOLS:-$root/../shared/tools}
gib=8 port=3264
while (($#)); do case $1 in
  --gib) gib=$2; shift ;; --port) port=$2; shift ;; *) echo "unknown option $1" >&2; exit 2 ;; esac; shift; done
fio=$(bash "$tools/build-fio-libiscsi.sh" | tail -n 1)
work=$(mktemp -d /var/tmp/hashbrick-mem.XXXXXX)
trap '"$root/deploy/hashbrick" down --dir "$work" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export HASHBRICK_JAVA_OPTS="-Xms2g -Xmx2g -XX:+AlwaysPreTouch"
url=$("$root/deploy/hashbrick" up --dir "$work" --port "$port" --mgmt-port 0 --lun-size $((gib * 2))G \
  --block-size 4096 --read-cache-size 0)
pid=$(cat "$work/node.pid")
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; } # KiB (mawk's printf %d stops at 2^31)
stat() { "$root/deploy/hashbrick" stats --dir "$work" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
furl=$(sed 's/:/\\:/g' <<<"$url")
# warm up the JIT and the buckets' first pages with 64 MiB, then measure from there
"$fio" --name=warm --ioengine=libiscsi --filename="$furl" --rw=write --bs=128k --iodepth=16 --size=64m \
  --refill_buffers=1 --randseed=1 --output-format=terse >/dev/null
sleep 2
rss0=$(rss) h0=$(stat h2p_ram_bytes) a0=$(stat a2h_ram_bytes) u0=$(stat unique_blocks) m0=$(stat mapped_blocks)
t0=$(date +%s)
"$fio" --name=fill --ioengine=libiscsi --filename="$furl" --rw=write --bs=128k --iodepth=16 --size=${gib}g \
  --offset=64m --refill_buffers=1 --randseed=2 --output-format=terse >/dev/null
t1=$(date +%s)
sleep 3
rss1=$(rss) h1=$(stat h2p_ram_bytes) a1=$(stat a2h_ram_bytes) u1=$(stat unique_blocks) m1=$(stat mapped_blocks)
n1=$(stat native_bytes_total)
python3 - "$rss0" "$rss1" "$h0" "$h1" "$a0" "$a1" "$u0" "$u1" "$m0" "$m1" "$n1" "$gib" "$((t1 - t0))" <<'PY'
import sys
rss0, rss1, h0, h1, a0, a1, u0, u1, m0, m1, n1, gib, secs = map(int, sys.argv[1:])
rss0, rss1 = rss0 * 1024, rss1 * 1024
print(f"wrote {gib} GiB of unique 4 KiB blocks in {secs} s: unique_blocks={u1} mapped_blocks={m1}")
print(f"stats   h2p_ram_bytes={h1} -> {h1 / u1:.1f} B per unique block (budget 48); growth {(h1 - h0) / (u1 - u0):.1f} B/block")
print(f"stats   a2h_ram_bytes={a1} -> {a1 / m1:.2f} B per mapped 4 KiB (budget 8)")
print(f"process RSS growth {(rss1 - rss0) / 2**20:.1f} MiB over {u1 - u0} new blocks = {(rss1 - rss0) / (u1 - u0):.1f} B per block; "
      f"stats' growth (h2p + a2h) = {(h1 - h0 + a1 - a0) / (u1 - u0):.1f} B per block; counted native total {n1 / 2**20:.1f} MiB")
ok = h1 / u1 <= 48 and a1 / m1 <= 8 and (rss1 - rss0) <= 1.2 * (h1 - h0 + a1 - a0)
print("bars: " + ("met" if ok else "NOT met (see above)"))
sys.exit(0 if ok else 1)
PY
