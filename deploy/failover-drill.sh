#!/usr/bin/env bash
# Failover drill (issue 19 "Done when"), the same load and measure as
# ../shared/tools/ceph-failover.sh against peer-ceph.sh: a verifying 4k random-write load (fio libiscsi,
# QD16, verify=crc32c, verify_state_save) through controller --through's portal of a fresh cluster; in
# each round a random other controller (the Raft leader among them) is SIGKILLed at --at s and started
# again --down s later (--mode kill), or SIGSTOPped at --at s and SIGCONTed --down s later (--mode
# pause; its brick peer fences it once its lease ran out, so it is started again after the SIGCONT). After fio ends, every acknowledged write must read back (--verify_only
# --verify_state_load) through ANOTHER controller's portal. Pause = largest gap between consecutive
# completions in fio's completion-latency log: at the fault (from the kill to the start) and at the
# rejoin (after the start).
#   deploy/failover-drill.sh [--mode kill|pause] [--rounds 3] [--bricks 1] [--through 1] [--runtime 45] [--at 8] [--down 10]
#                            [--port 3600] [--raft-port 7600] [--out DIR] [--size 256m] [--keep]
# (--keep: the cluster's logs stay in the work directory even after a clean run)
# One JSON line per round (mode, round, victim, pause_fault_s, pause_rejoin_s, writes, verified,
# verify_errors, fio_rc, verify_rc, journal_from_mirror), then a summary line; exit 1 if any round lost a
# write or failed, or if its failover did not open the victim's pool from the journals its brick peer held
# (journal_mirror_installed: the mirror stands for the dead controller's memory).
# Leaves nothing running (trap); every wait is bounded.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hb=$root/deploy/hashbrick
tools=${HASHBRICK_TOOLS:-$root/../shared/tools}
mode=kill rounds=3 bricks=1 through=1 runtime=45 at=8 down=10 port=3600 raft_port=7600 out="" size=256m keep=false
while (($#)); do case $1 in
  --rounds) rounds=$2 ;; --bricks) bricks=$2 ;; --through) through=$2 ;; --runtime) runtime=$2 ;;
  --at) at=$2 ;; --down) down=$2 ;; --port) port=$2 ;; --raft-port) raft_port=$2 ;; --out) out=$2 ;;
  --size) size=$2 ;; --mode) mode=$2 ;; --keep) keep=true; shift; continue ;;
  *) echo "failover-drill: unknown option $1" >&2; exit 2 ;; esac; shift 2; done
[[ $mode == kill || $mode == pause ]] || { echo "failover-drill: --mode is kill or pause: $mode" >&2; exit 2; }
((at + down < runtime)) || { echo "failover-drill: --at + --down must be below --runtime" >&2; exit 2; }
fio=$(timeout 600 bash "$tools/build-fio-libiscsi.sh" | tail -n 1)
work=$(mktemp -d /tmp/hb-drill.XXXXXX)
out=${out:-$work/rounds}
dir=$work/cluster
initiator=iqn.2026-12.io.hashbrick:drill-$$
finished=0
cleanup() {
  local rc=$?
  pkill -f -- "--initiator=$initiator" 2>/dev/null || true
  timeout -s KILL 60 "$hb" down --dir "$dir" >/dev/null 2>&1 || true
  if [[ $rc == 0 && $finished == 1 ]] && ! $keep; then rm -rf "$dir"; else echo "failover-drill: cluster logs kept in $dir" >&2; fi
  exit $rc
}
trap cleanup EXIT
controllers=$((2 * bricks))
echo "failover-drill: up --bricks $bricks (dir $dir)" >&2
timeout -k 10 300 "$hb" up --bricks "$bricks" --dir "$dir" --port "$port" --mgmt-port 0 --raft-port "$raft_port" \
  --lun-size 1G --ssd-size 512M --nvram-size 64M --read-cache-size 32M >/dev/null
