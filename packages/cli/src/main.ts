/**
 * The `nx-pex` command line: it parses arguments and prints; the work is the engine's. The
 * published package's bin runs `run` with its own version.
 */
import { UserError } from '@nx-pex/pep';
import { buildCommand } from './build';
import { cacheCommand } from './cache';
import { lockCommand } from './lock';
import { pushCommand } from './push';
import { testCommand } from './test';
import { UsageError } from './errors';

const mainHelp = (version: string) => `nx-pex ${version}: build PEX files for Python projects from their lock.

Usage:
  nx-pex build --project DIR [options]   Build one PEX per console script of the project in DIR
  nx-pex build REQ... -o PEX [options]   Build one PEX from requirements, as pex does
  nx-pex lock [--project DIR] [REQ...]   Write a PEP 751 pylock.toml (\`nx-pex lock --help\`)
  nx-pex push --project DIR [options]    Send the images of a --image build to a registry (\`nx-pex push --help\`)
  nx-pex test [--project DIR] [-- ARGS]  Run a project's tests with pytest from its lock (\`nx-pex test --help\`)
  nx-pex cache info|prune [options]      Show or shrink the wheel store (\`nx-pex cache --help\`)
  nx-pex --help | --version

Run \`nx-pex build --help\` for the build options.
`;

export async function main(argv: string[], version: string): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(mainHelp(version));
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === '-V') {
      process.stdout.write(`${version}\n`);
      return 0;
    }
    if (command === 'build') return await buildCommand(rest);
    if (command === 'cache') return await cacheCommand(rest);
    if (command === 'lock') return await lockCommand(rest);
    if (command === 'push') return await pushCommand(rest);
    if (command === 'test') return await testCommand(rest);
    throw new UsageError(`unknown command "${command}". Run \`nx-pex --help\`.`);
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`nx-pex: ${(err as Error).message}\n`);
      return err instanceof UsageError ? 2 : 1;
    }
    throw err;
  }
}

/** Runs the command line and exits with its status; a stack trace only for nx-pex's own bugs. */
export function run(argv: string[], version: string): void {
  main(argv, version).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`nx-pex: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(70);
    },
  );
}

