/**
 * The command line of `nx-pex build`: pex's flag names where the meaning is the same, nx-pex's
 * own flags for the rest, and every other pex flag recognised and refused by name.
 */
import { split as shlexSplit } from 'shlex';
import { OPTIONS, type CliGroup, type OptionSpec, type OptionValues } from '@nx-pex/project';
import { UsageError } from './errors';

type Kind =
  | { type: 'string' }
  | { type: 'int' }
  | { type: 'list'; /** Split each value on this separator. */ separator?: string; shlex?: boolean }
  | { type: 'bool'; negations: readonly string[] }
  | { type: 'flag' }
  | { type: 'choice'; choices: readonly string[]; /** Value taken when the flag has none (pex's nargs='?'). */ bare?: string }
  | { type: 'env' }
  /** pip's `--only-binary`/`--no-binary NAMES|:all:`, or pex's bare `--no-binary` (then `bare`). */
  | { type: 'names'; bare: string };

export interface Spec {
  key: keyof BuildArgs;
  names: readonly string[];
  kind: Kind;
  /** bool and flag: the value the names set (default true; a bool's negations set the other). */
  sets?: boolean;
  /** Other arguments the flag sets too. */
  implies?: Readonly<Record<string, unknown>>;
  metavar?: string;
  help: string;
  /** Help section. */
  group: CliGroup;
}

/** The arguments of `nx-pex build` that only the command line has (the rest are the registry's options). */
interface CommandArgs {
  requirements: string[];
  requirementFiles?: string[];
  project?: string;
  lock?: string;
  constraintFiles?: string[];
  pre?: boolean;
  onlyBinary?: string[];
  noBinary?: string[];
  transitive?: boolean;
  wheel?: boolean;
  build?: boolean;
  outputFile?: string;
  outputDir?: string;
  indexUrls?: string[];
  findLinks?: string[];
  pypi?: boolean;
  offline?: boolean;
  disableCache?: boolean;
  quiet?: boolean;
  help?: boolean;
  buildTimeout?: string;
}

/** What `nx-pex build` was asked for: the command's own arguments and the registry's options. Booleans are undefined when not given. */
export type BuildArgs = CommandArgs & OptionValues;

