# shellcheck shell=bash
# The cluster half of deploy/hashbrick (sourced by it): `up --bricks N` and the commands that act on
# one process of the cluster. Layout under DIR:
#   cluster.env    bricks, ports and voters, written by `up --bricks N` (its presence = cluster mode)
#   cluster.args   c1's extra node options (portal, volumes, SSDs...), shell-quoted
#   cK/            controller K's data directory: node.log node.pid node.mgmt (node.url: c1 only), raft/
#   w/             the witness of a one-brick cluster: witness.log witness.pid raft/
# Ports: portal P+K-1, management M+K-1 (or any free port with --mgmt-port 0), Raft R+K for cK and R
# for the witness, roles (D and C served to the other controllers) R+50+K.

# Every controller opens its own pool (DAE and NVRAM under cK/) and its portal; each owns the buckets
# and regions the map gives it and serves them to the others (issue 19 item 3).

cluster_env_load() {
  # shellcheck disable=SC1091
  source "$dir/cluster.env"
  role_port=${role_port:-$((raft_port + 50))}
}

cluster_voters() { # bricks -> voter ids, comma-separated
  local n=$1
  if ((n == 1)); then echo c1,c2,w
  elif ((n == 2)); then echo c1,c2,c3
  else echo c1,c2,c3,c4,c5; fi
}

