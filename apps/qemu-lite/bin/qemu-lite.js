#!/usr/bin/env node
// A committed shim, so that pnpm can link the bin before the package is built (dist/ does not
// exist on a fresh clone at install time).
import '../dist/cli.js';
