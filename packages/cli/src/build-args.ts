/**
 * The command line of `nx-pex build`: pex's flag names where the meaning is the same, nx-pex's
 * own flags for the rest, and every other pex flag recognised and refused by name.
 */
import { split as shlexSplit } from 'shlex';
import { UsageError } from './errors';

type Kind =
  | { type: 'string' }
  | { type: 'list'; /** Split each value on this separator. */ separator?: string; shlex?: boolean }
  | { type: 'bool'; negations: string[] }
  | { type: 'flag' }
  | { type: 'choice'; choices: readonly string[]; /** Value taken when the flag has none (pex's nargs='?'). */ bare?: string }
  | { type: 'env' }
  /** pip's `--only-binary`/`--no-binary NAMES|:all:`, or pex's bare `--no-binary` (then `bare`). */
  | { type: 'names'; bare: string };

interface Spec {
  key: keyof BuildArgs;
  names: string[];
  kind: Kind;
  metavar?: string;
  help: string;
  /** Help section. */
  group: 'input' | 'output' | 'runtime' | 'venv' | 'index' | 'target' | 'nx-pex';
}

/** What `nx-pex build` was asked for. Booleans are undefined when not given. */
export interface BuildArgs {
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
  sources?: string[];
  entryPoint?: string;
  script?: string[];
  outputFile?: string;
  outputDir?: string;
  layout?: string;
  preInstallWheels?: boolean;
  includeTools?: boolean;
  injectArgs?: string[];
  injectEnv?: Record<string, string>;
  injectPythonArgs?: string[];
  shebang?: string;
  interpreterConstraints?: string[];
  inheritPath?: string;
  stripPexEnv?: boolean;
  emitWarnings?: boolean;
  ignoreErrors?: boolean;
  maxInstallJobs?: string;
  venv?: string;
  venvCopies?: boolean;
  venvSitePackagesCopies?: boolean;
  venvSystemSitePackages?: boolean;
  nonHermeticVenvScripts?: boolean;
  compress?: boolean;
  validateEntryPoint?: boolean;
  pexPath?: string[];
  runtimePexRoot?: string;
  indexUrls?: string[];
  findLinks?: string[];
  pypi?: boolean;
  python?: string;
  platforms?: string[];
  completePlatforms?: string[];
  pexVersion?: string;
  firstParty?: string;
  layers?: boolean;
  docker?: boolean;
  dockerBaseImage?: string;
  image?: boolean;
  imageBase?: string;
  imageRepository?: string;
  imageTags?: string[];
  imagePorts?: string[];
  imageUser?: string;
  imageEnv?: Record<string, string>;
  imageRevision?: string;
  store?: string;
  offline?: boolean;
  disableCache?: boolean;
  buildTimeout?: string;
  quiet?: boolean;
  help?: boolean;
}