/** The flags of the command's own arguments. */
const COMMAND_SPECS: Spec[] = [
  { key: 'project', names: ['--project'], kind: { type: 'string' }, metavar: 'DIR', group: 'input', help: 'Build the workspace project in DIR (its pyproject.toml) from its lock: first-party code inferred, one PEX per console script.' },
  { key: 'requirementFiles', names: ['-r', '--requirement', '--requirements', '--with-requirements'], kind: { type: 'list' }, metavar: 'FILE', group: 'input', help: 'Requirements file (repeatable), besides requirements given as arguments.' },
  { key: 'lock', names: ['--lock', '--pylock', '--pep-751-lock'], kind: { type: 'string' }, metavar: 'FILE', group: 'input', help: 'A uv.lock, poetry.lock or PEP 751 pylock.toml: requirements select their packages from it (a pylock.toml without requirements gives every package whose marker holds, as pex --pylock does); a hashed requirements file is taken as -r (with --project: the lock to use; default a pylock.toml, poetry.lock or uv.lock beside pyproject.toml, else the nearest uv.lock above).' },
  { key: 'constraintFiles', names: ['--constraint', '--constraints'], kind: { type: 'list' }, metavar: 'FILE', group: 'input', help: 'Constraints file (repeatable): versions its requirements allow, without adding projects.' },
  { key: 'pre', names: ['--pre'], kind: { type: 'bool', negations: ['--no-pre'] }, group: 'input', help: 'Allow pre-releases (by default taken only when a specifier names one or nothing else fits).' },
  { key: 'transitive', names: ['--transitive'], kind: { type: 'bool', negations: ['--no-transitive', '--intransitive'] }, group: 'input', help: 'Take the dependencies of the requirements too (default), or only the requirements themselves.' },
  { key: 'onlyBinary', names: ['--only-binary', '--only-wheel'], kind: { type: 'names', bare: ':all:' }, metavar: 'NAME[,NAME...]|:all:', group: 'input', help: 'Projects taken only as wheels, never built from sdists (repeatable).' },
  { key: 'noBinary', names: ['--no-binary', '--no-use-binary', '--only-build'], kind: { type: 'names', bare: ':all:' }, metavar: '[NAME[,NAME...]|:all:]', group: 'input', help: "Projects always built from their sdists (repeatable); bare, as pex's --no-binary: every project." },
  { key: 'wheel', names: ['--wheel', '--binary'], kind: { type: 'bool', negations: ['--no-wheel', '--no-use-wheel'] }, group: 'input', help: 'Take wheels (default), or build every project from its sdist.' },
  { key: 'build', names: ['--build'], kind: { type: 'bool', negations: ['--no-build'] }, group: 'input', help: 'Build sdists when no wheel fits (default), or take wheels only.' },
  { key: 'outputFile', names: ['-o', '--output-file'], kind: { type: 'string' }, metavar: 'PATH', group: 'output', help: 'The PEX to write (a directory for the packed and loose layouts).' },
  { key: 'outputDir', names: ['--output-dir'], kind: { type: 'string' }, metavar: 'DIR', group: 'nx-pex', help: 'With --project: directory for <script>.pex. Default: dist.' },
  { key: 'indexUrls', names: ['-i', '--index', '--index-url'], kind: { type: 'list' }, metavar: 'URL', group: 'index', help: "An index besides PyPI (repeatable). Given this or --no-pypi, pip's configured indexes are not used." },
  { key: 'findLinks', names: ['-f', '--find-links', '--repo'], kind: { type: 'list' }, metavar: 'PATH/URL', group: 'index', help: 'A directory or page of distributions, searched first (repeatable).' },
  { key: 'pypi', names: ['--pypi'], kind: { type: 'bool', negations: ['--no-pypi', '--no-index'] }, group: 'index', help: 'Use PyPI (default) or not.' },
  { key: 'offline', names: ['--offline'], kind: { type: 'flag' }, group: 'nx-pex', help: 'Take wheels from the store only, never the network (also NX_PEX_OFFLINE=1); fail naming every missing one.' },
  { key: 'disableCache', names: ['--disable-cache'], kind: { type: 'flag' }, group: 'nx-pex', help: 'Neither read nor keep index pages and metadata in the store: ask the indexes afresh (also NX_PEX_DISABLE_CACHE=1). Wheels still come from the store, verified by sha256.' },
  { key: 'buildTimeout', names: ['--build-timeout'], kind: { type: 'string' }, metavar: 'SECONDS', group: 'nx-pex', help: 'Time limit of one sdist or project build (pip wheel and its backend, killed with everything it started when over it). Default: $NX_PEX_BUILD_TIMEOUT, else 1800.' },
  { key: 'quiet', names: ['-q', '--quiet'], kind: { type: 'flag' }, group: 'nx-pex', help: 'Print nothing but errors.' },
  { key: 'help', names: ['-h', '--help'], kind: { type: 'flag' }, group: 'nx-pex', help: 'Show this help.' },
];

/** A registry option's flags, read by its kind. */
function registrySpec(o: OptionSpec & { cli: NonNullable<OptionSpec['cli']> }): Spec {
  const { cli, kind } = o;
  const base = { key: o.field as keyof BuildArgs, names: cli.flags, metavar: cli.metavar, group: cli.group, help: cli.help ?? o.help, implies: cli.implies };
  switch (kind.type) {
    case 'string':
      return { ...base, kind: { type: 'string' } };
    case 'int':
      return { ...base, kind: { type: 'int' } };
    case 'strings':
      return { ...base, kind: { type: 'list', separator: cli.separator, shlex: cli.shlex } };
    case 'bool':
      return { ...base, sets: cli.sets ?? true, kind: cli.negations ? { type: 'bool', negations: cli.negations } : { type: 'flag' } };
    case 'choice':
      return { ...base, kind: { type: 'choice', choices: cli.choices ?? kind.choices, bare: cli.bare } };
    case 'env':
      return { ...base, kind: { type: 'env' } };
  }
}

