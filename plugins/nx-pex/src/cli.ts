#!/usr/bin/env node
/** The package's `nx-pex` bin (through bin/nx-pex.js): the command line of @nx-pex/cli, with this package's version. */
import { main as cliMain, run as cliRun } from '@nx-pex/cli';

const VERSION: string = require('../package.json').version;

export const main = (argv: string[]): Promise<number> => cliMain(argv, VERSION);
export const run = (argv: string[]): void => cliRun(argv, VERSION);

if (require.main === module) run(process.argv.slice(2));