cluster_peers() { # the --raft-peers spec for the voters of cluster.env
  local v spec="" port
  IFS=, read -ra vs <<<"$voters"
  for v in "${vs[@]}"; do
    if [[ $v == w ]]; then port=$raft_port; else port=$((raft_port + ${v#c})); fi
    spec+="${spec:+,}$v=127.0.0.1:$port"
  done
  echo "$spec"
}

cluster_proc_dir() { if [[ $1 == w ]]; then echo "$dir/w"; else echo "$dir/c$1"; fi; }
cluster_pid_file() { if [[ $1 == w ]]; then echo "$dir/w/witness.pid"; else echo "$dir/c$1/node.pid"; fi; }
cluster_pid() { local f; f=$(cluster_pid_file "$1"); [[ -f $f ]] && cat "$f"; }

cluster_health() { # running | paused | stopped
  local pid; pid=$(cluster_pid "$1") || true
  if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then echo stopped; return; fi
  local st; st=$(ps -o stat= -p "$pid" 2>/dev/null || true)
  if [[ $st == T* ]]; then echo paused; else echo running; fi
}

cluster_members() { # every process id: 1..2N, then w for one brick
  seq 1 $((2 * bricks))
  if [[ ,$voters, == *,w,* ]]; then echo w; fi
}

cluster_check_id() { # K must name a process of this cluster
  local k=$1 m
  for m in $(cluster_members); do [[ $m == "$k" ]] && return 0; done
  echo "hashbrick: no controller '$k' in this cluster (controllers 1..$((2 * bricks))$([[ ,$voters, == *,w,* ]] && echo ", w = the witness"))" >&2
  exit 2
}

cluster_start_one() { # K: start controller K (or the witness) in the background
  local k=$1 d pid
  d=$(cluster_proc_dir "$k"); mkdir -p "$d"
  local jvm=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
    -cp "$jar:$root/controller-node/target/lib/*")
  if [[ $k == w ]]; then
    # shellcheck disable=SC2086
    setsid java -XX:+UseSerialGC ${HASHBRICK_WITNESS_JAVA_OPTS:--Xms32m -Xmx128m} "${jvm[@]}" \
      io.hashbrick.node.cluster.Witness --id w --peers "$(cluster_peers)" --dir "$d/raft" \
      >>"$d/witness.log" 2>&1 </dev/null &
    echo $! >"$d/witness.pid"
    return
  fi
  local mport=0 opts
  ((mgmt_port == 0)) || mport=$((mgmt_port + k - 1))
  local args=(--dir "$d" --member-id "c$k" --bricks "$bricks" --raft-peers "$(cluster_peers)"
    --port $((port + k - 1)) --mgmt-port "$mport" --role-port $((role_port + k)))
  local extra=(); eval "extra=($(cat "$dir/cluster.args"))"
  # Each controller has a pool of its own: a smaller read cache by default, so 4 bricks fit here.
  [[ " ${extra[*]} " == *" --read-cache-size "* || " ${extra[*]} " == *" --read-cache-size="* ]] ||
    args+=(--read-cache-size 512M)
  args+=("${extra[@]}")
  opts=${HASHBRICK_JAVA_OPTS:--Xms256m -Xmx1g}
  rm -f "$d/node.url" "$d/node.mgmt"
  # shellcheck disable=SC2086
  setsid java -XX:+UseParallelGC $opts "${jvm[@]}" io.hashbrick.node.Main "${args[@]}" \
    >>"$d/node.log" 2>&1 </dev/null &
  echo $! >"$d/node.pid"
}

cluster_wait_ready() { # K SECONDS: wait until controller K's management server answers
  local k=$1 d; d=$(cluster_proc_dir "$k")
  [[ $k == w ]] && return 0
  local end=$((SECONDS + $2))
  while ((SECONDS < end)); do
    [[ -s $d/node.mgmt ]] && return 0
    if [[ $(cluster_health "$k") == stopped ]]; then
      echo "hashbrick: controller c$k exited during start-up; last log lines:" >&2; tail -n 20 "$d/node.log" >&2; return 1
    fi
    sleep 0.1
  done
  echo "hashbrick: controller c$k not ready after $2 s (log: $d/node.log)" >&2; return 1
}

cluster_wait_leader() { # SECONDS: until c2 (a voter in every layout) knows a leader
  local end=$((SECONDS + $1)) st
  while ((SECONDS < end)); do
    st=$(curl -sS --max-time 1 "$(cat "$dir/c2/node.mgmt" 2>/dev/null)/api/v1/status" 2>/dev/null || true)
    [[ $st =~ \"leader\"\ *:\ *\"[a-z0-9]+\" ]] && return 0
    sleep 0.1
  done
  return 1
}

cluster_volumes() { # K: the volumes controller K serves (its status), or ?
  curl -sS --max-time 2 "$(cat "$dir/c$1/node.mgmt" 2>/dev/null)/api/v1/status" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("volumes", "?"))' 2>/dev/null || echo "?"
}

cluster_status_json() { # [text]: the cluster's status as one JSON object, or as text (python3 merges the views)
  local mode=${1:-json} tmp k pid health
  tmp=$(mktemp -d)
  for k in $(cluster_members); do
    pid=$(cluster_pid "$k" || true); health=$(cluster_health "$k")
    echo "$k ${pid:--} $health" >>"$tmp/procs"
    if [[ $k != w && $health == running && -s $(cluster_proc_dir "$k")/node.mgmt ]]; then
      curl -sS --max-time 1 "$(cat "$(cluster_proc_dir "$k")/node.mgmt")/api/v1/status" >"$tmp/c$k.json" 2>/dev/null || rm -f "$tmp/c$k.json"
    fi
  done
  python3 - "$tmp" "$bricks" "$voters" "$dir" "$mode" <<'PY'
import json, os, sys
tmp, bricks, voters, d, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), sys.argv[4], sys.argv[5]
views = {}
procs = []
for line in open(os.path.join(tmp, "procs")):
    k, pid, health = line.split()
    procs.append((k, None if pid == "-" else int(pid), health))
    f = os.path.join(tmp, f"c{k}.json")
    if os.path.exists(f):
        try:
            views[k] = json.load(open(f))
        except ValueError:
            pass
clusters = [v["cluster"] for v in views.values() if "cluster" in v]
# The freshest map seen (highest epoch) gives every member's shares, a stopped one's included;
# the leader is what the voter with the highest term says.
best = max(clusters, key=lambda c: c["epoch"], default=None)
voting = [c for c in clusters if c["voter"]]
lead = max(voting, key=lambda c: c["raft_term"], default=None)
shares = {m["member"]: m for m in (best["members"] if best else [])}
out = {"bricks": bricks, "voters": voters, "dir": d,
       "leader": (lead["leader"] or None) if lead else None,
       "term": lead["raft_term"] if lead else None,
       "epoch": best["epoch"] if best else None,
       "placement": best["placement"] if best else "unknown",
       "controllers": [], "witness": None}
for k, pid, health in procs:
    if k == "w":
        out["witness"] = {"id": "w", "pid": pid, "health": health, "voter": True}
        continue
    cid = "c" + k
    v = views.get(k, {})
    c = v.get("cluster", {})
    m = shares.get(cid, {})
    out["controllers"].append({
        "id": cid, "brick": (int(k) + 1) // 2, "pid": pid, "health": health,
        "voter": cid in voters, "raft_role": c.get("raft_role") if c else None,
        "member": m.get("state"), "buckets": m.get("buckets", 0), "regions": m.get("regions", 0),
        "io": v.get("io"), "url": v.get("url"),
        "pool_served_by": m.get("served_by", cid),
        "serving_peer_pool": (v.get("failover") or {}).get("serving_peer_pool") or None,
        "failovers": (v.get("failover") or {}).get("failovers", 0),
        "fenced": (v.get("failover") or {}).get("fenced", 0),
        "lease": v.get("lease"),
        "journal_mirror": ((v.get("journal_mirror") or {}).get("own") or {}).get("state"),
    })
if mode == "json":
    print(json.dumps(out, indent=2))
    sys.exit(0)
s = out
print(f"cluster bricks={s['bricks']} controllers={len(s['controllers'])} voters={','.join(s['voters'])}"
      f" leader={s['leader'] or 'none'} term={s['term'] if s['term'] is not None else '?'}"
      f" epoch={s['epoch'] if s['epoch'] is not None else '?'} placement={s['placement']} dir={s['dir']}")
for c in s["controllers"]:
    role = c["raft_role"] or ("none" if c["health"] == "running" else "?")
    if c["url"]:
        io = f"io={c['io']} url={c['url']}"
    else:
        io = f"io={c['io'] or 'none'} (no portal open)"
    pool = "" if c["pool_served_by"] == c["id"] else f" pool_served_by={c['pool_served_by']}"
    if c["serving_peer_pool"]:
        pool += f" serving_pool={c['serving_peer_pool']}"
    if c["lease"]:
        pool += " lease=" + ("held" if c["lease"].get("held") else "lapsed")
    if c["journal_mirror"]:
        pool += " journal=" + c["journal_mirror"]
    print(f"{c['id']} brick={c['brick']} pid={c['pid'] or '-'} health={c['health']} raft={role}"
          f" member={c['member'] or '-'} buckets={c['buckets']} regions={c['regions']}{pool} {io}")
w = s["witness"]
if w:
    print(f"w pid={w['pid'] or '-'} health={w['health']} raft=voter (witness: votes, serves nothing)")
PY
  local rc=$?
  rm -rf "$tmp"
  return $rc
}

cluster_status_text() { cluster_status_json text; }

cluster_main() { # the cluster's commands; $cmd, $bricks_arg, $pos, $node_args, $json, $controller set by hashbrick
  case $cmd in
  up)
    if [[ -f $dir/cluster.env ]]; then
      cluster_env_load
      [[ -z $bricks_arg || $bricks_arg == "$bricks" ]] || {
        echo "hashbrick: $dir holds a cluster of $bricks brick(s); --bricks $bricks_arg needs another --dir" >&2; exit 2; }
      local m
      for m in $(cluster_members); do
        [[ $(cluster_health "$m") == stopped ]] || { echo "hashbrick: cluster already running in $dir (see status)" >&2; exit 1; }
      done
    else
      [[ $bricks_arg =~ ^[1-4]$ ]] || { echo "hashbrick: --bricks must be 1..4: $bricks_arg" >&2; exit 2; }
      [[ ! -f $dir/node.pid ]] || ! kill -0 "$(cat "$dir/node.pid")" 2>/dev/null ||
        { echo "hashbrick: a single controller runs in $dir; down it first" >&2; exit 1; }
      bricks=$bricks_arg; port=3260; mgmt_port=3280; raft_port=${raft_port_arg:-7100}
      local rest=() i
      for ((i = 0; i < ${#node_args[@]}; i++)); do
        case ${node_args[i]} in
          --port) port=${node_args[i+1]}; i=$((i + 1)) ;;
          --mgmt-port) mgmt_port=${node_args[i+1]}; i=$((i + 1)) ;;
          *) rest+=("${node_args[i]}") ;;
        esac
      done
      voters=$(cluster_voters "$bricks")
      mkdir -p "$dir"
      role_port=$((raft_port + 50))
      printf 'bricks=%s\nport=%s\nmgmt_port=%s\nraft_port=%s\nrole_port=%s\nvoters=%s\n' \
        "$bricks" "$port" "$mgmt_port" "$raft_port" "$role_port" "$voters" >"$dir/cluster.env"
      printf '%q ' "${rest[@]}" >"$dir/cluster.args"
    fi
    ensure_built
    select_java
    local t0 k
    t0=$(date +%s%N)
    # c1 starts once the others have elected a leader. Ratis 3.1.3 (still so upstream) takes a
    # heartbeat's leader commit index as committed up to index 0 when the heartbeat has no previous
    # entry (ServerImplUtils.effectiveCommitIndex), without checking the follower's own entry 0: a voter
    # that led a fresh group for a moment, wrote its entry 0 and was deposed before replicating it then
    # holds that entry as committed and refuses every append (INCONSISTENCY, seen in 2 of 4 starts here
    # while c1 opened its data path on a loaded machine). A voter that joins after the first leader has
    # an empty log: it cannot win an election before it has the leader's entries.
    for k in $(cluster_members); do [[ $k == 1 ]] || cluster_start_one "$k"; done
    for k in $(cluster_members); do [[ $k == 1 ]] || cluster_wait_ready "$k" 90 || { cluster_stop_all; exit 1; }; done
    cluster_wait_leader 60 || { echo "hashbrick: no Raft leader 60 s after the voters started (logs: $dir/c*/node.log)" >&2; cluster_stop_all; exit 1; }
    cluster_start_one 1
    cluster_wait_ready 1 90 || { cluster_stop_all; exit 1; }
    local st="" end=$((SECONDS + 60))
    while ((SECONDS < end)); do
      st=$(cluster_status_json 2>/dev/null || true)
      python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if s["placement"]=="committed" and s["leader"] else 1)' "$st" 2>/dev/null && break
      st=""; sleep 0.1
    done
    if [[ -z $st ]]; then
      echo "hashbrick: placement not committed 60 s after the controllers started (logs: $dir/c*/node.log)" >&2
      cluster_stop_all; exit 1
    fi
    for k in $(cluster_members); do # every portal open (each opens once the placement gives it its share)
      [[ $k == w ]] && continue
      end=$((SECONDS + 60))
      while ((SECONDS < end)) && [[ ! -s $dir/c$k/node.url ]]; do
        [[ $(cluster_health "$k") != stopped ]] || break
        sleep 0.1
      done
      [[ -s $dir/c$k/node.url ]] || { echo "hashbrick: c$k opened no portal (log: $dir/c$k/node.log)" >&2; cluster_stop_all; exit 1; }
    done
    local want have # every controller holds the catalog's volumes (c1 made the defaults through Raft)
    want=$(cluster_volumes 1)
    for k in $(cluster_members); do
      [[ $k == w ]] && continue
      end=$((SECONDS + 60)); have=$(cluster_volumes "$k")
      while ((SECONDS < end)) && [[ $have != "$want" ]]; do sleep 0.1; have=$(cluster_volumes "$k"); done
      [[ $have == "$want" ]] || { echo "hashbrick: c$k holds $have volumes, c1 $want (log: $dir/c$k/node.log)" >&2; cluster_stop_all; exit 1; }
    done
    echo "hashbrick: cluster up: bricks=$bricks controllers=$((2 * bricks)) voters=$voters ms=$((($(date +%s%N) - t0) / 1000000))" >&2
    cat "$dir/c1/node.url"
    ;;
  down) cluster_env_load; cluster_stop_all ;;
  url)
    cluster_env_load
    local k=${controller:-1}; k=${k#c}
    cluster_check_id "$k"
    if [[ -s $dir/c$k/node.url ]]; then cat "$dir/c$k/node.url"; else echo "hashbrick: c$k has no portal open (not running, or still starting: no $dir/c$k/node.url)" >&2; exit 3; fi
    ;;
  status)
    cluster_env_load
    local any=false m
    for m in $(cluster_members); do [[ $(cluster_health "$m") == stopped ]] || any=true; done
    if $json; then cluster_status_json; else cluster_status_text; fi
    $any || exit 3
    ;;
  kill|pause|resume|start)
    cluster_env_load
    ((${#pos[@]} == 1)) || { echo "usage: hashbrick $cmd K   (K = 1..$((2 * bricks)) or w)" >&2; exit 2; }
    local k=${pos[0]#c}; cluster_check_id "$k"
    local pid health name; pid=$(cluster_pid "$k" || true); health=$(cluster_health "$k")
    name=$([[ $k == w ]] && echo w || echo "c$k")
    case $cmd in
      kill) [[ $health != stopped ]] || { echo "hashbrick: $name is not running" >&2; exit 1; }
        kill -KILL "$pid"; echo "hashbrick: $name killed (SIGKILL, pid $pid)" ;;
      pause) [[ $health == running ]] || { echo "hashbrick: $name is $health, not running" >&2; exit 1; }
        kill -STOP "$pid"; echo "hashbrick: $name paused (SIGSTOP, pid $pid)" ;;
      resume) if [[ $health == stopped && $k != w ]]; then
          echo "hashbrick: $name is stopped, not paused: a paused controller whose lease ran out is fenced (SIGKILL) by its brick peer, which serves its pool meanwhile; start it again: hashbrick start $k" >&2; exit 1
        fi
        [[ $health == paused ]] || { echo "hashbrick: $name is $health, not paused" >&2; exit 1; }
        kill -CONT "$pid"; echo "hashbrick: $name resumed (SIGCONT, pid $pid)" ;;
      start) [[ $health == stopped ]] || { echo "hashbrick: $name is $health already" >&2; exit 1; }
        select_java # never a build here: its jar is what the running processes load classes from
        cluster_start_one "$k"; cluster_wait_ready "$k" 90 || exit 1
        echo "hashbrick: $name started (pid $(cluster_pid "$k"))" ;;
    esac
    ;;
  esac
}

cluster_stop_all() { # SIGTERM every process (paused ones woken first), SIGKILL after 10 s
  local m pid pids=()
  for m in $(cluster_members); do
    pid=$(cluster_pid "$m" || true)
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || continue
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  for _ in $(seq 1 100); do
    local alive=false
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=true; done
    $alive || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then echo "hashbrick: pid $pid ignored SIGTERM for 10 s, killing" >&2; kill -KILL "$pid"; fi
  done
  for m in $(cluster_members); do rm -f "$(cluster_pid_file "$m")"; done
  echo "hashbrick: cluster stopped (${#pids[@]} processes)"
}
