#!/usr/bin/env node
// The `nx-pex` command. This file is committed (the bundled CLI in lib/ is not), so that npm links
// the bin on the first `npm ci` of a fresh clone, before lib/ exists.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const cli = join(__dirname, '..', 'lib', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('nx-pex: the CLI is not built yet; run `npm run build` in the nx-pex repository first.\n');
  process.exit(70);
}
// undici parses HTTP with llhttp compiled to WebAssembly, which V8 compiles a second time with its
// optimising tier in the background; a short command then waits 50-100 ms at exit for that job.
// The baseline compiler's code (Liftoff) parses response heads as well for what the CLI fetches.
require('node:v8').setFlagsFromString('--liftoff-only');
// The bundle and its dependencies, compiled once and then taken from V8's code cache (see
// compile-cache.js).
require('./compile-cache').enableCompileCache([join(__dirname, '..', 'lib') + '/', join(require.resolve('undici/package.json'), '..', '..') + '/']);
require(cli).run(process.argv.slice(2));
