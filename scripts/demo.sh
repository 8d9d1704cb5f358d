#!/usr/bin/env bash
# The main job: the iii-streams demo. Sets up the workspace, then starts the stream server (file
# adapter under ./data, so history survives a restart), the demo backend (an iii-sdk worker) and the
# three apps on fixed ports, and prints one line per URL. Ctrl-C stops everything.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_deps
cd "$ROOT"

# The script-tag page loads the client's IIFE bundle, which the build makes.
pnpm --filter @iii-streams/protocol --filter @iii-streams/client run -s build >/dev/null

TSX="$ROOT/packages/server/node_modules/.bin/tsx"
pids=()
# $1: the exit status (0 when asked to stop, a failure's status when a service could not start).
stop() {
  local status=$1
  trap - INT TERM EXIT
  # Every service is signalled, including after one of them has already exited.
  set +e
  echo
  echo "stopping the demo…"
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; done
  wait 2>/dev/null
  exit "$status"
}
trap 'stop 0' INT TERM
trap 'stop $?' EXIT

# Each service runs in its own process group (set -m), so stopping it stops its children too.
set -m
start() {
  local log="$ROOT/.cache/demo-$1.log"
  shift
  "$@" >"$log" 2>&1 &
  pids+=("$!")
  names+=("$(basename "$log" .log)")
}
# Waits until the URL answers while the service last started is alive; else says why and fails.
wait_for() {
  local url=$1 pid=${pids[-1]} name=${names[-1]}
  for _ in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the demo's $name stopped; the end of .cache/$name.log:" >&2
      tail -n 5 "$ROOT/.cache/$name.log" >&2
      return 1
    fi
    if node -e "fetch('$url').then(()=>process.exit(0),()=>process.exit(1))" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$url did not come up; see .cache/$name.log" >&2
  return 1
}
# A port already taken (another demo, another app) would answer for the service meant to use it.
for port in 3112 49134 3114 5173 5174 5175; do
  if node -e "require('net').connect($port,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))" 2>/dev/null; then
    echo "port $port on 127.0.0.1 is in use: stop what listens there (another demo?) and start again" >&2
    exit 1
  fi
done
names=()
mkdir -p .cache data

start server "$TSX" --conditions=@iii-streams/source packages/server/src/cli.ts serve \
  --port 3112 --worker-port 49134 --auth-function demo::auth --adapter file --data-dir "$ROOT/data"
wait_for http://127.0.0.1:3112/
start backend bash -c "cd '$ROOT/apps/backend' && exec ./node_modules/.bin/tsx src/main.ts"
wait_for http://127.0.0.1:3114/api/health
start dashboard pnpm --filter @iii-streams/dashboard exec vite --port 5173 --strictPort --host 127.0.0.1
wait_for http://127.0.0.1:5173/
start chat pnpm --filter @iii-streams/chat exec vite --port 5174 --strictPort --host 127.0.0.1
wait_for http://127.0.0.1:5174/
start script-tag node apps/script-tag/serve.mjs 5175
wait_for http://127.0.0.1:5175/
set +m

cat <<EOF

iii-streams demo is up:
  stream      ws://127.0.0.1:3112/      (iii stream port; data in ./data)
  worker      ws://127.0.0.1:49134/     (iii worker port; the demo backend is connected)
  backend     http://127.0.0.1:3114/api
  dashboard   http://127.0.0.1:5173/
  chat        http://127.0.0.1:5174/?user=alice   (open a second tab with ?user=bob)
  script-tag  http://127.0.0.1:5175/

Ctrl-C stops everything. Logs: .cache/demo-*.log
EOF
wait
