#!/usr/bin/env node
// Runs the compiled CLI when OTTERFLOW_DIST=1 (production images build dist/ once);
// otherwise runs the TypeScript sources through tsx so a fresh clone needs no build step.
const path = require('node:path');
if (process.env.OTTERFLOW_DIST === '1') {
  require(path.join(__dirname, '..', 'dist', 'cli', 'main.js'));
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'src', 'cli', 'main.ts'));
}
