#!/usr/bin/env bash
# bench-reduction.sh — issue 3's data-reduction benchmark: write reference data sets through iSCSI
# into a fresh controller each, read the node's `hashbrick stats`, and compare with the ideal computed
# offline from the same bytes (io.hashbrick.node.tools.ReductionIdeal: every unique non-zero 4 KiB
# block at its exact LZ4 size, capped at 4096 bytes).
#
#   deploy/bench-reduction.sh [--sets vm,pg,random] [--seed N] [--clones 10] [--keep] [--no-verify]
#                             [--change-pct 3] [--pg-scale 10] [--random-mib 256] [--port 3263]
#                             [--work DIR] [--cache DIR] [--rebuild] [-- extra controller options]
#
# Sets:
#   vm      CLONES clones of an ext4 image (512 MiB, mke2fs -d) of ~380 MiB of real files from this
#           machine (/etc, /usr/...), each with CHANGE_PCT % of its 4 KiB blocks changed (seeded: half
#           random bytes, half a copy of another block of the image with 8 bytes altered); one volume
#           per clone
#   pg      the relation files of a PostgreSQL data directory after `pgbench -i -s PG_SCALE`,
#           concatenated (each padded to 4 KiB) into one image on LUN 0
#   random  RANDOM_MIB MiB of seeded pseudo-random bytes on LUN 0
#
# Bars (exit 1 when one fails): node data reduction >= 0.98 x ideal for every set; random data
# physical/logical <= 1.01. Exit 3 when the controller answers no statistics (nothing to check).
# Images are cached in CACHE (default /var/tmp/hashbrick-reduction-cache) across runs; controller
# data goes to WORK (default /var/tmp/hashbrick-reduction.PID), deleted at the end unless --keep.
# Needs: Java 25, mke2fs (e2fsprogs), qemu-img with qemu-block-extra, python3, postgresql (pg set).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hb=$root/deploy/hashbrick

sets=vm,pg,random
seed=1
clones=10
keep=0
verify=1
change_pct=3
pg_scale=10
random_mib=256
port=3263
work=""
cache=/var/tmp/hashbrick-reduction-cache
rebuild=0
node_extra=()
vm_image_size=512M
vm_data_mib=380

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while (($#)); do
  case $1 in
    --sets) sets=$2; shift ;;
    --seed) seed=$2; shift ;;
    --clones) clones=$2; shift ;;
    --keep) keep=1 ;;
    --no-verify) verify=0 ;;
    --change-pct) change_pct=$2; shift ;;
    --pg-scale) pg_scale=$2; shift ;;
    --random-mib) random_mib=$2; shift ;;
    --port) port=$2; shift ;;
    --work) work=$2; shift ;;
    --cache) cache=$2; shift ;;
    --rebuild) rebuild=1 ;;
    --) shift; node_extra=("$@"); break ;;
    -h|--help) usage ;;
    *) echo "bench-reduction: unknown option $1" >&2; usage ;;
  esac
  shift
done
[[ $seed =~ ^[0-9]+$ && $clones =~ ^[1-9][0-9]*$ && $pg_scale =~ ^[1-9][0-9]*$ && $random_mib =~ ^[1-9][0-9]*$ ]] ||
  { echo "bench-reduction: --seed, --clones, --pg-scale and --random-mib take positive integers" >&2; exit 2; }
[[ $change_pct =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "bench-reduction: --change-pct takes a number" >&2; exit 2; }
IFS=, read -r -a set_list <<<"$sets"
for s in "${set_list[@]}"; do
  [[ $s == vm || $s == pg || $s == random ]] || { echo "bench-reduction: unknown set $s (vm, pg, random)" >&2; exit 2; }
done

# Java 25 is required; a fresh machine's default java is 17 (as in deploy/hashbrick).
select_java() {
  local jh=${HASHBRICK_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
  if [[ -x $jh/bin/java ]]; then export JAVA_HOME=$jh; export PATH=$jh/bin:$PATH; return; fi
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]] && "$JAVA_HOME/bin/java" -version 2>&1 | grep -q 'version "2[5-9]'; then
    export PATH=$JAVA_HOME/bin:$PATH; return; fi
  echo "bench-reduction: Java 25 not found (looked in $jh); set HASHBRICK_JAVA_HOME" >&2; exit 1
}
select_java
for tool in qemu-img python3 mke2fs; do
  command -v "$tool" >/dev/null || { echo "bench-reduction: $tool not found" >&2; exit 1; }
