#!/usr/bin/env bash
# The main job. Until the demo apps land (issue 7) it sets up the workspace, runs the tests of what
# exists and prints the protocol benchmark.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$ROOT/scripts/test.sh"
cd "$ROOT"
pnpm run -s bench
