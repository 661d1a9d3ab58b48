#!/usr/bin/env bash
# Benchmark: the XDP allocator in steady state. For each fill level (default 50, 80 and 90 % of the
# pool's usable capacity), a fresh controller on a 25-SSD DAE gets a volume of that size through the
# management API; fio (libiscsi engine) fills it sequentially with incompressible unique data, then
# overwrites it with 4 KiB random writes: as much as the pool holds to warm up (stripes reach their
# steady mix of live and free cells), then a measured pass of the volume's size. Prints SSD cells
# written (data + P/Q parity + refill intent records) per host block written over the measured pass,
# next to what RAID 1 (2) and RAID 6 (3, read-modify-write of a 4 KiB block) write. Checkpoint
# (metadata area) writes are not cells of stripes and are not counted. Everything runs on 127.0.0.1.
#   deploy/bench-refill.sh [--fill "50 80 90"] [--ssd-size 128M] [--port 3267]
# Exit 1 if the 80 % level writes more than 1.3 cells per block, or if fio's verify of the last
# data written fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HASHBRICK_TOOLS:-$root/../shared/tools}
levels="50 80 90" ssd=128M port=3267
while (($#)); do case $1 in
  --fill) levels=$2; shift ;; --ssd-size) ssd=$2; shift ;; --port) port=$2; shift ;;
  *) echo "unknown option $1" >&2; exit 2 ;; esac; shift; done
fio=${HASHBRICK_FIO:-$(bash "$tools/build-fio-libiscsi.sh" | tail -n 1)}
work=$(mktemp -d /var/tmp/hashbrick-refill.XXXXXX)
hb() { "$root/deploy/hashbrick" "$1" --dir "$work/node" "${@:2}"; }
trap 'hb down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
py_stat() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
drain() { # the journal destaged (every block written is on the SSDs, so its cells are counted)
  for _ in $(seq 1 600); do [[ $(hb stats | py_stat journal_blocks) == 0 ]] && return 0; sleep 0.2; done
  echo "bench-refill: journal not drained in 120 s" >&2; exit 1
}
rows=()
status=0
for level in $levels; do
  rm -rf "$work/node"
  url=$(hb up --port "$port" --mgmt-port 0 --lun-size 16M --block-size 4096 --ssd-size "$ssd" \
    --nvram-size 32M --read-cache-size 0 --scrub-rate 0)
  usable=$(hb stats | py_stat pool_usable_bytes)
  mib=$((usable * level / 100 / 1048576))
  hb volume create bench "${mib}M" --block-size 4096 >/dev/null
  furl=$(sed 's/:/\\:/g' <<<"${url%/0}/1")
  base=(--ioengine=libiscsi --filename="$furl" --size="${mib}m" --refill_buffers=1 --output-format=terse)
  "$fio" --name=fill "${base[@]}" --rw=write --bs=128k --iodepth=16 >/dev/null
  drain
  # warm-up: as much as the pool holds, so that the stripes never used by the fill are used up and
  # every stripe has been a refill target (the measured pass is then steady state, not fresh stripes)
  "$fio" --name=warm "${base[@]}" --rw=randwrite --bs=4k --iodepth=16 --io_size="$((usable >> 20))m" --randseed=11 \
    --norandommap=1 --randrepeat=0 >/dev/null
  drain
  before=$(hb stats)
  # the measured pass writes crc32c-verified blocks, read back below
  "$fio" --name=measure "${base[@]}" --rw=randwrite --bs=4k --iodepth=16 --io_size="${mib}m" --randseed=12 \
    --norandommap=1 --randrepeat=0 >/dev/null
  drain
  after=$(hb stats)
  verify=ok
  "$fio" --name=check "${base[@]}" --rw=randwrite --bs=4k --iodepth=16 --io_size=64m --randseed=13 \
    --verify=crc32c --do_verify=1 >/dev/null 2>"$work/verify.err" || { verify=FAILED; status=1; }
  row=$(python3 - "$level" "$mib" "$verify" "$before" "$after" <<'PY'
import json, sys
level, mib, verify, b, a = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5])
d = lambda k: a[k] - b[k]
cells = d("ssd_cells_written") + d("ssd_parity_cells_written") + d("refill_intent_cells_written")
blocks = d("writes_unique_blocks") + d("writes_duplicate_blocks") + d("writes_zero_blocks")
print(f"| {level} % ({mib} MiB of {a['pool_usable_bytes'] >> 20}) | {cells / blocks:.3f} | "
      f"{d('ssd_cells_written') / blocks:.3f} + {d('ssd_parity_cells_written') / blocks:.3f} "
      f"({d('refill_parity_cells_written') / blocks:.3f} refill, "
      f"{(d('ssd_parity_cells_written') - d('refill_parity_cells_written')) / blocks:.3f} fresh) + "
      f"{d('refill_intent_cells_written') / blocks:.3f} | {d('refill_stripes')} / {d('refill_flushes') / max(1, d('refill_stripes')):.2f} / {d('compacted_stripes')} | "
      f"{d('refill_cells_read') / blocks:.3f} | {blocks} | {verify} |")
PY
)
  rows+=("$row")
  hb down >/dev/null
  if [[ $level == 80 ]] && python3 -c "import sys; sys.exit(0 if float(sys.argv[1].split('|')[2]) > 1.3 else 1)" "$row"; then
    status=1
  fi
done
echo "| pool full | SSD cells written per host block | data + parity (of refills, of fresh stripes) + intent | refills / flushes per refill / compactions | cells read per block | host blocks measured | fio verify |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "(RAID 1 writes 2 cells per block, RAID 6 3; the white paper's XDP 1.22)"
exit "$status"