done
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "bench-reduction: port $port is in use" >&2; exit 1
fi

jar=$root/controller-node/target/hashbrick-controller-node.jar
if [[ ! -f $jar ]] || [[ -n $(find "$root" -path '*/src/main/*' -newer "$jar" -print -quit 2>/dev/null) ]]; then
  echo "bench-reduction: building the controller..." >&2
  "$hb" build
fi
cp_java="$jar:$root/controller-node/target/lib/*"

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }
mib_of() { echo $((($(stat -c %s "$1") + 1048575) / 1048576)); }

[[ -n $work ]] || work=/var/tmp/hashbrick-reduction.$$
mkdir -p "$work" "$cache"
started=()   # controller dirs to stop on exit
pg_running=""
cleanup() {
  local rc=$?
  for d in "${started[@]}"; do "$hb" down --dir "$d" >/dev/null 2>&1 || true; done
  if [[ -n $pg_running ]]; then as_pg "$pgbin/pg_ctl" -D "$pg_running" -m immediate -w stop >/dev/null 2>&1 || true; fi
  if ((keep)); then log "kept $work"; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------- data sets
declare -A images=()    # set -> space-separated image paths
declare -A build_secs=()

# vm: the base image, from real files of this machine (the same for every seed).
vm_base() {
  local dir=$cache/vm base=$cache/vm/base.img
  mkdir -p "$dir"
  if ((rebuild)); then rm -f "$base"; fi
  [[ -f $base ]] && return
  log "vm: building the base image ($vm_data_mib MiB of files from /etc and /usr in an ext4 of $vm_image_size)"
  local stage=$dir/stage list=$dir/files.txt
  rm -rf "$stage" && mkdir -p "$stage"
  # A root-filesystem-like mix: a deterministic sample (by a hash of the path) of the files of
  # /etc, /usr/bin, /usr/sbin, the shared libraries, Python, Perl, git, systemd, headers, locales,
  # documentation and manual pages (gzip'd: incompressible), until the budget is full.
  local d
  for d in /etc /usr/bin /usr/sbin /usr/lib/x86_64-linux-gnu /usr/lib/python3* /usr/lib/git-core \
    /usr/lib/systemd /usr/include /usr/share/perl /usr/share/i18n /usr/share/locale /usr/share/man /usr/share/doc; do
    if [[ -d $d ]]; then find "$d" -xdev \( -type f -readable -o -type l \) -printf '%s\t%p\n' 2>/dev/null || true; fi
  done | python3 -c '
import hashlib, sys
budget = int(sys.argv[1])
files = []
for line in sys.stdin:
    size, path = line.rstrip("\n").split("\t", 1)
    if int(size) <= 16 << 20:  # no single huge file dominates
        files.append((hashlib.sha256(path.encode()).digest(), max(int(size), 4096), path))
files.sort()
total, chosen = 0, []
for _, size, path in files:
    if total + size <= budget:
        total += size
        chosen.append(path[1:])
print("\n".join(sorted(chosen)))
' $((vm_data_mib * 1048576)) >"$list"
  tar -C / --no-recursion -cf - -T "$list" 2>/dev/null | tar -C "$stage" -xf -
  rm -f "$base.tmp"
  # Fixed UUID and hash seed: the same files give the same image.
  mke2fs -q -F -t ext4 -b 4096 -N $(($(wc -l <"$list") * 2 + 8192)) -L hb-vm -U 6b1f0c3e-8d3a-4c55-9e0b-3f2a1d4c5b6a \
    -E hash_seed=0f9a8b7c-6d5e-4f3a-8b2c-1d0e9f8a7b6c -d "$stage" "$base.tmp" "$vm_image_size" >/dev/null
  mv "$base.tmp" "$base"
  rm -rf "$stage"
  log "vm: base image $(du -h --apparent-size "$base" | cut -f1), $(wc -l <"$list") files"
}

# vm: the clones, each with change_pct % of its blocks changed (seeded).
build_vm() {
  local t0 i dir out list=()
  t0=$(now)
  vm_base
  dir=$cache/vm/seed$seed-pct$change_pct
  mkdir -p "$dir"
  for ((i = 0; i < clones; i++)); do
    out=$(printf '%s/clone%02d.img' "$dir" "$i")
    if ((rebuild)) || [[ ! -f $out ]]; then
      cp --sparse=always "$cache/vm/base.img" "$out.tmp"
      python3 - "$cache/vm/base.img" "$out.tmp" "$seed" "$i" "$change_pct" <<'EOF'
import os, random, sys
base, out, seed, idx, pct = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
B = 4096
n = os.path.getsize(base) // B
rnd = random.Random(f"hashbrick-vm-clone:{seed}:{idx}")
targets = sorted(rnd.sample(range(n), round(n * pct / 100)))
with open(base, "rb") as src, open(out, "r+b") as dst:
    for t in targets:
        if rnd.random() < 0.5:
            data = rnd.randbytes(B)                       # new, incompressible content
        else:                                             # a copy of another block, a few bytes altered
            data = None
            for _ in range(64):
                src.seek(rnd.randrange(n) * B)
                cand = bytearray(src.read(B))
                if any(cand):
                    data = cand
                    break
            if data is None:
                data = bytearray(rnd.randbytes(B))
            for _ in range(8):
                data[rnd.randrange(B)] ^= rnd.randrange(1, 256)
        dst.seek(t * B)
        dst.write(data)
EOF
      mv "$out.tmp" "$out"
    fi
    list+=("$out")
  done
  images[vm]="${list[*]}"
  build_secs[vm]=$(elapsed "$t0")
}

as_pg() { # run a PostgreSQL tool as the postgres user when we are root (initdb refuses root)
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

build_pg() {
  local t0 dir out tmp f size
  t0=$(now)
  dir=$cache/pg
  out=$dir/pgbench-s$pg_scale.img
  mkdir -p "$dir"
  if ((rebuild)); then rm -f "$out"; fi
  if [[ ! -f $out ]]; then
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -z $pgbin ]] && command -v pg_config >/dev/null; then pgbin=$(pg_config --bindir); fi
    [[ -n $pgbin && -x $pgbin/initdb ]] ||
      { echo "bench-reduction: PostgreSQL not found (apt-get install -y postgresql postgresql-contrib)" >&2; exit 1; }
    log "pg: initdb + pgbench -i -s $pg_scale ($pgbin)"
    tmp=$dir/build
    rm -rf "$tmp" && mkdir -p "$tmp"
    if ((EUID == 0)); then chown postgres: "$tmp"; fi
    as_pg "$pgbin/initdb" -D "$tmp/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1 ||
      { cat "$tmp/initdb.log" >&2; exit 1; }
    # Unix socket in the build directory only (no TCP): no port can clash with anything.
    pg_running=$tmp/data
    as_pg "$pgbin/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w \
      -o "-k $tmp -c listen_addresses='' -p 54329" start >/dev/null
    as_pg "$pgbin/pgbench" -h "$tmp" -p 54329 -i -s "$pg_scale" postgres >"$tmp/pgbench.log" 2>&1 ||
      { cat "$tmp/pgbench.log" >&2; exit 1; }
    as_pg "$pgbin/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null
    pg_running=""
    rm -f "$out.tmp"
    while IFS= read -r f; do
      cat "$f" >>"$out.tmp"
      size=$(stat -c %s "$out.tmp")
      truncate -s $(((size + 4095) / 4096 * 4096)) "$out.tmp"
    done < <(find "$tmp/data/base" -type f | LC_ALL=C sort)
    mv "$out.tmp" "$out"
    rm -rf "$tmp"
    log "pg: image $(du -h --apparent-size "$out" | cut -f1)"
  fi
  images[pg]=$out
  build_secs[pg]=$(elapsed "$t0")
}