/** The options of the registry that have flags. */
const REGISTRY_SPECS: Spec[] = (OPTIONS as readonly OptionSpec[])
  .filter((o): o is OptionSpec & { cli: NonNullable<OptionSpec['cli']> } => o.cli !== undefined)
  .map(registrySpec);

/** Every flag of `nx-pex build`: the command's own, then the registry's options. */
export const SPECS: Spec[] = [...COMMAND_SPECS, ...REGISTRY_SPECS];

/** Every flag of pex 2.105.2's `pex --help`. */
export const PEX_FLAGS: readonly string[] = (
  '-h --help -V --version -o --output-file -p --preamble-file -D --sources-directory -R --resources-directory -P --package -M --module ' +
  '--project --group --dependency-group -r --requirement --requirements --with-requirements --constraint --constraints --exclude ' +
  '--override --requirements-pex --seed --no-seed --help-variables --docs --help-html --resolver-version --pip-version ' +
  '--allow-pip-version-fallback --no-allow-pip-version-fallback --extra-pip-requirement --use-pip-config --no-use-pip-config ' +
  '--keyring-provider --uploaded-prior-to --pypi --no-pypi --no-index -f --find-links --repo -i --index --index-url --source ' +
  '--derive-sources-from-requirements-files --retries --resume-retries --timeout --proxy --cert --client-cert --cache-ttl -H --header ' +
  '--pex-repository --lock --pex-lock --path-mapping --pylock --pep-751-lock --pylock-extra --pylock-group --pylock-dependency-group ' +
  '--pre-resolved-dist --pre-resolved-dists --venv-repository --pre --no-pre --wheel --binary --no-wheel --no-use-wheel --no-binary ' +
  '--no-use-binary --only-binary --only-wheel --build --no-build --only-build --prefer-wheel --prefer-binary --no-prefer-wheel ' +
  '--no-prefer-binary --force-pep517 --use-pep517 --no-use-pep517 --build-isolation --no-build-isolation --transitive --no-transitive ' +
  '--intransitive -j --jobs --pip-log --preserve-pip-download-log --no-preserve-pip-download-log --pex-path --build-properties ' +
  '--build-property --record-git-state --no-record-git-state --include-tools --zip-safe --not-zip-safe --layout --pre-install-wheels ' +
  '--no-pre-install-wheels --max-install-jobs --check --compress --compressed --no-compress --not-compressed --no-compression --unzip ' +
  '--no-unzip --venv --venv-copies --no-venv-copies --venv-site-packages-copies --no-venv-site-packages-copies ' +
  '--venv-system-site-packages --no-venv-system-site-packages --non-hermetic-venv-scripts --rc --no-rc --pexrc --no-pexrc ' +
  '--native-runtime --no-native-runtime -Z --compression-method --compression-level --pexrc-platform --pexrc-binary --scie --par ' +
  '--scie-only --no-scie-only --pex-and-scie --scie-load-dotenv --no-scie-load-dotenv --scie-desktop-file --scie-icon ' +
  '--scie-prompt-desktop-install --no-scie-prompt-desktop-install --scie-windowed --scie-name-style --scie-bind-resource-path ' +
  '--scie-exe --scie-args --scie-env --scie-busybox --scie-pex-entrypoint-env-passthrough ' +
  '--scie-busybox-pex-entrypoint-env-passthrough --no-scie-pex-entrypoint-env-passthrough ' +
  '--no-scie-busybox-pex-entrypoint-env-passthrough --scie-platform --scie-pbs-release --scie-pypy-release --scie-python-version ' +
  '--scie-pbs-free-threaded --no-scie-pbs-free-threaded --scie-pbs-debug --no-scie-pbs-debug --scie-pbs-stripped ' +
  '--no-scie-pbs-stripped --scie-hash-alg --scie-science-binary --scie-assets-base-url --scie-base --always-write-cache ' +
  '--ignore-errors --inherit-path --compile --no-compile --use-system-time --no-use-system-time --runtime-pex-root --strip-pex-env ' +
  '--no-strip-pex-env --python --python-path --interpreter-constraint --interpreter-selection-strategy --platform ' +
  '--abbreviated-platform --complete-platform --manylinux --no-manylinux --no-use-manylinux --resolve-local-platforms ' +
  '--python-shebang --sh-boot --no-sh-boot -m -e --entry-point -c --script --console-script --exe --executable --python-script ' +
  '--pep723 --enable-script-metadata --no-pep723 --no-enable-script-metadata --validate-entry-point --bind-resource-path ' +
  '--inject-env --inject-python-args --inject-args -v --emit-warnings --no-emit-warnings --pex-root --disable-cache --cache-dir ' +
  '--tmpdir --rcfile'
).split(' ');

