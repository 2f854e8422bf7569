#!/usr/bin/env bash
# Requests per second of the emulator's tag and attribute APIs under wrk (Debian's `wrk`):
#   bash benches/wrk.sh [CRIER_BINARY] [SECONDS] [RUNS]
# Starts `crier emulator --no-rate-limits` with 100,000 generated users (WRK_USERS) on a free
# port, takes a UserSig from `crier usersig`, checks each API answers ErrorCode 0 once (curl),
# then runs wrk (WRK_THREADS threads, WRK_CONNECTIONS connections) for SECONDS per run, RUNS
# runs per API. Prints `API <name> <batch> <log> RESULT …` lines (benches/emulator.rs reads
# them and prints medians). WRK_APIS narrows the list ("get_tag add_tag"). Asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="${CARGO_TARGET_DIR:-$PWD/target}/release/crier"
fi
seconds="${2:-5}"
runs="${3:-3}"
users="${WRK_USERS:-100000}"
threads="${WRK_THREADS:-1}"
conns="${WRK_CONNECTIONS:-16}"
apis="${WRK_APIS:-get_tag add_tag remove_tag get_attr set_attr remove_attr}"
if ! command -v wrk > /dev/null; then
  echo "SKIP wrk is not installed (Debian: apt-get install -y wrk)"
  exit 0
fi
lua="$PWD/benches/wrk/api.lua"
dir="$(mktemp -d)"
emu=""
cleanup() {
  if [ -n "$emu" ]; then kill "$emu" 2> /dev/null || true; wait "$emu" 2> /dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
export WRK_KEY="wrk-bench-secret-key-0123456789"

start_emulator() { # $1: CRIER_LOG value ("" for the default request log)
  : > "$dir/emu.out"
  if [ -n "$1" ]; then export CRIER_LOG="$1"; else unset CRIER_LOG; fi
  "$bin" emulator --listen 127.0.0.1:0 --sdkappid 1400000000 --admin admin \
    --secret-key-env WRK_KEY --generate-users "$users" --seed 1 --attr-names city,level \
    --no-rate-limits > "$dir/emu.out" 2> /dev/null &
  emu=$!
  unset CRIER_LOG
  for _ in $(seq 1 600); do
    if grep -q '^listening on ' "$dir/emu.out"; then break; fi
    sleep 0.1
  done
  base="$(sed -n 's/^listening on //p' "$dir/emu.out" | head -1)"
  [ -n "$base" ] || { echo "the emulator did not start" >&2; exit 1; }
  printf 'project: wrk\napps:\n  prod:\n    sdkappid: 1400000000\n    endpoint: %s\n    admin: admin\n    secret_key_env: WRK_KEY\n' "$base" > "$dir/crier.yaml"
  sig="$(cd "$dir" && "$bin" usersig --expire 1h)"
}

stop_emulator() {
  kill "$emu" 2> /dev/null || true
  wait "$emu" 2> /dev/null || true
  emu=""
}

run_api() { # $1 api, $2 users per call, $3 log label
  local url="$base/v4/timpush/$1?sdkappid=1400000000&identifier=admin&usersig=$sig&random=1&contenttype=json"
  local probe
  case "$1" in
    set_attr) probe='{"UserAttrs":[{"To_Account":"u1","Attrs":{"city":"Seoul"}}]}' ;;
    remove_attr) probe='{"UserAttrs":[{"To_Account":"u1","Attrs":["city"]}]}' ;;
    add_tag | remove_tag) probe='{"UserTags":[{"To_Account":"u1","Tags":["vip"]}]}' ;;
    *) probe='{"To_Account":["u1"]}' ;;
  esac
  local answer
  answer="$(curl -s -X POST -H 'Content-Type: application/json' -d "$probe" "$url")"
  case "$answer" in
    *'"ErrorCode":0'*) ;;
    *) echo "API $1 answered $answer" >&2; exit 1 ;;
  esac
  for _ in $(seq 1 "$runs"); do
    local line
    line="$(WRK_API="$1" WRK_BATCH="$2" WRK_USERS="$users" \
      wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency -s "$lua" "$url" | grep '^RESULT')"
    echo "API $1 $2 $3 $line"
  done
}

echo "INFO wrk -t$threads -c$conns -d${seconds}s, $runs runs per API, $users generated users, $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
start_emulator ""
for api in $apis; do run_api "$api" 1 log; done
run_api get_tag 100 log
run_api set_attr 100 log
stop_emulator
start_emulator "crier=warn"
run_api get_tag 1 nolog
run_api set_attr 1 nolog
stop_emulator