url() { timeout -k 5 30 "$hb" url --controller "$1" --dir "$dir"; }
leader() { timeout -k 5 30 "$hb" status --json --dir "$dir" | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"] or "")'; }
mkdir -p "$out"
failed=0
for ((r = 1; r <= rounds; r++)); do
  # a random controller other than the one the load goes through; every third round the Raft leader
  # when it is another controller
  victim=$through
  while [[ $victim == "$through" ]]; do victim=$((RANDOM % controllers + 1)); done
  l=$(leader || true)
  if ((r % 3 == 0)) && [[ $l =~ ^c([0-9]+)$ && ${BASH_REMATCH[1]} != "$through" ]]; then victim=${BASH_REMATCH[1]}; fi
  reader=$victim # read back through another controller's portal: the victim's own, once it is back
  rd=$out/$mode-r$r; rm -rf "$rd"; mkdir -p "$rd"
  u=$(url "$through" | sed 's/:/\\:/g')
  common=(--name=fo --ioengine=libiscsi --initiator="$initiator" --filename="$u" --size="$size"
          --rw=randwrite --bs=4k --iodepth=16 --verify=crc32c)
  seed=$(( (RANDOM << 15) | RANDOM ))
  t0=$(date +%s.%N)
  (cd "$rd" && setsid timeout $((runtime + 120)) "$fio" "${common[@]}" --randseed="$seed" --verify_state_save=1 \
    --do_verify=0 --time_based --runtime="$runtime" --write_lat_log=lat --output=write.out \
    </dev/null >write.stderr 2>&1) &
  fpid=$!
  sleep "$at"
  ta=$(date +%s.%N)
  timeout -k 5 30 "$hb" "$mode" "$victim" --dir "$dir" >>"$rd/actions.log" 2>&1
  sleep "$down"
  tb=$(date +%s.%N)
  fenced=0
  if [[ $mode == pause ]]; then
    timeout -k 5 30 "$hb" resume "$victim" --dir "$dir" >>"$rd/actions.log" 2>&1 || fenced=1
  fi
  if [[ $mode == kill ]] || ((fenced)); then
    timeout -k 10 180 "$hb" start "$victim" --dir "$dir" >>"$rd/actions.log" 2>&1 || echo "start $victim failed" >>"$rd/actions.log"
  fi
  wait "$fpid" && frc=0 || frc=$?
  # wait (bounded) until the victim serves its own pool again and has its portal, then read back through it
  home=0
  for _ in $(seq 1 60); do
    timeout -k 5 30 "$hb" status --json --dir "$dir" 2>/dev/null | python3 -c '
import json,sys; s=json.load(sys.stdin); c=[c for c in s["controllers"] if c["id"]=="c'"$reader"'"][0]
sys.exit(0 if c["url"] and c["pool_served_by"]==c["id"] and not c["serving_peer_pool"] else 1)' && { home=1; break; }
    sleep 1
  done
  ((home)) || echo "c$reader did not serve its own pool again within 60 s" >>"$rd/actions.log"
  v=$(url "$reader" | sed 's/:/\\:/g')
  vcommon=("${common[@]/--filename=*/--filename=$v}")
  (cd "$rd" && timeout 600 "$fio" "${vcommon[@]}" --randseed="$seed" --verify_only --verify_state_load=1 \
    --output=verify.out </dev/null >verify.stderr 2>&1) && vrc=0 || vrc=$?
  grep -h "controller_fenced\|fence_\|lease_lapsed\|pool_failover\b\|pool_failback\|pool_released\|pool_taken_back\|write_redone\|route_gave_up\|journal_mirror_installed\|journal_mirror_not_used\|journal_mirror_degraded" \
    "$dir"/c*/node.log >"$rd/failover-events.log" 2>/dev/null || true
  python3 - "$rd" "$t0" "$ta" "$tb" "$frc" "$vrc" "$r" "$victim" "$reader" "$l" "$home" "$mode" "$fenced" "$runtime" <<'EOF' || failed=1
import sys, re, json
rd, t0, ta, tb, frc, vrc, r, victim, reader, leader, home, mode, fenced, runtime = sys.argv[1:]
import datetime
def when(line):
    m = re.match(r"(\S+)Z ", line)
    return datetime.datetime.fromisoformat(m.group(1)[:26]).replace(tzinfo=datetime.timezone.utc).timestamp() if m else 0
# when the victim served its pool again, from fio's start: a failback after fio's end is not measured
back = [when(x) for x in open(f"{rd}/failover-events.log") if f"event=pool_failback member=c{victim} " in x]
back = [t for t in back if t > float(tb)]
# the failover opened the victim's pool from the journals its brick peer held in memory (journal mirroring)
mirrored = [x for x in open(f"{rd}/failover-events.log")
            if f"event=journal_mirror_installed " in x and f" pool=c{victim} " in x and when(x) > float(ta)]
t0, ta, tb = float(t0), float(ta), float(tb)
ts = sorted(int(l.split(",")[0]) for l in open(f"{rd}/lat_clat.1.log") if l.strip())
a, b = (ta - t0) * 1000, (tb - t0) * 1000
def gap(lo, hi):
    g = [(y - x, x) for x, y in zip(ts, ts[1:]) if lo <= y and x <= hi]
    return max(g, default=(0, 0))
fault, rejoin = gap(a, b), gap(b, ts[-1] if ts else b)
wout = open(f"{rd}/write.out").read(); vout = open(f"{rd}/verify.out").read() if vrc != "124" else ""
ios = int(m.group(1)) if (m := re.search(r"issued rwts: total=\d+,(\d+)", wout)) else -1
verified = int(m.group(1)) if (m := re.search(r"issued rwts: total=(\d+)", vout)) else -1
errs = len(re.findall(r"verify: bad|bad magic|crc32c: verify failed|verify failed", vout + open(f"{rd}/verify.stderr").read()))
res = dict(mode=mode, round=int(r), victim=f"c{victim}", victim_was_leader=leader == f"c{victim}",
           pause_fault_s=fault[0] / 1000, pause_rejoin_s=rejoin[0] / 1000, writes=ios, verified=verified,
           read_back_through=f"c{reader}", failed_back=home == "1", verify_rc=int(vrc), verify_errors=errs,
           fio_rc=int(frc))
res["failback_at_s"] = round(back[0] - float(t0), 3) if back else None
res["journal_from_mirror"] = bool(mirrored)
if mirrored:
    res["mirror_install"] = " ".join(f for f in mirrored[0].split() if "_last=" in f or f.startswith("ms="))
res["failback_under_load"] = bool(back) and back[0] - float(t0) < float(runtime) - 1
if mode == "pause":
    res["fenced"] = fenced == "1"  # found gone at the SIGCONT: its brick peer fenced it
print(json.dumps(res), flush=True)
json.dump(res, open(f"{rd}/result.json", "w"))
sys.exit(0 if int(frc) == 0 and int(vrc) == 0 and errs == 0 and verified > 0 and home == "1" and mirrored else 1)
EOF
done
python3 - "$out" "$mode" <<'EOF'
import glob, json, statistics, sys
mode = sys.argv[2]
rs = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + f"/{mode}-r*/result.json"))]
if rs:
    f = [r["pause_fault_s"] for r in rs]; j = [r["pause_rejoin_s"] for r in rs]
    bad = [r["round"] for r in rs if r["fio_rc"] or r["verify_rc"] or r["verify_errors"] or r["verified"] <= 0]
    print(f"summary mode={mode} rounds={len(rs)} fault_pause_median_s={statistics.median(f):.3f} fault_pause_max_s={max(f):.3f}"
          f" rejoin_pause_median_s={statistics.median(j):.3f} rejoin_pause_max_s={max(j):.3f}"
          f" writes={sum(r['writes'] for r in rs)} failed_rounds={bad or 'none'}"
          f" failbacks_not_under_load={[r['round'] for r in rs if not r.get('failback_under_load')] or 'none'}")
EOF
finished=1
exit $failed
