#!/usr/bin/env node
// The installed command: the built CLI (`pnpm build`); from source, run src/cli.ts with tsx.
import '../dist/cli.js'
