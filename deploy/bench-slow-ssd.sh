#!/usr/bin/env bash
# Slow-SSD benchmark (issue 16, item 8): one controller, healthy against one SSD slowed by the
# simulator (`hashbrick ssd slow SLOT --latency-ms L`), in one run, with fio's libiscsi engine:
#   cached 4 KiB random reads, duplicate 4 KiB random writes, unique 4 KiB random writes (QD32 each).
# Each phase starts from the same state: the LUN prefilled with unique data (128 KiB sequential
# writes) and destaged; the slow phase slows the SSD after that, and heals it at the end.
# Prints IOPS and p99 per job and phase, the slow/healthy ratio against the bars (>= 0.70 for
# duplicate writes and cached reads; unique writes must keep going), and what the controller saw.
#   deploy/bench-slow-ssd.sh [--slot 3] [--latency-ms 100] [--runtime 10] [--rounds 2] [--size 1G] [--keep]
# Rounds alternate healthy and slow phases on one controller; the table shows each figure's median.
# $HASHBRICK_NODE_OPTS adds controller options; $HASHBRICK_FIO names the fio binary (with libiscsi).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HASHBRICK_TOOLS:-$root/../shared/tools}
slot=3 latency=100 runtime=10 rounds=2 size=1G keep=false port=3265
while (($#)); do case $1 in
  --slot) slot=$2; shift ;; --latency-ms) latency=$2; shift ;; --runtime) runtime=$2; shift ;;
  --rounds) rounds=$2; shift ;;
  --size) size=$2; shift ;; --port) port=$2; shift ;; --keep) keep=true ;;
  *) echo "bench-slow-ssd: unknown option $1" >&2; exit 2 ;; esac; shift; done
