#!/usr/bin/env bash
# Benchmark: XDP on a 25-SSD DAE. Writes N MiB of unique data through iSCSI (fio, libiscsi engine,
# 128 KiB writes of fresh random buffers, crc32c verify headers), then:
#   1. 4k random reads for --secs with every SSD healthy (read cache off: every read goes to the SSDs)
#   2. one SSD failed, rebuild held: the same reads, degraded (cells on the lost SSD rebuilt from parity)
#   3. the rebuild at --rate: its time, throughput, and cells read against what RAID 6 would read
#   4. a second SSD failed after the rebuild, then fio's verify-only pass over everything written
# and prints one table. Everything runs on 127.0.0.1.
#   deploy/bench-rebuild.sh [--mib 1024] [--rate 256M] [--secs 10] [--port 3266]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HASHBRICK_TOOLS:-$root/../shared/tools}
mib=1024 rate=256M secs=10 port=3266
while (($#)); do case $1 in
  --mib) mib=$2; shift ;; --rate) rate=$2; shift ;; --secs) secs=$2; shift ;; --port) port=$2; shift ;;
  *) echo "unknown option $1" >&2; exit 2 ;; esac; shift; done
fio=$(bash "$tools/build-fio-libiscsi.sh" | tail -n 1)
work=$(mktemp -d /var/tmp/hashbrick-rebuild.XXXXXX)
hb() { "$root/deploy/hashbrick" "$1" --dir "$work" "${@:2}"; }
trap 'hb down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
url=$(hb up --port "$port" --mgmt-port 0 --lun-size $((mib * 2))M --block-size 4096 --ssd-size 1G \
  --nvram-size 64M --read-cache-size 0 --scrub-rate 0)
furl=$(sed 's/:/\\:/g' <<<"$url")
stat() { hb stats | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
job=(--name=data --ioengine=libiscsi --filename="$furl" --rw=write --bs=128k --iodepth=16 --size=${mib}m
  --refill_buffers=1 --randseed=3 --verify=crc32c)
"$fio" "${job[@]}" --do_verify=0 --output-format=terse >/dev/null
for _ in $(seq 1 300); do [[ $(stat journal_blocks) == 0 ]] && break; sleep 0.2; done
iops() { # 4k random reads over the written range for $secs
  "$fio" --name=rr --ioengine=libiscsi --filename="$furl" --rw=randread --bs=4k --iodepth=16 --size=${mib}m \
    --time_based=1 --runtime="$secs" --output-format=json >"$work/rr.json" 2>"$work/rr.err" || {
    echo "bench-rebuild: fio randread failed: $(head -c 400 "$work/rr.err")" >&2; exit 1; }
  python3 -c "import json,sys; t=open(sys.argv[1]).read(); print(round(json.loads(t[t.index('{'):])['jobs'][0]['read']['iops']))" \
    "$work/rr.json"
}
fill=$(hb stats)
healthy=$(iops)
hb ssd rates --rebuild 0 >/dev/null
hb ssd fail 5 >/dev/null
sleep 0.5
degraded=$(iops)
dreads=$(stat degraded_reads)
hb ssd rates --rebuild "$rate" >/dev/null
t0=$(date +%s.%N)
for _ in $(seq 1 1200); do
  [[ $(stat protection_state) == protected && $(stat rebuild_state) == idle ]] && break; sleep 0.25
done
t1=$(date +%s.%N)
st=$(hb stats)
hb ssd fail 17 >/dev/null
sleep 0.5
verify=ok
"$fio" "${job[@]}" --verify_only --output-format=terse >/dev/null 2>"$work/verify.err" || verify="FAILED: $(head -c 300 "$work/verify.err")"
st2=$(hb stats)
python3 - "$mib" "$rate" "$healthy" "$degraded" "$dreads" "$t0" "$t1" "$verify" "$st" "$st2" "$fill" <<'PY'
import json, sys
mib, rate, healthy, degraded, dreads, t0, t1, verify, st, st2, fill = sys.argv[1:]
st, st2, fill = json.loads(st), json.loads(st2), json.loads(fill)
secs = float(t1) - float(t0)
moved = st["rebuild_bytes_moved"]
read_cells = st["rebuild_cells_read"]
print(f"data written                 {mib} MiB unique (live {st['pool_live_bytes'] / 2**20:.0f} MiB stored)")
cells = fill["ssd_cells_written"] + fill["ssd_parity_cells_written"]
print(f"SSD cells written per block  {cells / max(1, fill['writes_unique_blocks']):.3f} "
      f"({fill['ssd_cells_written']} data + {fill['ssd_parity_cells_written']} parity cells, "
      f"{fill['writes_unique_blocks']} unique blocks; fresh stripes, pool {100 * fill['pool_live_bytes'] / fill['pool_usable_bytes']:.0f}% full)")
print(f"4k random reads, healthy     {int(healthy):>8} IOPS")
print(f"4k random reads, 1 SSD lost  {int(degraded):>8} IOPS ({int(degraded) / max(1, int(healthy)):.2f}x; {dreads} degraded reads)")
print(f"rebuild (limit {rate}/s)       {secs:8.1f} s  (controller: {st['rebuild_last_ms']} ms)")
print(f"  cells rebuilt in place     {st['rebuild_cells_rebuilt_in_place']:>8}  read {read_cells} "
      f"= {st['rebuild_reads_vs_raid6']}x of RAID 6's {st['rebuild_raid6_equivalent_reads']}")
print(f"  bytes moved                {moved / 2**20:8.1f} MiB; read+moved {(read_cells * 4096 + moved) / 2**20 / max(secs, 1e-3):.1f} MiB/s")
print(f"after rebuild                protection={st['protection_state']} width={st['stripe_width_new']}")
print(f"2nd SSD failed, fio verify   {verify}  protection={st2['protection_state']} "
      f"unrecoverable_reads={st2['unrecoverable_reads']} read_verify_errors={st2['read_verify_errors']}")
PY
