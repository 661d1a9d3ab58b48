#!/usr/bin/env bash
# The cluster's cost (issue 19 "Cost"): a one-brick cluster (A: fio through controller K's portal, the
# CPU summed over c1, c2 and the witness) against a single controller (B) of the same build, side by
# side in one run with ../shared/tools/fio-compare.py (fio's libiscsi engine, alternating A B A B):
# IOPS, p50/p99, CPU us per I/O, ratios A/B. Prints first a plain loopback TCP round trip measured on
# this machine in the same run, and last the inter-controller calls per host write of the cluster.
#   deploy/bench-cluster.sh [--jobs randwrite-4k,randwrite-4k-dup,randread-4k,randwrite-4k-qd1]
#                           [--runtime 15] [--rounds 2] [--size 1G] [--portal 1] [--jfr DIR]
# $HASHBRICK_NODE_OPTS adds controller options to both (e.g. "--read-cache-size 0"). --jfr DIR: the
# cluster's controllers record a JFR profile (settings=profile) into DIR/cK-PID.jfr, written at `down`
# (read with `jfr view hot-methods FILE`, `jfr print --events jdk.ExecutionSample FILE`). Last, the
# context switches of A's threads per host I/O over the whole run (prefill included).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HASHBRICK_TOOLS:-$root/../shared/tools}
hb=$root/deploy/hashbrick
jobs=randwrite-4k,randwrite-4k-dup,randread-4k,randwrite-4k-qd1
runtime=15 rounds=2 size=1G portal=1 jfr=""
while (($#)); do case $1 in
  --jobs) jobs=$2; shift ;; --runtime) runtime=$2; shift ;; --rounds) rounds=$2; shift ;; --jfr) jfr=$2; shift ;;
  --size) size=$2; shift ;; --portal) portal=$2; shift ;; *) echo "unknown option $1" >&2; exit 2 ;; esac; shift; done
[[ -f $tools/fio-compare.py ]] || { echo "bench-cluster: $tools/fio-compare.py not found (set HASHBRICK_TOOLS)" >&2; exit 1; }
fio=$(bash "$tools/build-fio-libiscsi.sh" | tail -n 1)
work=$(mktemp -d /var/tmp/hashbrick-cluster-bench.XXXXXX)
cleanup() {
  timeout 60 "$hb" down --dir "$work/a" >/dev/null 2>&1 || true
  timeout 60 "$hb" down --dir "$work/b" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$hb" build
python3 - <<'PY'
import socket, threading, time
# A plain loopback TCP ping-pong (64-byte messages, TCP_NODELAY): the floor of one inter-controller hop.
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(("127.0.0.1", 0)); srv.listen(1)
def echo():
    c, _ = srv.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        b = c.recv(64)
        if not b: return
        c.sendall(b)
threading.Thread(target=echo, daemon=True).start()
s = socket.create_connection(srv.getsockname()); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = b"x" * 64; lat = []
for i in range(3000):
    t = time.perf_counter_ns(); s.sendall(msg); n = 0
    while n < 64: n += len(s.recv(64 - n))
    lat.append((time.perf_counter_ns() - t) / 1000)
lat = sorted(lat[500:])
print(f"bench-cluster: loopback TCP round trip (python, 64 B, NODELAY): p50 {lat[len(lat)//2]:.1f} us, p99 {lat[int(len(lat)*0.99)]:.1f} us")
PY
a_opts=${HASHBRICK_JAVA_OPTS:-}
if [[ -n $jfr ]]; then
  mkdir -p "$jfr"; jfr=$(cd "$jfr" && pwd)
  a_opts="${a_opts:--Xms256m -Xmx1g} -XX:StartFlightRecording=filename=$jfr/c-%p.jfr,settings=profile,dumponexit=true"
fi
# shellcheck disable=SC2086 # $HASHBRICK_NODE_OPTS: extra controller options
a=$(HASHBRICK_JAVA_OPTS=$a_opts "$hb" up --bricks 1 --dir "$work/a" --port 3360 --mgmt-port 0 --raft-port 7360 --lun-size "$size" ${HASHBRICK_NODE_OPTS:-})
a=$("$hb" url --controller "$portal" --dir "$work/a")
# shellcheck disable=SC2086
b=$("$hb" up --dir "$work/b" --port 3370 --mgmt-port 0 --lun-size "$size" --read-cache-size 1G -- ${HASHBRICK_NODE_OPTS:-})
apids=$(cat "$work/a/c1/node.pid"),$(cat "$work/a/c2/node.pid"),$(cat "$work/a/w/witness.pid")
echo "bench-cluster: A=$a (1 brick: c1 c2 w, pids $apids) B=$b (one controller, pid $(cat "$work/b/node.pid"))  $(nproc) cores"
calls() { # the cluster's role calls and host writes so far, summed over c1 and c2: "writes d_remote c_remote d_local c_local"
  local k w=0 dr=0 cr=0 dl=0 cl=0 line
  for k in 1 2; do
    line=$(curl -sS --max-time 10 "$(cat "$work/a/c$k/node.mgmt")/api/v1/status" | python3 -c '
import json, sys
s = json.load(sys.stdin); r = s.get("role_calls", {})
print(r.get("role_calls_d_remote", 0), r.get("role_calls_c_remote", 0), r.get("role_calls_d_local", 0), r.get("role_calls_c_local", 0))')
    read -r a1 a2 a3 a4 <<<"$line"; dr=$((dr + a1)); cr=$((cr + a2)); dl=$((dl + a3)); cl=$((cl + a4))
    w=$((w + $(curl -sS --max-time 10 "$(cat "$work/a/c$k/node.mgmt")/metrics" | awk '/^hashbrick_writes_total /{printf "%d", $2}')))
  done
  echo "$w $dr $cr $dl $cl"
}
switches() { # voluntary + involuntary context switches of every live thread of A's processes
  local p n=0 v
  for p in ${apids//,/ }; do
    for v in $(cat /proc/"$p"/task/*/status 2>/dev/null | awk '/ctxt_switches/{print $2}'); do n=$((n + v)); done
  done
  echo "$n"
}
ios() { # host reads + writes completed so far, summed over c1 and c2
  local k n=0
  for k in 1 2; do
    n=$((n + $(curl -sS --max-time 10 "$(cat "$work/a/c$k/node.mgmt")/metrics" |
      awk '/^hashbrick_(writes|reads)_total /{s += $2} END {printf "%d", s}')))
  done
  echo "$n"
}
read -r w0 dr0 cr0 dl0 cl0 <<<"$(calls)"
x0=$(switches) io0=$(ios)
python3 "$tools/fio-compare.py" --a "$a" --b "$b" --a-pids "$apids" --b-pids "$(cat "$work/b/node.pid")" \
  --jobs "$jobs" --runtime "$runtime" --rounds "$rounds" --size "$size" --fio "$fio"
read -r w1 dr1 cr1 dl1 cl1 <<<"$(calls)"
x1=$(switches) io1=$(ios)
echo "bench-cluster: A's context switches over the run: $((x1 - x0)) for $((io1 - io0)) host I/Os ($(((x1 - x0) * 10 / (io1 - io0 > 0 ? io1 - io0 : 1)))/10 per I/O)"
python3 -c '
import sys
w, dr, cr, dl, cl = (int(x) for x in sys.argv[1:])
print(f"bench-cluster: cluster role calls over the run (reads included): {dr} to a remote D, {cr} to a remote C, {dl} local D, {cl} local C; host writes {w}")
' $((w1 - w0)) $((dr1 - dr0)) $((cr1 - cr0)) $((dl1 - dl0)) $((cl1 - cl0))
