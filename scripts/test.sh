#!/usr/bin/env bash
# Every test of the repository: set-up, then lint + format check, type check, unit and
# integration tests. Exits non-zero on the first failure.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_deps
cd "$ROOT"
echo "== lint and format (biome)"
pnpm exec biome check .
echo "== type check"
pnpm run -s typecheck
echo "== tests (vitest)"
pnpm exec vitest run
