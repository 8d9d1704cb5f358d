#!/usr/bin/env bash
# One-time (and idempotent) set-up: pnpm and the workspace's dependencies.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_system_packages
ensure_deps
