import { relative, resolve } from 'node:path';
import { testProject } from '@nx-pex/engine';
import { UsageError } from './errors';

export const TEST_HELP = `Usage: nx-pex test [--project DIR] [options] [-- PYTEST_ARGS...]

Runs the tests of the Python project in DIR (default: the current directory) with pytest, the
version its lock pins, in a test environment made from the lock: the project's pylock.test.toml
(its closure plus its dev/test dependency groups, written by \`nx sync\`), else its pylock.toml or
the workspace's uv.lock. The environment is a venv kept in the wheel store, made once per closure
and interpreter and shared by every project with that closure. The project and its workspace
dependencies go on top as editable installs: their code from the tree, their .dist-info (version,
requirements, entry points, as in a PEX) from a small overlay kept in the store. Nothing is
installed into the interpreter or written into the project but pytest's own files.

Options:
  --project DIR          the project (a directory with pyproject.toml); default .
  --python PY            the interpreter the tests run on; default python3
  --reports-dir DIR      where junit.xml (and coverage data) go; default reports/<project dir>
                         below the current directory
  --env NAME=VALUE       set a variable for pytest (repeatable)
  --no-lock-per-project  read the uv.lock directly instead of the generated pylock files
  --store DIR            the wheel store; default $NX_PEX_STORE, else the user cache directory
  -q, --quiet            no nx-pex lines, only pytest's output
Everything after \`--\` goes to pytest (e.g. -- -k name -x). PYTEST_ADDOPTS is honoured.
Exit status: pytest's.
`;

/** `nx-pex test`. */
export async function testCommand(argv: string[]): Promise<number> {
  let project = '.';
  let python: string | undefined;
  let reportsDir: string | undefined;
  let store: string | undefined;
  let lockPerProject: boolean | undefined;
  let quiet = false;
  const env: Record<string, string> = {};
  const args: string[] = [];
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`${flag} needs a value. Run \`nx-pex test --help\`.`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const take = () => (inline !== undefined ? inline : value(i++, flag));
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a === '--help' || a === '-h') {
      process.stdout.write(TEST_HELP);
      return 0;
    } else if (flag === '--project') project = take();
    else if (flag === '--python') python = take();
    else if (flag === '--reports-dir') reportsDir = take();
    else if (flag === '--store') store = take();
    else if (flag === '--env') {
      const pair = take();
      const at = pair.indexOf('=');
      if (at <= 0) throw new UsageError(`--env takes NAME=VALUE, not "${pair}".`);
      env[pair.slice(0, at)] = pair.slice(at + 1);
    } else if (a === '--no-lock-per-project') lockPerProject = false;
    else if (a === '--lock-per-project') lockPerProject = true;
    else if (a === '-q' || a === '--quiet') quiet = true;
    else throw new UsageError(`nx-pex test does not take "${a}"; pytest's own arguments go after \`--\`. Run \`nx-pex test --help\`.`);
  }
  const cwd = process.cwd();
  const projectDir = resolve(project);
  const rel = relative(cwd, projectDir);
  const result = await testProject({
    projectDir,
    python,
    storeDir: store,
    lockPerProject,
    args,
    runEnv: env,
    reportsDir: resolve(reportsDir ?? (rel.startsWith('..') ? resolve(projectDir, 'reports') : resolve(cwd, 'reports', rel))),
    log: quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  return result.exitCode;
}
