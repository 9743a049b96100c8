import { parseArgs } from 'node:util';
import { dirname, resolve } from 'node:path';
import { buildProject } from '../build/build-project';
import { UsageError } from './errors';

const BUILD_HELP = `Usage: nx-pex build --project DIR [options]

Builds DIR/pyproject.toml's console scripts into PEX files, taking third-party
wheels from the nearest uv.lock and first-party code from the project and the
workspace projects it depends on.

Options:
  --project DIR           Project directory (holds pyproject.toml). Required.
  -c, --script NAME       Console script to build; repeatable. Default: all of
                          [tool.nx-pex] scripts, else [project.scripts].
  -o, --output-file FILE  Output file (only with a single script).
  --output-dir DIR        Output directory for <script>.pex files. Default: dist.
  --lock FILE             Lock file. Default: the nearest uv.lock above DIR.
  --python PY             Interpreter whose version and platform the PEX
                          targets. Default: python3.
  --store DIR             Wheel store. Default: $NX_PEX_STORE, else
                          $XDG_CACHE_HOME/nx-pex, else ~/.cache/nx-pex.
  -q, --quiet             Print nothing but errors.
  -h, --help              Show this help.

Indexes come from pip's configuration (pip.conf, PIP_INDEX_URL,
PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS).
`;

/** `nx-pex build`. */
export async function buildCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        project: { type: 'string' },
        script: { type: 'string', short: 'c', multiple: true },
        'output-file': { type: 'string', short: 'o' },
        'output-dir': { type: 'string' },
        lock: { type: 'string' },
        python: { type: 'string' },
        store: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nRun \`nx-pex build --help\` for the options nx-pex supports.`);
  }
  if (values.help) {
    process.stdout.write(BUILD_HELP);
    return 0;
  }
  if (!values.project) throw new UsageError('nx-pex build needs --project DIR (the directory of a pyproject.toml).');
  const outputFile = values['output-file'];
  await buildProject({
    projectDir: resolve(values.project),
    outputDir: resolve(values['output-dir'] ?? (outputFile ? dirname(outputFile) : 'dist')),
    outputFile: outputFile ? resolve(outputFile) : undefined,
    scripts: values.script,
    lockFile: values.lock,
    python: values.python,
    storeDir: values.store,
    log: values.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  return 0;
}