const byName = new Map<string, { spec: Spec; negated: boolean }>();
for (const spec of SPECS) {
  for (const n of spec.names) byName.set(n, { spec, negated: false });
  if (spec.kind.type === 'bool') for (const n of spec.kind.negations) byName.set(n, { spec, negated: true });
}

/** pex's flags `nx-pex build` does not take yet. */
export const UNSUPPORTED_PEX_FLAGS: readonly string[] = PEX_FLAGS.filter((f) => !byName.has(f) && f !== '-V' && f !== '--version');

function notSupported(flag: string): UsageError {
  return new UsageError(`pex's ${flag} is not supported by nx-pex yet. Run \`nx-pex build --help\` for the flags nx-pex takes.`);
}

/** Parses `nx-pex build`'s arguments; a pex flag nx-pex does not take yet is an error naming it. */
export function parseBuildArgs(argv: readonly string[]): BuildArgs {
  const out: BuildArgs = { requirements: [] };
  const rec = out as unknown as Record<string, unknown>;
  const unsupported = new Set(UNSUPPORTED_PEX_FLAGS);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.requirements.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.requirements.push(arg);
      continue;
    }
    const flag: FlagReading = { ...splitFlag(arg), argv, i };
    const found = byName.get(flag.name);
    if (!found) {
      if (unsupported.has(flag.name)) throw notSupported(flag.name);
      throw new UsageError(`Unknown option '${flag.name}'. Run \`nx-pex build --help\` for the options nx-pex supports.`);
    }
    setOption(rec, found.spec, found.negated, flag);
    i = flag.i;
    Object.assign(rec, found.spec.implies);
  }
  return out;
}

/** A flag as given (`--name`, `--name=value`, `-n`, `-nvalue`): its name and the value attached to it. */
function splitFlag(arg: string): { name: string; inline?: string } {
  if (!arg.startsWith('--')) return { name: arg.slice(0, 2), inline: arg.length > 2 ? arg.slice(2) : undefined };
  const eq = arg.indexOf('=');
  return eq < 0 ? { name: arg } : { name: arg.slice(0, eq), inline: arg.slice(eq + 1) };
}

/** A flag being read: its name, its attached value, and the command line with the flag's index (moved past a value taken from the next word). */
interface FlagReading {
  name: string;
  inline?: string;
  argv: readonly string[];
  i: number;
}

