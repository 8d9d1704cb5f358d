#!/usr/bin/env bash
# Every test of the repository: set-up, then lint + format check, type check, unit and
# integration tests, with each package built and checked by publint. Exits non-zero on the first failure.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_system_packages
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
echo "== end-to-end tests (Playwright, Chromium)"
rm -f .cache/e2e.json
(cd e2e && pnpm exec playwright test) || status=$?
# One closing line in the form CI reads: "N passed, N failed, N skipped" (unit + end-to-end).
node -e '
  const fs = require("fs")
  const read = (file) => { try { return JSON.parse(fs.readFileSync(file, "utf8")) } catch { return null } }
  const v = read(".cache/vitest.json"), e = read(".cache/e2e.json")
  const passed = (v?.numPassedTests ?? 0) + (e?.stats?.expected ?? 0)
  const failed = (v?.numFailedTests ?? 0) + (e?.stats?.unexpected ?? 0) + (e ? 0 : 1)
  const skipped = (v ? v.numPendingTests + v.numTodoTests : 0) + (e?.stats?.skipped ?? 0)
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
' || true
exit "$status"
