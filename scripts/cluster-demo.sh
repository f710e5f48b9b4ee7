#!/usr/bin/env bash
# The replication demo (run through `scripts/demo.sh --cluster [DIR]`, which
# builds kv first): three `kv serve` servers on 127.0.0.1 in DIR/cluster,
# writes through `kv client`, a SIGKILL of the leader while a client keeps
# writing, a restart, and checks: every acknowledged write is on every
# server with its value, and the three servers' dumps are identical. Exits
# 0 only when every check passed.
#
#   scripts/cluster-demo.sh KV_BINARY [DIR]
#
# DIR (default ./blockwal-demo) follows the demos' rule: new, empty, or
# marked .blockwal-demo by a demo before; DIR/cluster is replaced on every
# run. Ports: BLOCKWAL_DEMO_PORT_BASE (default 47100) + 1..3 for raft and
# + 11..13 for clients.
set -euo pipefail
kv="$1"
dir="${2:-./blockwal-demo}"
base="${BLOCKWAL_DEMO_PORT_BASE:-47100}"

if [[ -e "$dir" && ! -e "$dir/.blockwal-demo" && -n "$(ls -A "$dir")" ]]; then
  echo "cluster demo: $dir is not empty and was not made by a demo;" \
    "refusing to touch it" >&2
  exit 2
fi
mkdir -p "$dir"
touch "$dir/.blockwal-demo"
work="$dir/cluster"
rm -rf "$work"
mkdir -p "$work"

peers="1=127.0.0.1:$((base + 1)),2=127.0.0.1:$((base + 2)),3=127.0.0.1:$((base + 3))"
servers="127.0.0.1:$((base + 11)),127.0.0.1:$((base + 12)),127.0.0.1:$((base + 13))"
declare -A pid

start() {  # start N: runs server N in the background, waits for READY
  local n="$1"
  "$kv" serve --id "$n" --dir "$work/server$n" \
    --raft "127.0.0.1:$((base + n))" --client "127.0.0.1:$((base + 10 + n))" \
    --peers "$peers" --election-timeout-ms 500 \
    >"$work/server$n.out" 2>>"$work/server$n.log" &
  pid[$n]=$!
  for _ in $(seq 100); do
    grep -q READY "$work/server$n.out" 2>/dev/null && return 0
    kill -0 "${pid[$n]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "cluster demo: server $n did not start; its log:" >&2
  cat "$work/server$n.log" >&2
  return 1
}

stop_all() {
  for n in 1 2 3; do
    [[ -n "${pid[$n]:-}" ]] && kill -TERM "${pid[$n]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap stop_all EXIT

leader() {  # prints the leader's id once one is known
  for _ in $(seq 100); do
    local id
    id=$("$kv" client --servers "$servers" --timeout 2 status 2>/dev/null |
      awk '/role=leader/ { sub("id=", "", $1); print $1; exit }') || true
    [[ -n "$id" ]] && { echo "$id"; return 0; }
    sleep 0.1
  done
  return 1
}

writes() {  # writes FROM TO: puts kI = vI, prints how many were acknowledged
  seq "$1" "$2" | sed 's/.*/put k& v&/' |
    "$kv" client --servers "$servers" shell | tee -a "$work/answers" |
    grep -c '^OK$' || true
}

for n in 1 2 3; do start "$n"; done
echo "three servers up in $work (raft on ports $((base + 1))-$((base + 3)), clients on $((base + 11))-$((base + 13)))"
first=$(leader)
echo "server $first leads; writing k1..k500"
acked=$(writes 1 500)
echo "  $acked of 500 acknowledged"

echo "SIGKILL of the leader (server $first) while a client writes k501..k1000"
writes 501 1000 >"$work/acked-2" &
writer=$!
sleep 0.3
kill -KILL "${pid[$first]}"
wait "${pid[$first]}" 2>/dev/null || true
unset "pid[$first]"
wait "$writer"
unknown=$(grep -c '^ERR indeterminate' "$work/answers" || true)
echo "  $(cat "$work/acked-2") of 500 acknowledged ($unknown indeterminate: sent" \
  "to the killed leader, outcome unknown); server $(leader) leads now"
echo "restarting server $first"
start "$first"

# Every acknowledged write, from the client's answers (one per line, in order).
mapfile -t answers <"$work/answers"
converged=""
for _ in $(seq 100); do
  for n in 1 2 3; do
    "$kv" client --servers "127.0.0.1:$((base + 10 + n))" dump >"$work/dump$n"
  done
  if cmp -s "$work/dump1" "$work/dump2" && cmp -s "$work/dump1" "$work/dump3"; then
    converged=yes
    break
  fi
  sleep 0.1
done
fail=0
if [[ -z "$converged" ]]; then
  echo "FAIL: the three dumps still differ" >&2
  fail=1
fi
missing=0
for i in "${!answers[@]}"; do
  [[ "${answers[$i]}" == OK ]] || continue
  k=$((i + 1))
  grep -qx "k$k	v$k" "$work/dump1" || missing=$((missing + 1))
done
if ((missing > 0)); then
  echo "FAIL: $missing acknowledged writes are missing" >&2
  fail=1
fi
keys=$(grep -c $'\t' "$work/dump1" || true)
echo "all three servers hold the same $keys keys ($(tail -n 1 "$work/dump1")); every acknowledged write is there"
((fail == 0)) && echo "cluster demo: all checks passed"
exit "$fail"