/** Sets the option a flag names from its value, by the option's kind. */
function setOption(rec: Record<string, unknown>, spec: Spec, negated: boolean, flag: FlagReading): void {
  const { name, inline, argv } = flag;
  const kind = spec.kind;
  const takeValue = (): string => {
    if (inline !== undefined) return inline;
    if (flag.i + 1 >= argv.length) throw new UsageError(`${name} needs a value (${spec.metavar ?? 'VALUE'}).`);
    return argv[++flag.i]!;
  };
  switch (kind.type) {
    case 'string':
      rec[spec.key] = takeValue();
      break;
    case 'list': {
      const v = takeValue();
      let values = kind.separator ? v.split(kind.separator).filter(Boolean) : [v];
      if (kind.shlex) {
        try {
          values = values.flatMap((x) => shlexSplit(x));
        } catch (e) {
          throw new UsageError(`${name} "${v}" cannot be split into words: ${(e as Error).message}.`);
        }
      }
      rec[spec.key] = [...((rec[spec.key] as string[] | undefined) ?? []), ...values];
      break;
    }
    case 'int': {
      const v = takeValue();
      if (!/^-?\d+$/.test(v)) throw new UsageError(`${name} takes an integer; given "${v}".`);
      rec[spec.key] = Number(v);
      break;
    }
    case 'bool':
    case 'flag':
      if (inline !== undefined) throw new UsageError(`${name} takes no value (given "${inline}").`);
      rec[spec.key] = negated ? !(spec.sets ?? true) : (spec.sets ?? true);
      break;
    case 'choice': {
      let v: string;
      if (inline !== undefined) v = inline;
      else if (kind.bare !== undefined) v = kind.choices.includes(argv[flag.i + 1] ?? '') ? argv[++flag.i]! : kind.bare;
      else v = takeValue();
      if (!kind.choices.includes(v) && v !== kind.bare) {
        throw new UsageError(`${name} takes one of ${kind.choices.join(', ')}; given "${v}".`);
      }
      rec[spec.key] = v;
      break;
    }
    case 'names': {
      // A value only when attached (--no-binary=x) or when the next word is not a flag or a requirement path.
      let v: string;
      if (inline !== undefined) v = inline;
      else if (name === '--only-build' || name === '--only-binary' || name === '--only-wheel' || /^:(all|none):$/.test(argv[flag.i + 1] ?? '')) v = takeValue();
      else v = kind.bare;
      const names = v.split(',').map((x) => x.trim()).filter(Boolean);
      rec[spec.key] = [...((rec[spec.key] as string[] | undefined) ?? []), ...names];
      break;
    }
    case 'env': {
      const v = takeValue();
      const eq = v.indexOf('=');
      if (eq <= 0) throw new UsageError(`${name} takes NAME=VALUE; given "${v}".`);
      rec[spec.key] = { ...((rec[spec.key] as Record<string, string> | undefined) ?? {}), [v.slice(0, eq)]: v.slice(eq + 1) };
      break;
    }
  }
}

const GROUPS: Array<[CliGroup, string]> = [
  ['input', 'What goes in'],
  ['output', 'The PEX file'],
  ['runtime', 'Run time (PEX-INFO)'],
  ['venv', 'venv mode'],
  ['index', 'Indexes'],
  ['target', 'Target platforms'],
  ['nx-pex', 'nx-pex'],
];

function wrap(text: string, width: number, indent: number): string {
  const words = text.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** `nx-pex build --help`. */
export function buildHelp(): string {
  const out: string[] = [
    'Usage: nx-pex build --project DIR [options]',
    '       nx-pex build [REQUIREMENT...] [-r FILE] [--lock uv.lock] [-D DIR] [-e ENTRY | -c SCRIPT] -o PEX [options]',
    '',
    'With --project, builds the project\'s console scripts into PEX files from the nearest uv.lock,',
    'with first-party code from the project and the workspace projects it depends on; [tool.nx-pex]',
    'in its pyproject.toml sets defaults for the options below. Otherwise builds one PEX as pex',
    'does: requirements are taken from --lock, or, without a lock, resolved against the indexes and',
    'find-links (PEP 508 requirements, wheel and sdist files, project directories such as .; sdists',
    'and projects are built into wheels with `python -m pip wheel` of the target interpreter).',
    '',
    'Flags take pex\'s names and meanings.',
  ];
  for (const [group, title] of GROUPS) {
    out.push('', `${title}:`);
    for (const spec of SPECS.filter((s) => s.group === group)) {
      const names = [...spec.names, ...(spec.kind.type === 'bool' ? spec.kind.negations : [])].join(', ');
      const head = `  ${names}${spec.metavar ? ` ${spec.metavar}` : ''}`;
      const help = wrap(spec.help, 72, 6);
      out.push(head, `      ${help}`);
    }
  }
  out.push(
    '',
    'Indexes otherwise come from pip\'s and uv\'s configuration (pip.conf, PIP_INDEX_URL,',
    'PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, UV_INDEX, [[tool.uv.index]]); see docs/store-and-indexes.md.',
    '',
    'pex flags not supported by nx-pex yet (an error when given):',
    `  ${wrap(UNSUPPORTED_PEX_FLAGS.join(' '), 96, 2)}`,
    '',
  );
  return out.join('\n');
}
