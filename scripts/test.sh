#!/usr/bin/env bash
# Every test of the repository: set-up, then lint + format check, type check, unit and
# integration tests, with each package built and checked by publint. Exits non-zero on the first failure.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_deps
cd "$ROOT"
echo "== lint and format (biome)"
pnpm exec biome check .
echo "== type check"
pnpm run -s typecheck
echo "== package builds and publint"
pnpm -r --workspace-concurrency=1 run build
for dir in packages/*/; do
  if node -e "process.exit(require('./$dir/package.json').private ? 0 : 1)"; then continue; fi
  pnpm exec publint --strict "$dir"
done
echo "== tests (vitest)"
mkdir -p .cache
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest.json || status=$?
# One closing line in the form CI reads: "N passed, N failed, N skipped".
node -e '
  const r = JSON.parse(require("fs").readFileSync(".cache/vitest.json", "utf8"))
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)
' || true
exit "$status"