fio=${HASHBRICK_FIO:-$(bash "$tools/build-fio-libiscsi.sh" | tail -n 1)}
"$fio" --enghelp 2>/dev/null | grep -qw libiscsi || { echo "bench-slow-ssd: $fio has no libiscsi engine" >&2; exit 1; }
work=$(mktemp -d /var/tmp/hashbrick-slow.XXXXXX)
hb() { local cmd=$1; shift; "$root/deploy/hashbrick" "$cmd" --dir "$work/node" "$@"; }
cleanup() {
  hb down >/dev/null 2>&1 || true
  if [[ $keep == true ]]; then echo "bench-slow-ssd: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# shellcheck disable=SC2086 # $HASHBRICK_NODE_OPTS: extra controller options
url=$(hb up --port "$port" --mgmt-port 0 --lun-size "$size" -- --allow-fault-injection ${HASHBRICK_NODE_OPTS:-})
pid=$(cat "$work/node/node.pid")
echo "bench-slow-ssd: $url (pid $pid, $(git -C "$root" rev-parse --short HEAD)) slot=$slot latency_ms=$latency" \
  "runtime=${runtime}s rounds=$rounds size=$size $(nproc) cores"

stat_of() { hb stats | python3 -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }

# fio through libiscsi: JOB [extra fio args]; prints "iops p99_us max_ms min_1s_iops", the last being
# the fewest I/Os completed in any whole second between the first and the last fio logged (0: the
# I/O stopped for a second or more)
fio_job() {
  local name=$1; shift
  local out=$work/$name.json
  rm -f "$work/$name"_iops.*.log
  "$fio" --name="$name" --ioengine=libiscsi --initiator=iqn.2025-01.org.bench:fio \
    --filename="${url//:/\\:}" --size="$size" --group_reporting --output-format=json --output="$out" \
    --write_iops_log="$work/$name" --log_avg_msec=1000 "$@" >/dev/null
  python3 - "$out" "$work/$name" <<'EOF'
import glob, json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
iops = p99 = mx = 0.0
for d in ("read", "write"):
    x = j[d]; iops += x["iops"]
    if x["total_ios"]:
        p99 = max(p99, x.get("clat_ns", {}).get("percentile", {}).get("99.000000", 0) / 1000)
        mx = max(mx, x.get("clat_ns", {}).get("max", 0) / 1e6)
per_s = {}  # fio logs no entry for a second without completions: those count as 0 here
for f in glob.glob(sys.argv[2] + "_iops.*.log"):
    for line in open(f):
        t, v = line.split(",")[:2]
        per_s[round(int(t) / 1000)] = per_s.get(round(int(t) / 1000), 0) + int(v)
keys = sorted(per_s)
whole = [per_s.get(k, 0) for k in range(keys[0], keys[-1])] if keys else []  # the last may be cut short
print(f"{iops:.0f} {p99:.0f} {mx:.0f} {min(whole) if whole else 0}")
EOF
}

prefill() {
  fio_job prefill --rw=write --bs=128k --iodepth=16 --refill_buffers=1 >/dev/null
  for _ in $(seq 1 600); do # until destage has taken everything out of the journal (at most 60 s)
    [[ $(stat_of journal_blocks) == 0 ]] && return 0
    sleep 0.1
  done
  echo "bench-slow-ssd: journal not drained after 60 s (journal_blocks=$(stat_of journal_blocks))" >&2
}

jobs=(randread-4k randwrite-4k-dup randwrite-4k)
declare -A args=(
  [randread-4k]="--rw=randread --bs=4k --iodepth=32"
  [randwrite-4k-dup]="--rw=randwrite --bs=4k --iodepth=32 --dedupe_percentage=100"
  [randwrite-4k]="--rw=randwrite --bs=4k --iodepth=32 --refill_buffers=1 --randrepeat=0"
)
declare -A result
run_phase() { # PHASE ROUND
  for job in "${jobs[@]}"; do
    # shellcheck disable=SC2086 # the job's fio arguments
    result[$1,$2,$job]=$(fio_job "$job" --time_based --runtime="$runtime" --ramp_time=2 ${args[$job]})
    echo "  $1 $job: IOPS p99_us max_ms min_1s_iops = ${result[$1,$2,$job]}" \
      "(journal_blocks=$(stat_of journal_blocks) checkpoints=$(stat_of checkpoints)" \
      "checkpoint_last_ms=$(stat_of checkpoint_last_ms) stripe_width_new=$(stat_of stripe_width_new)" \
      "ssds_slow=$(stat_of ssds_slow) read_cache_misses=$(stat_of read_cache_misses)" \
      "reads_around_slow_ssd=$(stat_of reads_around_slow_ssd))"
  done
}

for ((round = 1; round <= rounds; round++)); do
  echo "round $round, healthy: prefill, then ${jobs[*]}"
  prefill
  run_phase healthy "$round"
  echo "round $round, slow: prefill (healthy), then ssd slow $slot --latency-ms $latency, then ${jobs[*]}"
  prefill
  hb ssd slow "$slot" --latency-ms "$latency" >/dev/null
  t_slow=$(date +%s)
  run_phase slow "$round"
  echo "  dae: $(stat_of dae_health) injected_latency_ms=$(stat_of ssd_injected_latency_ms)"
  hb ssd heal "$slot" >/dev/null
  sleep 3
  echo "  3 s after heal: stripe_width_new=$(stat_of stripe_width_new) ssds_slow=$(stat_of ssds_slow)" \
    "pool_state=$(stat_of pool_state); the slow phase lasted $(($(date +%s) - t_slow)) s"
done
echo "log: $(grep -c 'event=ssd_slow ' "$work/node/node.log" || true) ssd_slow and" \
  "$(grep -c 'event=ssd_fast_again ' "$work/node/node.log" || true) ssd_fast_again lines; round 1's, with the drills:"
grep -m 4 -E 'event=(ssd_drill|ssd_slow|ssd_fast_again) ' "$work/node/node.log" | sed 's/^/  /' || true
echo "audit: $( (hb audit || true) | python3 -c "import json,sys; print('discrepancies=%s' % json.load(sys.stdin)['discrepancies'])")"

# The median over rounds of each figure (of two rounds: their mean, as fio-compare.py takes it).
median() { # PHASE JOB FIELD(1..4)
  local v=()
  for ((round = 1; round <= rounds; round++)); do v+=("$(cut -d' ' -f"$3" <<<"${result[$1,$round,$2]}")"); done
  python3 -c "import statistics, sys; print(round(statistics.median(map(float, sys.argv[1:]))))" "${v[@]}"
}
echo
echo "median of $rounds round(s), each job ${runtime} s after 2 s of ramp, QD32:"
printf '%-18s %12s %10s %6s %9s %9s %9s %9s %9s %9s  %s\n' job "IOPS healthy" "IOPS slow" ratio "p99us h" \
  "p99us s" "max_ms h" "max_ms s" "min/s h" "min/s s" bar
for job in "${jobs[@]}"; do
  ih=$(median healthy "$job" 1) ph=$(median healthy "$job" 2) mh=$(median healthy "$job" 3) nh=$(median healthy "$job" 4)
  is=$(median slow "$job" 1) ps=$(median slow "$job" 2) ms=$(median slow "$job" 3) ns=$(median slow "$job" 4)
  ratio=$(python3 -c "print(f'{$is / max($ih, 1):.2f}')")
  case $job in
    randwrite-4k) bar="keeps going (every second > 0)"; ok=$(python3 -c "print('met' if $ns > 0 else 'NOT MET')") ;;
    *) bar=">= 0.70"; ok=$(python3 -c "print('met' if $is >= 0.70 * $ih else 'NOT MET')") ;;
  esac
  printf '%-18s %12s %10s %6s %9s %9s %9s %9s %9s %9s  %s: %s\n' "$job" "$ih" "$is" "$ratio" "$ph" "$ps" "$mh" "$ms" \
    "$nh" "$ns" "$bar" "$ok"
done
