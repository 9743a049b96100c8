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
// The bundle and its dependencies, compiled once and then taken from V8's code cache (see
// compile-cache.js).
require('./compile-cache').enableCompileCache([join(__dirname, '..', 'lib') + '/', join(require.resolve('undici/package.json'), '..', '..') + '/']);
require(cli).run(process.argv.slice(2));
