#!/usr/bin/env node
// The `nx-pex` command. This file is committed (the compiled CLI is not), so that npm links the
// bin on the first `npm ci` of a fresh clone, before `dist/` exists.
'use strict';
let cli;
try {
  cli = require('../dist/cli.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('dist/cli')) {
    process.stderr.write('nx-pex: the CLI is not compiled yet; run `npm run build` (or `npx tsc -b`) in the nx-pex repository first.\n');
    process.exit(70);
  }
  throw err;
}
cli.run(process.argv.slice(2));