export const SPECS: Spec[] = [
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
  { key: 'sources', names: ['-D', '--sources-directory'], kind: { type: 'list' }, metavar: 'DIR', group: 'input', help: "Add DIR's contents to the PEX's root (repeatable); with --project, besides the inferred code." },
  { key: 'entryPoint', names: ['-e', '-m', '--entry-point'], kind: { type: 'string' }, metavar: 'MODULE[:SYMBOL]', group: 'input', help: 'The entry point of the PEX.' },
  { key: 'script', names: ['-c', '--script', '--console-script'], kind: { type: 'list' }, metavar: 'NAME', group: 'input', help: 'A console script as the entry point. With --project: a script of [project.scripts] to build (repeatable), else of any distribution in the PEX.' },
  { key: 'outputFile', names: ['-o', '--output-file'], kind: { type: 'string' }, metavar: 'PATH', group: 'output', help: 'The PEX to write (a directory for the packed and loose layouts).' },
  { key: 'outputDir', names: ['--output-dir'], kind: { type: 'string' }, metavar: 'DIR', group: 'nx-pex', help: 'With --project: directory for <script>.pex. Default: dist.' },
  { key: 'layout', names: ['--layout'], kind: { type: 'choice', choices: ['zipapp', 'packed', 'loose'] }, metavar: '{zipapp,packed,loose}', group: 'output', help: 'A zipapp file, or a packed or loose directory. Default: zipapp.' },
  { key: 'preInstallWheels', names: ['--pre-install-wheels'], kind: { type: 'bool', negations: ['--no-pre-install-wheels'] }, group: 'output', help: 'Put installed wheels in the PEX (pex\'s default) instead of the .whl files (nx-pex\'s default).' },
  { key: 'compress', names: ['--compress', '--compressed'], kind: { type: 'bool', negations: ['--no-compress', '--not-compressed', '--no-compression'] }, group: 'output', help: 'Deflate the PEX\'s entries (default) or store them.' },
  { key: 'includeTools', names: ['--include-tools'], kind: { type: 'flag' }, group: 'output', help: 'Include the pex tools (PEX_TOOLS=1).' },
  { key: 'shebang', names: ['--python-shebang'], kind: { type: 'string' }, metavar: 'SHEBANG', group: 'output', help: 'The #! line. Default: #!/usr/bin/env pythonX.Y of the target.' },
  { key: 'interpreterConstraints', names: ['--interpreter-constraint'], kind: { type: 'list' }, metavar: 'CONSTRAINT', group: 'runtime', help: 'Interpreters the PEX may run with, e.g. "CPython>=3.10,<3.13" (repeatable).' },
  { key: 'injectArgs', names: ['--inject-args'], kind: { type: 'list', shlex: true }, metavar: 'ARGS', group: 'runtime', help: 'Arguments always passed to the entry point (split like a shell; repeatable).' },
  { key: 'injectEnv', names: ['--inject-env'], kind: { type: 'env' }, metavar: 'NAME=VALUE', group: 'runtime', help: 'Environment variable set for the application (repeatable).' },
  { key: 'injectPythonArgs', names: ['--inject-python-args'], kind: { type: 'list', shlex: true }, metavar: 'ARGS', group: 'runtime', help: 'Arguments for the Python interpreter, e.g. "-u" (repeatable).' },
  { key: 'inheritPath', names: ['--inherit-path'], kind: { type: 'choice', choices: ['false', 'prefer', 'fallback'], bare: 'prefer' }, metavar: '{false,prefer,fallback}', group: 'runtime', help: "Use the interpreter's sys.path too. Default: false." },
  { key: 'stripPexEnv', names: ['--strip-pex-env'], kind: { type: 'bool', negations: ['--no-strip-pex-env'] }, group: 'runtime', help: 'Remove PEX_* variables before the application runs (default).' },
  { key: 'emitWarnings', names: ['--emit-warnings'], kind: { type: 'bool', negations: ['--no-emit-warnings'] }, group: 'runtime', help: "Print the pex runtime's warnings (default)." },
  { key: 'ignoreErrors', names: ['--ignore-errors'], kind: { type: 'flag' }, group: 'runtime', help: 'Boot even when requirements do not resolve at run time.' },
  { key: 'maxInstallJobs', names: ['--max-install-jobs'], kind: { type: 'string' }, metavar: 'N', group: 'runtime', help: 'Parallel installs at first run: 1 (default), N, 0 = one per CPU, -1 = pex decides.' },
  { key: 'validateEntryPoint', names: ['--validate-entry-point'], kind: { type: 'flag' }, group: 'runtime', help: "Check that the entry point's module is in the PEX." },
  { key: 'pexPath', names: ['--pex-path'], kind: { type: 'list', separator: ':' }, metavar: 'PEX[:PEX...]', group: 'runtime', help: 'Other PEX files merged in at run time.' },
  { key: 'runtimePexRoot', names: ['--runtime-pex-root'], kind: { type: 'string' }, metavar: 'DIR', group: 'runtime', help: 'The PEX_ROOT the PEX uses at run time. Default: ~/.cache/pex.' },
  { key: 'venv', names: ['--venv'], kind: { type: 'choice', choices: ['prepend', 'append'], bare: 'false' }, metavar: '[{prepend,append}]', group: 'venv', help: "Run from a virtualenv made at first run; prepend/append put its bin/ on PATH. Includes the tools." },
  { key: 'venvCopies', names: ['--venv-copies'], kind: { type: 'bool', negations: ['--no-venv-copies'] }, group: 'venv', help: 'Copy the interpreter into the venv instead of symlinking it.' },
  { key: 'venvSitePackagesCopies', names: ['--venv-site-packages-copies'], kind: { type: 'bool', negations: ['--no-venv-site-packages-copies'] }, group: 'venv', help: 'Copy distributions into the venv instead of linking them.' },
  { key: 'venvSystemSitePackages', names: ['--venv-system-site-packages'], kind: { type: 'bool', negations: ['--no-venv-system-site-packages'] }, group: 'venv', help: "Give the venv the interpreter's site-packages." },
  { key: 'nonHermeticVenvScripts', names: ['--non-hermetic-venv-scripts'], kind: { type: 'flag' }, group: 'venv', help: "Let the venv's scripts see PYTHONPATH and the like." },
  { key: 'indexUrls', names: ['-i', '--index', '--index-url'], kind: { type: 'list' }, metavar: 'URL', group: 'index', help: "An index besides PyPI (repeatable). Given this or --no-pypi, pip's configured indexes are not used." },
  { key: 'findLinks', names: ['-f', '--find-links', '--repo'], kind: { type: 'list' }, metavar: 'PATH/URL', group: 'index', help: 'A directory or page of distributions, searched first (repeatable).' },
  { key: 'pypi', names: ['--pypi'], kind: { type: 'bool', negations: ['--no-pypi', '--no-index'] }, group: 'index', help: 'Use PyPI (default) or not.' },
  { key: 'platforms', names: ['--platform', '--abbreviated-platform'], kind: { type: 'list' }, metavar: 'PLATFORM', group: 'target', help: 'Build for this platform instead of the local interpreter (repeatable: one PEX holding the wheels of each), as pex\'s <platform>-<impl>-<version>-<abi>, e.g. manylinux2014_aarch64-cp-311-cp311, musllinux_1_2_x86_64-cp-312-cp312, macosx_11_0_arm64-cp-312-cp312 or linux_x86_64-cp-311-cp311 (taken as manylinux2014 too, as pex\'s default --manylinux does). Wheels are ranked as packaging.tags does on such a machine (the manylinux and musllinux ladders below the named version, older macOS versions and universal2). Such a platform has no full marker environment: as pex does, nx-pex fills in os_name, sys_platform, platform_system, platform_machine, implementation_name, platform_python_implementation and python_version from it, python_full_version only from a dotted version (cp-3.11.9), and leaves out platform_release, platform_version and implementation_version, so a lock marker that needs one of those is an error; a python_full_version marker that holds alike for every patch release is decided. Use --complete-platform for the exact environment.' },
  { key: 'completePlatforms', names: ['--complete-platform'], kind: { type: 'list' }, metavar: 'FILE|JSON', group: 'target', help: 'Build for the platform described by this JSON (a file, or the object itself), as `pex3 interpreter inspect --markers --tags` prints it on the target machine: its marker_environment and its compatible_tags, best first (repeatable; combines with --platform).' },
  { key: 'python', names: ['--python'], kind: { type: 'string' }, metavar: 'PYTHON', group: 'nx-pex', help: 'Interpreter whose version and platform the PEX targets. Default: python3.' },
  { key: 'pexVersion', names: ['--pex-version'], kind: { type: 'string' }, metavar: 'VERSION', group: 'nx-pex', help: 'The pex release whose runtime the PEX embeds (from the index). Default: the pinned one.' },
  { key: 'firstParty', names: ['--first-party'], kind: { type: 'choice', choices: ['sources', 'wheel'] }, metavar: '{sources,wheel}', group: 'nx-pex', help: "How workspace projects go in: sources (their files with a .dist-info, so importlib.metadata finds them) or wheel (each built into a wheel by its build backend, as `pex .` does). Default: sources." },
  { key: 'layers', names: ['--layers'], kind: { type: 'flag' }, group: 'nx-pex', help: 'With --project: also write layers/deps.pex (the third-party closure, built once per closure in the store) and layers/<script>.pex (first-party code); PEX_PATH=layers/deps.pex layers/<script>.pex runs it.' },
  { key: 'docker', names: ['--docker'], kind: { type: 'flag' }, group: 'nx-pex', help: 'With --project: also write docker/, a Docker build context whose deps layer is built before the sources (pex\'s container recipe).' },
  { key: 'dockerBaseImage', names: ['--docker-base-image'], kind: { type: 'string' }, metavar: 'IMAGE', group: 'nx-pex', help: 'The base image of the Docker context. Default: python:X.Y-slim for the target\'s X.Y.' },
  { key: 'image', names: ['--image'], kind: { type: 'flag' }, group: 'nx-pex', help: 'With --project: also write image/, an OCI image layout per console script (base image, a venv of the dependencies shared by every project with that closure, the sources), made without Docker.' },
  { key: 'imageBase', names: ['--image-base'], kind: { type: 'string' }, metavar: 'IMAGE', group: 'nx-pex', help: 'The image\'s base: an OCI layout directory (DIR or DIR:REF), a docker-save, OCI or root filesystem tarball, or a registry reference. Default: python:X.Y-slim for the target\'s X.Y.' },
  { key: 'imageRepository', names: ['--image-repository'], kind: { type: 'string' }, metavar: 'REGISTRY/PATH', group: 'nx-pex', help: 'Where nx-pex push sends the image (with several scripts, /<script> is added).' },
  { key: 'imageTags', names: ['--image-tag'], kind: { type: 'list' }, metavar: 'TAG', group: 'nx-pex', help: 'A tag nx-pex push gives the image (repeatable). Default: latest.' },
  { key: 'imagePorts', names: ['--image-port'], kind: { type: 'list' }, metavar: 'PORT[/PROTO]', group: 'nx-pex', help: 'A port the image exposes (repeatable).' },
  { key: 'imageUser', names: ['--image-user'], kind: { type: 'string' }, metavar: 'USER', group: 'nx-pex', help: 'The user the image runs as. Default: the base image\'s.' },
  { key: 'imageEnv', names: ['--image-env'], kind: { type: 'env' }, metavar: 'NAME=VALUE', group: 'nx-pex', help: 'An environment variable of the image (repeatable); PATH, VIRTUAL_ENV and PYTHONDONTWRITEBYTECODE=1 are set already.' },
  { key: 'imageRevision', names: ['--image-revision'], kind: { type: 'string' }, metavar: 'REV', group: 'nx-pex', help: 'The source revision recorded in the image\'s org.opencontainers.image.revision label (e.g. $(git rev-parse HEAD)).' },
  { key: 'store', names: ['--store'], kind: { type: 'string' }, metavar: 'DIR', group: 'nx-pex', help: 'Wheel store. Default: $NX_PEX_STORE, else $XDG_CACHE_HOME/nx-pex, else ~/.cache/nx-pex.' },
  { key: 'offline', names: ['--offline'], kind: { type: 'flag' }, group: 'nx-pex', help: 'Take wheels from the store only, never the network (also NX_PEX_OFFLINE=1); fail naming every missing one.' },
  { key: 'disableCache', names: ['--disable-cache'], kind: { type: 'flag' }, group: 'nx-pex', help: 'Neither read nor keep index pages and metadata in the store: ask the indexes afresh (also NX_PEX_DISABLE_CACHE=1). Wheels still come from the store, verified by sha256.' },
  { key: 'buildTimeout', names: ['--build-timeout'], kind: { type: 'string' }, metavar: 'SECONDS', group: 'nx-pex', help: 'Time limit of one sdist or project build (pip wheel and its backend, killed with everything it started when over it). Default: $NX_PEX_BUILD_TIMEOUT, else 1800.' },
  { key: 'quiet', names: ['-q', '--quiet'], kind: { type: 'flag' }, group: 'nx-pex', help: 'Print nothing but errors.' },
  { key: 'help', names: ['-h', '--help'], kind: { type: 'flag' }, group: 'nx-pex', help: 'Show this help.' },
];

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
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg : arg.slice(0, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else {
      name = arg.slice(0, 2);
      inline = arg.length > 2 ? arg.slice(2) : undefined;
    }
    const found = byName.get(name);
    if (!found) {
      if (unsupported.has(name)) throw notSupported(name);
      throw new UsageError(`Unknown option '${name}'. Run \`nx-pex build --help\` for the options nx-pex supports.`);
    }
    const { spec, negated } = found;
    const kind = spec.kind;
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new UsageError(`${name} needs a value (${spec.metavar ?? 'VALUE'}).`);
      return argv[++i]!;
    };
    const noValue = () => {
      if (inline !== undefined) throw new UsageError(`${name} takes no value (given "${inline}").`);
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
      case 'bool':
        noValue();
        rec[spec.key] = !negated;
        break;
      case 'flag':
        noValue();
        rec[spec.key] = true;
        break;
      case 'choice': {
        let v: string;
        if (inline !== undefined) v = inline;
        else if (kind.bare !== undefined) v = kind.choices.includes(argv[i + 1] ?? '') ? argv[++i]! : kind.bare;
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
        else if (name === '--only-build' || name === '--only-binary' || name === '--only-wheel' || /^:(all|none):$/.test(argv[i + 1] ?? '')) v = takeValue();
        else v = kind.bare;
        const names = v.split(',').map((x) => x.trim()).filter(Boolean);
        rec[spec.key] = [...((rec[spec.key] as string[] | undefined) ?? []), ...names];
        break;
      }
      case 'env': {
        const v = takeValue();
        const eq = v.indexOf('=');
        if (eq <= 0) throw new UsageError(`${name} takes NAME=VALUE; given "${v}".`);
        out.injectEnv = { ...(out.injectEnv ?? {}), [v.slice(0, eq)]: v.slice(eq + 1) };
        break;
      }
    }
  }
  return out;
}

const GROUPS: Array<[Spec['group'], string]> = [
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