build_random() {
  local t0 out
  t0=$(now)
  out=$cache/random/seed$seed-${random_mib}M.img
  mkdir -p "$cache/random"
  if ((rebuild)) || [[ ! -f $out ]]; then
    log "random: $random_mib MiB (seed $seed)"
    python3 - "$out.tmp" "$seed" "$random_mib" <<'EOF'
import random, sys
rnd = random.Random(f"hashbrick-random:{sys.argv[2]}")
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[3])):
        f.write(rnd.randbytes(1 << 20))
EOF
    mv "$out.tmp" "$out"
  fi
  images[random]=$out
  build_secs[random]=$(elapsed "$t0")
}

# ------------------------------------------------------------------------------------------ the run
# The node's statistics: `hashbrick stats`, or the management API's GET /api/v1/stats it reads, for
# a launcher without the subcommand. Nothing (status 1) when neither answers JSON.
node_stats() {
  local d=$1 out
  if out=$("$hb" stats --dir "$d" 2>/dev/null) && [[ $out == \{* ]]; then echo "$out"; return 0; fi
  if [[ -s $d/node.mgmt ]] && out=$(curl -fsS --max-time 10 "$(cat "$d/node.mgmt")/api/v1/stats" 2>/dev/null) &&
    [[ $out == \{* ]]; then echo "$out"; return 0; fi
  return 1
}

# Reads the statistics until logical and physical bytes stop moving (destage may lag the writes).
read_stats() {
  local d=$1 out prev="" i
  for ((i = 0; i < 60; i++)); do
    out=$(node_stats "$d") || return 1
    out=$(tr -d '\n' <<<"$out")
    local key
    key=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(s.get("logical_bytes"), s.get("physical_bytes"))' "$out")
    if [[ $key == "$prev" ]]; then echo "$out"; return 0; fi
    prev=$key
    sleep 1
  done
  echo "$out"
}

run_set() {
  local set=$1 d=$work/hb-$1 imgs=() mib url base lun i t0 vol
  read -r -a imgs <<<"${images[$set]}"
  mib=0
  for i in "${imgs[@]}"; do local m; m=$(mib_of "$i"); ((m > mib)) && mib=$m; done
  log "$set: controller in $d, ${#imgs[@]} volume(s) of $mib MiB"
  rm -rf "$d"
  started+=("$d")
  url=$("$hb" up --dir "$d" --port "$port" --mgmt-port 0 --lun-size "${mib}M" --block-size 4096 -- "${node_extra[@]}")
  base=${url%/*}
  t0=$(now)
  local urls=()
  for ((i = 0; i < ${#imgs[@]}; i++)); do
    if ((i == 0)); then
      lun=0
    else
      vol=$("$hb" volume create "$set$i" "${mib}M" --block-size 4096 --dir "$d")
      lun=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["lun"])' "$vol")
    fi
    urls+=("$base/$lun")
    # The volume is new and thin: it reads as zeros, so zero regions need not be written.
    qemu-img convert -n --target-is-zero -f raw -O raw "${imgs[i]}" "$base/$lun"
  done
  local write_s
  write_s=$(elapsed "$t0")
  log "$set: wrote $(du -ch --apparent-size "${imgs[@]}" | tail -n 1 | cut -f1) in $write_s s"
  local verified=skipped
  if ((verify)); then
    t0=$(now)
    for ((i = 0; i < ${#imgs[@]}; i++)); do
      qemu-img compare -q -f raw -F raw "${imgs[i]}" "${urls[i]}" ||
        { log "$set: READ-BACK MISMATCH on ${urls[i]} (image ${imgs[i]})"; verified=MISMATCH; }
    done
    [[ $verified == MISMATCH ]] || verified=ok
    log "$set: read-back compare $verified ($(elapsed "$t0") s)"
  fi
  local stats
  if stats=$(read_stats "$d"); then
    echo "$stats" >"$work/$set.stats.json"
  else
    log "$set: stats unavailable (neither deploy/hashbrick stats nor GET /api/v1/stats answered JSON)"
  fi
  # The metadata auditor (refcounts recomputed from A2H against H2P), when the launcher has it.
  local audit=unavailable
  if grep -q '^#   hashbrick audit' "$hb"; then
    if "$hb" audit --dir "$d" >"$work/$set.audit.json" 2>&1; then audit=ok; else audit=FAILED; fi
    log "$set: audit $audit"
  fi
  "$hb" down --dir "$d" >/dev/null
  t0=$(now)
  java -Xmx2g --enable-native-access=ALL-UNNAMED -cp "$cp_java" io.hashbrick.node.tools.ReductionIdeal "${imgs[@]}" \
    >"$work/$set.ideal.json"
  local ideal_s
  ideal_s=$(elapsed "$t0")
  printf '{"set":"%s","volumes":%d,"build_s":%s,"write_s":%s,"ideal_s":%s,"verify":"%s","audit":"%s"}\n' \
    "$set" "${#imgs[@]}" "${build_secs[$set]}" "$write_s" "$ideal_s" "$verified" "$audit" >"$work/$set.run.json"
  if ((!keep)); then rm -rf "$d"; fi
}

t_all=$(now)
for s in "${set_list[@]}"; do
  "build_$s"
  run_set "$s"
done

python3 - "$work" "$(elapsed "$t_all")" "${set_list[@]}" <<'EOF'
import json, os, sys
work, total_s, sets = sys.argv[1], sys.argv[2], sys.argv[3:]
MiB = 1048576
def f(v, fmt):
    return "-" if v is None else format(v, fmt)
def load(name):
    p = os.path.join(work, name)
    return json.load(open(p)) if os.path.exists(p) else None
rows, fails, unchecked, notes = [], [], [], []
for s in sets:
    ideal, stats, run = load(f"{s}.ideal.json"), load(f"{s}.stats.json"), load(f"{s}.run.json")
    if run["verify"] == "MISMATCH":
        fails.append(f"{s}: data read back differs from what was written")
    if run.get("audit") == "FAILED":
        fails.append(f"{s}: the auditor reported discrepancies (see {s}.audit.json with --keep)")
    row = {"set": s, "vols": run["volumes"], "ideal_phys": ideal["ideal_physical_bytes"] / MiB,
           "ideal_drr": ideal["ideal_data_reduction_ratio"], "ideal_logical": ideal["logical_bytes"] / MiB}
    if stats is None:
        unchecked.append(s)
    else:
        L, P = stats["logical_bytes"], stats["physical_bytes"]
        row.update(logical=L / MiB, phys=P / MiB, drr=L / P if P else None)
        row["vs_ideal"] = row["drr"] / row["ideal_drr"] if row["drr"] and row["ideal_drr"] else None
        if L != ideal["logical_bytes"]:
            notes.append(f"{s}: node logical_bytes {L} != ideal logical_bytes {ideal['logical_bytes']} "
                         f"({(L - ideal['logical_bytes']) // 4096:+d} blocks)")
        if stats.get("unique_blocks") is not None and stats["unique_blocks"] != ideal["unique_blocks"]:
            notes.append(f"{s}: node unique_blocks {stats['unique_blocks']} != ideal {ideal['unique_blocks']}")
        if row["vs_ideal"] is None or row["vs_ideal"] < 0.98:
            fails.append(f"{s}: node/ideal data reduction {f(row['vs_ideal'], '.4f')} < 0.98")
        if s == "random":
            row["pl"] = P / L if L else None
            if row["pl"] is None or row["pl"] > 1.01:
                fails.append(f"random: physical/logical {f(row['pl'], '.4f')} > 1.01")
        mapped, unique = stats.get("mapped_blocks"), stats.get("unique_blocks")
        h2p, a2h = stats.get("h2p_ram_bytes"), stats.get("a2h_ram_bytes")
        if unique and h2p is not None and mapped and a2h is not None:
            notes.append(f"{s}: RAM {h2p / unique:.1f} B per unique block (H2P), {a2h / mapped:.2f} B per mapped 4 KiB (A2H); "
                         f"node dedup {stats.get('dedup_ratio')} compression {stats.get('compression_ratio')} "
                         f"(ideal {ideal['ideal_dedup_ratio']} / {ideal['ideal_compression_ratio']})")
    notes.append(f"{s}: ideal: {ideal['unique_blocks']} unique of {ideal['nonzero_blocks']} non-zero blocks "
                 f"(dedup {ideal['ideal_dedup_ratio']}), compression {ideal['ideal_compression_ratio']}, "
                 f"{ideal['raw_unique_blocks']} unique blocks raw, {ideal['zero_blocks']} zero blocks; read-back {run['verify']}, audit {run.get('audit')}")
    row["times"] = f"{run['build_s']}/{run['write_s']}/{run['ideal_s']}"
    rows.append(row)
print()
print("| set | volumes | logical MiB | physical MiB | node reduction | ideal physical MiB | ideal reduction | node/ideal (>= 0.98) | physical/logical (random, <= 1.01) | build/write/ideal s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['set']} | {r['vols']} | {f(r.get('logical'), '.1f')} | {f(r.get('phys'), '.1f')} | {f(r.get('drr'), '.3f')} "
          f"| {r['ideal_phys']:.1f} | {f(r['ideal_drr'], '.3f')} | {f(r.get('vs_ideal'), '.4f')} | {f(r.get('pl'), '.4f')} | {r['times']} |")
print(f"\n(ideal logical MiB: " + ", ".join(f"{r['set']} {r['ideal_logical']:.1f}" for r in rows) + f"; total {total_s} s)")
for n in notes:
    print("note:", n)
for s in unchecked:
    print(f"{s}: stats unavailable: the controller answered no statistics; bars not checked")
for x in fails:
    print("FAIL:", x)
if fails:
    sys.exit(1)
if unchecked:
    sys.exit(3)
print("PASS: every bar met")
EOF
