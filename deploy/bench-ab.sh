#!/usr/bin/env bash
# A/B benchmark: this checkout's controller (A) against the controller of another commit (B, built in a
# git worktree of it), side by side in one run with ../shared/tools/fio-compare.py (fio's libiscsi
# engine, alternating A B A B): IOPS, p50/p99 latency, CPU microseconds per I/O, ratios A/B.
#   deploy/bench-ab.sh --base COMMIT [--jobs randwrite-4k,randwrite-4k-dup,randread-4k] [--runtime 15]
#                      [--rounds 2] [--size 2G]
# $HASHBRICK_NODE_OPTS adds controller options to both (e.g. "--read-cache-size 0").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HASHBRICK_TOOLS:-$root/../shared/tools}
jobs=randwrite-4k,randwrite-4k-dup,randread-4k
runtime=15 rounds=2 size=2G base=""
while (($#)); do case $1 in
  --base) base=$2; shift ;; --jobs) jobs=$2; shift ;; --runtime) runtime=$2; shift ;;
  --rounds) rounds=$2; shift ;; --size) size=$2; shift ;; *) echo "unknown option $1" >&2; exit 2 ;; esac; shift; done
[[ -n $base ]] || { echo "bench-ab: --base COMMIT is required" >&2; exit 2; }
[[ -f $tools/fio-compare.py ]] || { echo "bench-ab: $tools/fio-compare.py not found (set HASHBRICK_TOOLS)" >&2; exit 1; }
fio=$(bash "$tools/build-fio-libiscsi.sh" | tail -n 1)
work=$(mktemp -d /var/tmp/hashbrick-ab.XXXXXX)
tree=$work/base
cleanup() {
  "$root/deploy/hashbrick" down --dir "$work/a" >/dev/null 2>&1 || true
  [[ -x $tree/deploy/hashbrick ]] && "$tree/deploy/hashbrick" down --dir "$work/b" >/dev/null 2>&1 || true
  git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
git -C "$root" worktree add --detach "$tree" "$base" >/dev/null
echo "bench-ab: building B ($base)..." >&2
"$tree/deploy/hashbrick" build
"$root/deploy/hashbrick" build
# shellcheck disable=SC2086 # $HASHBRICK_NODE_OPTS: extra controller options
a=$("$root/deploy/hashbrick" up --dir "$work/a" --port 3263 --mgmt-port 0 --lun-size "$size" -- ${HASHBRICK_NODE_OPTS:-})
# shellcheck disable=SC2086
b=$("$tree/deploy/hashbrick" up --dir "$work/b" --port 3264 --mgmt-port 0 --lun-size "$size" -- ${HASHBRICK_NODE_OPTS:-})
echo "bench-ab: A=$a ($(git -C "$root" rev-parse --short HEAD), pid $(cat "$work/a/node.pid"))" \
  " B=$b ($base, pid $(cat "$work/b/node.pid"))  $(nproc) cores"
python3 "$tools/fio-compare.py" --a "$a" --b "$b" --a-pids "$(cat "$work/a/node.pid")" \
  --b-pids "$(cat "$work/b/node.pid")" --jobs "$jobs" --runtime "$runtime" --rounds "$rounds" --size "$size" --fio "$fio"
