/**
 * The option registry: every option a user sets in `[tool.nx-pex]`, as an Nx target option or on
 * `nx-pex build`'s command line is declared here once. The `[tool.nx-pex]` reader, the CLI's flag
 * table, the Nx executor schema (`plugins/nx-pex/schemas/build.json`, generated), the engine's
 * option merge, the options handed to the PEX writer and `docs/options.md` (generated) are all
 * derived from `OPTIONS`; a test checks each of them against it.
 *
 * Adding an option is one entry here plus the code that uses it (see "Adding an option" in docs/architecture.md).
 */
import { resolve } from 'node:path';

/** The value kinds an option can have; the TOML, JSON schema and CLI spellings derive from it. */
export type OptionKind =
  | { readonly type: 'string' }
  | { readonly type: 'strings' }
  | { readonly type: 'bool' }
  | { readonly type: 'int'; readonly minimum?: number }
  | { readonly type: 'choice'; readonly choices: readonly string[] }
  | { readonly type: 'env' };

/** The TypeScript type of an option of kind `K`. */
export type ValueOf<K> = K extends { type: 'string' }
  ? string
  : K extends { type: 'strings' }
    ? string[]
    : K extends { type: 'bool' }
      ? boolean
      : K extends { type: 'int' }
        ? number
        : K extends { type: 'choice'; choices: ReadonlyArray<infer C> }
          ? C
          : K extends { type: 'env' }
            ? Record<string, string>
            : never;

/** Sections of `nx-pex build --help`. */
export type CliGroup = 'input' | 'output' | 'runtime' | 'venv' | 'index' | 'target' | 'nx-pex';

/** How an option is spelled on `nx-pex build`'s command line; the value is read by the option's kind. */
export interface CliSpelling {
  /** The flags, pex's spelling first where pex has the option; each sets the option. */
  readonly flags: readonly string[];
  /** bool: flags that set the opposite value. */
  readonly negations?: readonly string[];
  /** bool: the value the flags set (default true); the negations set the other one. */
  readonly sets?: boolean;
  readonly metavar?: string;
  readonly group: CliGroup;
  /** `--help`'s text when it differs from `help`. */
  readonly help?: string;
  /** strings: each value is split on this separator (pex's `--pex-path a:b`). */
  readonly separator?: string;
  /** strings: each value is split into words as a shell does (pex's `--inject-args`). */
  readonly shlex?: boolean;
  /** choice: the value taken when the flag is given without one (pex's `nargs='?'`). */
  readonly bare?: string;
  /** choice: the values the flag takes when they differ from the option's (`--venv` takes prepend or append). */
  readonly choices?: readonly string[];
  /** Other options the flag sets too (pex's `--venv prepend` is venv plus its bin path). */
  readonly implies?: Readonly<Record<string, unknown>>;
  /** The command interprets the value itself rather than passing it on as the option (`-c`). */
  readonly byCommand?: true;
}

/**
 * Whether an option is part of what a build's output depends on, for Nx's cache: `value` (the
 * value itself: it is hashed with the target's options or pyproject.toml), `contents` (also the
 * contents of the files or directories it names), `none` (where or how the build runs, never what
 * it writes).
 */
export type CacheInput = 'value' | 'contents' | 'none';

export interface OptionSpec {
  /** The field in target options, in `PexBuildOptions` and in the engine. */
  readonly field: string;
  readonly kind: OptionKind;
  /**
   * `pex`: a PEX option, merged across its layers (command line or target over `[tool.nx-pex]`)
   * and checked by the engine. `build`: a setting of the build itself, read where it applies.
   */
  readonly scope: 'pex' | 'build';
  /** Read from `[tool.nx-pex]` under the field's name in kebab-case. */
  readonly toml: boolean;
  /** A target option of the `nx-pex:build` executor (its schema). */
  readonly nx: boolean;
  readonly cli?: CliSpelling;
  /** The PEX writer's option (`PexOptions` in `@nx-pex/pex`) the value is passed on as. */
  readonly writer?: string;
  readonly cacheInput: CacheInput;
  /**
   * Paths among the values, resolved against the directory they are written relative to
   * (`[tool.nx-pex]`: the pyproject.toml's; a target: the workspace root; the command line: the
   * working directory). `json-or-file`: a value starting with `{` is inline JSON, not a path;
   * `path-or-ref`: only a value starting with `./`, `../` or `/` is a path (anything else is an
   * image reference).
   */
  readonly paths?: 'dir' | 'json-or-file' | 'path-or-ref';
  /** Options that travel together when layers are merged: the first layer setting any of them gives all of them. */
  readonly together?: 'executable';
  /** pex's flag of the same meaning, and Pants' field, for the reference. */
  readonly pex?: string;
  readonly pants?: string;
  /** The default as the reference states it. */
  readonly default?: string;
  readonly help: string;
}

const string = { type: 'string' } as const;
const strings = { type: 'strings' } as const;
const bool = { type: 'bool' } as const;

/** Every option, in the order the references list them. */
export const OPTIONS = [
  {
    field: 'scripts', kind: strings, scope: 'pex', toml: true, nx: true, cacheInput: 'value', together: 'executable',
    cli: { flags: ['-c', '--script', '--console-script'], metavar: 'NAME', group: 'input', byCommand: true, help: 'A console script as the entry point. With --project: a script of [project.scripts] to build (repeatable), else of any distribution in the PEX.' },
    default: 'all of [project.scripts]',
    help: 'Console scripts of [project.scripts] to build, one PEX each. Conflicts with entryPoint and script.',
  },
  {
    field: 'python', kind: string, scope: 'build', toml: false, nx: true, cacheInput: 'value',
    cli: { flags: ['--python'], metavar: 'PYTHON', group: 'nx-pex' },
    default: 'python3',
    help: 'Interpreter whose Python version and platform the PEX targets.',
  },
  {
    field: 'lockFile', kind: string, scope: 'build', toml: true, nx: true, cacheInput: 'contents',
    default: 'a pylock.toml, poetry.lock or uv.lock beside pyproject.toml, else the nearest uv.lock above',
    help: 'The lock to build from (relative to the pyproject.toml in [tool.nx-pex], to the workspace root as a target option). On the command line: --lock.',
  },
  {
    field: 'problem', kind: string, scope: 'build', toml: false, nx: true, cacheInput: 'value',
    help: 'Set by the nx-pex plugin for a project it cannot build (two projects with one distribution name): the build fails with this message.',
  },
  {
    field: 'lockPerProject', kind: bool, scope: 'build', toml: false, nx: true, cacheInput: 'value',
    default: 'the pylock.toml when the project has one, else the uv.lock',
    help: "true: build from the project's own pylock.toml, kept by the nx-pex:sync generator (nx sync); false: from the workspace's uv.lock.",
  },
  {
    field: 'outputPath', kind: string, scope: 'build', toml: false, nx: true, cacheInput: 'value',
    default: 'dist/<projectRoot>',
    help: 'Output directory, relative to the workspace root. On the command line: --output-dir or -o.',
  },
  {
    field: 'storeDir', kind: string, scope: 'build', toml: false, nx: true, cacheInput: 'none',
    cli: { flags: ['--store'], metavar: 'DIR', group: 'nx-pex' },
    default: '$NX_PEX_STORE, else $XDG_CACHE_HOME/nx-pex, else ~/.cache/nx-pex',
    help: 'Wheel store directory.',
  },
  {
    field: 'entryPoint', kind: string, scope: 'pex', toml: true, nx: true, writer: 'entryPoint', cacheInput: 'value', together: 'executable',
    cli: { flags: ['-e', '-m', '--entry-point'], metavar: 'MODULE[:SYMBOL]', group: 'input', help: 'The entry point of the PEX.' },
    pex: '-e/--entry-point', pants: 'pex_binary entry_point',
    help: 'module or module:function the PEX runs; builds one PEX named <project>.pex. Conflicts with script and scripts.',
  },
  {
    field: 'script', kind: string, scope: 'pex', toml: true, nx: true, writer: 'script', cacheInput: 'value', together: 'executable',
    pex: '-c/--script', pants: 'pex_binary script',
    help: 'One console script: of [project.scripts] (its entry point), else of any distribution in the PEX. On the command line: -c.',
  },
  {
    field: 'sources', kind: strings, scope: 'pex', toml: true, nx: true, cacheInput: 'contents', paths: 'dir',
    cli: { flags: ['-D', '--sources-directory'], metavar: 'DIR', group: 'input', help: "Add DIR's contents to the PEX's root (repeatable); with --project, besides the inferred code." },
    pex: '-D/--sources-directory', pants: 'sources of python_sources targets',
    help: "Extra directories whose contents go to the PEX's root, besides the inferred code.",
  },
  {
    field: 'layout', kind: { type: 'choice', choices: ['zipapp', 'packed', 'loose'] }, scope: 'pex', toml: true, nx: true, writer: 'layout', cacheInput: 'value',
    cli: { flags: ['--layout'], metavar: '{zipapp,packed,loose}', group: 'output', help: 'A zipapp file, or a packed or loose directory. Default: zipapp.' },
    pex: '--layout', pants: 'pex_binary layout', default: 'zipapp',
    help: 'zipapp (a file), packed or loose (a directory).',
  },
  {
    field: 'preInstallWheels', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'preInstallWheels', cacheInput: 'value',
    cli: { flags: ['--pre-install-wheels'], negations: ['--no-pre-install-wheels'], group: 'output', help: "Put installed wheels in the PEX (pex's default) instead of the .whl files (nx-pex's default)." },
    pex: '--pre-install-wheels/--no-pre-install-wheels', default: "false (pex's default is true)",
    help: 'Put installed wheels in the PEX instead of the .whl files.',
  },
  {
    field: 'compress', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'compress', cacheInput: 'value',
    cli: { flags: ['--compress', '--compressed'], negations: ['--no-compress', '--not-compressed', '--no-compression'], group: 'output', help: "Deflate the PEX's entries (default) or store them." },
    pex: '--compress/--no-compress', default: 'true',
    help: "Deflate the PEX's entries.",
  },
  {
    field: 'includeTools', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'includeTools', cacheInput: 'value',
    cli: { flags: ['--include-tools'], group: 'output', help: 'Include the pex tools (PEX_TOOLS=1).' },
    pex: '--include-tools', pants: 'pex_binary include_tools', default: 'false; implied by venv',
    help: 'Include the pex tools (PEX_TOOLS=1).',
  },
  {
    field: 'shebang', kind: string, scope: 'pex', toml: true, nx: true, writer: 'shebang', cacheInput: 'value',
    cli: { flags: ['--python-shebang'], metavar: 'SHEBANG', group: 'output' },
    pex: '--python-shebang', pants: 'pex_binary shebang', default: '#!/usr/bin/env pythonX.Y of the target',
    help: 'The #! line.',
  },
  {
    field: 'interpreterConstraints', kind: strings, scope: 'pex', toml: true, nx: true, writer: 'interpreterConstraints', cacheInput: 'value',
    cli: { flags: ['--interpreter-constraint'], metavar: 'CONSTRAINT', group: 'runtime', help: 'Interpreters the PEX may run with, e.g. "CPython>=3.10,<3.13" (repeatable).' },
    pex: '--interpreter-constraint', pants: 'interpreter_constraints',
    help: 'Interpreters the PEX may run with, e.g. CPython>=3.10,<3.13.',
  },
  {
    field: 'interpreterSelectionStrategy', kind: { type: 'choice', choices: ['oldest', 'newest'] }, scope: 'pex', toml: true, nx: true,
    writer: 'interpreterSelectionStrategy', cacheInput: 'value',
    cli: { flags: ['--interpreter-selection-strategy'], metavar: '{oldest,newest}', group: 'runtime' },
    pex: '--interpreter-selection-strategy', default: 'oldest',
    help: 'Which of the interpreters that meet the interpreter constraints the PEX runs with: the oldest or the newest version.',
  },
  {
    field: 'injectArgs', kind: strings, scope: 'pex', toml: true, nx: true, writer: 'injectArgs', cacheInput: 'value',
    cli: { flags: ['--inject-args'], shlex: true, metavar: 'ARGS', group: 'runtime', help: 'Arguments always passed to the entry point (split like a shell; repeatable).' },
    pex: '--inject-args', pants: 'pex_binary args',
    help: 'Arguments always passed to the entry point (one item per argument).',
  },
  {
    field: 'injectEnv', kind: { type: 'env' }, scope: 'pex', toml: true, nx: true, writer: 'injectEnv', cacheInput: 'value',
    cli: { flags: ['--inject-env'], metavar: 'NAME=VALUE', group: 'runtime', help: 'Environment variable set for the application (repeatable).' },
    pex: '--inject-env', pants: 'pex_binary env',
    help: 'Environment variables set for the application.',
  },
  {
    field: 'injectPythonArgs', kind: strings, scope: 'pex', toml: true, nx: true, writer: 'injectPythonArgs', cacheInput: 'value',
    cli: { flags: ['--inject-python-args'], shlex: true, metavar: 'ARGS', group: 'runtime', help: 'Arguments for the Python interpreter, e.g. "-u" (repeatable).' },
    pex: '--inject-python-args',
    help: 'Arguments for the Python interpreter, e.g. -u.',
  },
  {
    field: 'inheritPath', kind: { type: 'choice', choices: ['false', 'prefer', 'fallback'] }, scope: 'pex', toml: true, nx: true, writer: 'inheritPath', cacheInput: 'value',
    cli: { flags: ['--inherit-path'], bare: 'prefer', metavar: '{false,prefer,fallback}', group: 'runtime', help: "Use the interpreter's sys.path too. Default: false." },
    pex: '--inherit-path', pants: 'pex_binary inherit_path', default: 'false',
    help: "Use the interpreter's sys.path too: false, prefer or fallback.",
  },
  {
    field: 'stripPexEnv', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'stripPexEnv', cacheInput: 'value',
    cli: { flags: ['--strip-pex-env'], negations: ['--no-strip-pex-env'], group: 'runtime', help: 'Remove PEX_* variables before the application runs (default).' },
    pex: '--strip-pex-env/--no-strip-pex-env', pants: 'pex_binary strip_pex_env', default: 'true',
    help: 'Remove PEX_* variables before the application runs.',
  },
  {
    field: 'emitWarnings', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'emitWarnings', cacheInput: 'value',
    cli: { flags: ['--emit-warnings'], negations: ['--no-emit-warnings'], group: 'runtime', help: "Print the pex runtime's warnings (default)." },
    pex: '--emit-warnings/--no-emit-warnings', pants: 'pex_binary emit_warnings', default: 'true',
    help: "Print the pex runtime's warnings.",
  },
  {
    field: 'ignoreErrors', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'ignoreErrors', cacheInput: 'value',
    cli: { flags: ['--ignore-errors'], group: 'runtime' },
    pex: '--ignore-errors', pants: 'pex_binary ignore_errors', default: 'false',
    help: 'Boot even when requirements do not resolve at run time.',
  },
  {
    field: 'maxInstallJobs', kind: { type: 'int', minimum: -1 }, scope: 'pex', toml: true, nx: true, writer: 'maxInstallJobs', cacheInput: 'value',
    cli: { flags: ['--max-install-jobs'], metavar: 'N', group: 'runtime' },
    pex: '--max-install-jobs', default: '1',
    help: 'Parallel installs at first run: 1 (default), N, 0 = one per CPU, -1 = pex decides.',
  },
  {
    field: 'venv', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'venv', cacheInput: 'value',
    pex: '--venv', pants: 'pex_binary execution_mode="venv"', default: 'false',
    help: 'Run from a virtualenv made at first run. On the command line: --venv [prepend|append].',
  },
  {
    field: 'venvBinPath', kind: { type: 'choice', choices: ['false', 'prepend', 'append'] }, scope: 'pex', toml: true, nx: true, writer: 'venvBinPath', cacheInput: 'value',
    cli: {
      flags: ['--venv'], choices: ['prepend', 'append'], bare: 'false', implies: { venv: true }, metavar: '[{prepend,append}]', group: 'venv',
      help: 'Run from a virtualenv made at first run; prepend/append put its bin/ on PATH. Includes the tools.',
    },
    pex: '--venv prepend|append (PEX-INFO venv_bin_path)', default: 'false',
    help: "Put the venv's bin/ on PATH; only with venv.",
  },
  {
    field: 'venvCopies', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'venvCopies', cacheInput: 'value',
    cli: { flags: ['--venv-copies'], negations: ['--no-venv-copies'], group: 'venv', help: 'Copy the interpreter into the venv instead of symlinking it.' },
    pex: '--venv-copies', default: 'false',
    help: 'Copy the interpreter into the venv.',
  },
  {
    field: 'venvSitePackagesCopies', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'venvSitePackagesCopies', cacheInput: 'value',
    cli: { flags: ['--venv-site-packages-copies'], negations: ['--no-venv-site-packages-copies'], group: 'venv' },
    pex: '--venv-site-packages-copies', pants: 'pex_binary venv_site_packages_copies', default: 'false',
    help: 'Copy distributions into the venv instead of linking them.',
  },
  {
    field: 'venvSystemSitePackages', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'venvSystemSitePackages', cacheInput: 'value',
    cli: { flags: ['--venv-system-site-packages'], negations: ['--no-venv-system-site-packages'], group: 'venv' },
    pex: '--venv-system-site-packages', default: 'false',
    help: "Give the venv the interpreter's site-packages.",
  },
  {
    field: 'venvHermeticScripts', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'venvHermeticScripts', cacheInput: 'value',
    cli: { flags: ['--non-hermetic-venv-scripts'], sets: false, group: 'venv', help: "Let the venv's scripts see PYTHONPATH and the like." },
    pex: '--non-hermetic-venv-scripts sets false', pants: 'pex_binary venv_hermetic_scripts', default: 'true',
    help: "The venv's scripts run isolated from PYTHONPATH and the like.",
  },
  {
    field: 'validateEntryPoint', kind: bool, scope: 'pex', toml: true, nx: true, writer: 'validateEntryPoint', cacheInput: 'value',
    cli: { flags: ['--validate-entry-point'], group: 'runtime', help: "Check that the entry point's module is in the PEX." },
    pex: '--validate-entry-point', default: 'false',
    help: "Check at build time that the entry point's module is in the PEX.",
  },
  {
    field: 'pexPath', kind: strings, scope: 'pex', toml: true, nx: true, writer: 'pexPath', cacheInput: 'value',
    cli: { flags: ['--pex-path'], separator: ':', metavar: 'PEX[:PEX...]', group: 'runtime' },
    pex: '--pex-path',
    help: 'Other PEX files merged in at run time.',
  },
  {
    field: 'runtimePexRoot', kind: string, scope: 'pex', toml: true, nx: true, writer: 'runtimePexRoot', cacheInput: 'value',
    cli: { flags: ['--runtime-pex-root'], metavar: 'DIR', group: 'runtime' },
    pex: '--runtime-pex-root', default: '~/.cache/pex',
    help: 'The PEX_ROOT the PEX uses at run time.',
  },
  {
    field: 'pexVersion', kind: string, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: { flags: ['--pex-version'], metavar: 'VERSION', group: 'nx-pex', help: 'The pex release whose runtime the PEX embeds (from the index). Default: the pinned one.' },
    pants: '[pex-cli] version', default: 'the pinned one',
    help: 'The pex release whose runtime the PEX embeds, from the configured index.',
  },
  {
    field: 'layers', kind: bool, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: {
      flags: ['--layers'], group: 'nx-pex',
      help: 'With --project: also write layers/deps.pex (the third-party closure, built once per closure in the store) and layers/<script>.pex (first-party code); PEX_PATH=layers/deps.pex layers/<script>.pex runs it.',
    },
    default: 'false',
    help:
      'Also write layers/deps.pex (the third-party closure and the pex runtime, built once per closure and kept in the store; Pants include_sources=False) ' +
      'and layers/<script>.pex (first-party code, entry point and run-time options; Pants include_requirements=False). PEX_PATH=layers/deps.pex layers/<script>.pex runs the script.',
  },
  {
    field: 'fullPex', kind: bool, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: {
      flags: ['--full-pex'], negations: ['--no-full-pex'], group: 'nx-pex',
      help: 'With --project: write <script>.pex (default), or, with --layers or --docker, only the layers: nothing but the sources layers is written, the deps layer is linked from the store.',
    },
    default: 'true',
    help:
      'Write the full <script>.pex files. false (with layers or docker): write only the layers, so that a build writes its sources layers and ' +
      'links the dependencies layer from the store instead of writing every wheel into every PEX.',
  },
  {
    field: 'docker', kind: bool, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: { flags: ['--docker'], group: 'nx-pex', help: "With --project: also write docker/, a Docker build context whose deps layer is built before the sources (pex's container recipe)." },
    default: 'false',
    help:
      "Also write docker/, a Docker build context (Dockerfile, .dockerignore, the deps and sources layers) after pex's container recipe: " +
      'the deps venv is built before the sources, so a source edit rebuilds only the last image layer.',
  },
  {
    field: 'dockerBaseImage', kind: string, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: { flags: ['--docker-base-image'], metavar: 'IMAGE', group: 'nx-pex', help: "The base image of the Docker context. Default: python:X.Y-slim for the target's X.Y." },
    default: "python:X.Y-slim for the target's X.Y",
    help: 'The base image of the Docker context (FROM).',
  },
  {
    field: 'image', kind: bool, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: { flags: ['--image'], group: 'nx-pex', help: 'With --project: also write image/, an OCI image layout per console script (base image, a venv of the dependencies shared by every project with that closure, the sources), made without Docker.' },
    default: 'false',
    help: 'Also write image/, an OCI image layout (one manifest per script, one image index per script with several platforms) made by nx-pex without Docker: the base image, a venv of the closure kept in the store once per closure and base, and the sources; see docs/images.md.',
  },
  {
    field: 'imageBase', kind: string, scope: 'pex', toml: true, nx: true, cacheInput: 'value', paths: 'path-or-ref',
    cli: { flags: ['--image-base'], metavar: 'IMAGE', group: 'nx-pex', help: "The image's base: an OCI layout directory (DIR or DIR:REF), a docker-save, OCI or root filesystem tarball, or a registry reference. Default: python:X.Y-slim for the target's X.Y." },
    default: "python:X.Y-slim for the target's X.Y",
    help: 'The base of the image: an OCI layout directory (DIR or DIR:REF), a docker-save, OCI or root filesystem tarball (a path starting with ./, ../ or /), or a registry reference pulled with the Registry API and kept in the store by digest.',
  },
  {
    field: 'imageRepository', kind: string, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: { flags: ['--image-repository'], metavar: 'REGISTRY/PATH', group: 'nx-pex', help: 'Where nx-pex push sends the image (with several scripts, /<script> is added).' },
    help: 'Where `nx-pex push` (the push target) sends the image: registry[:port]/path; with several scripts, /<script> is added.',
  },
  {
    field: 'imageTags', kind: strings, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: { flags: ['--image-tag'], metavar: 'TAG', group: 'nx-pex', help: 'A tag nx-pex push gives the image (repeatable). Default: latest.' },
    default: 'latest',
    help: 'The tags `nx-pex push` gives the image.',
  },
  {
    field: 'imagePorts', kind: strings, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: { flags: ['--image-port'], metavar: 'PORT[/PROTO]', group: 'nx-pex', help: 'A port the image exposes (repeatable).' },
    help: 'Ports the image exposes: 8000, 8000/tcp, 53/udp.',
  },
  {
    field: 'imageUser', kind: string, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: { flags: ['--image-user'], metavar: 'USER', group: 'nx-pex', help: "The user the image runs as. Default: the base image's." },
    default: "the base image's",
    help: 'The user the image runs as (its config\'s User).',
  },
  {
    field: 'imageEnv', kind: { type: 'env' }, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: { flags: ['--image-env'], metavar: 'NAME=VALUE', group: 'nx-pex', help: 'An environment variable of the image (repeatable); PATH, VIRTUAL_ENV and PYTHONDONTWRITEBYTECODE=1 are set already.' },
    help: "Environment variables of the image, over the base's and nx-pex's (PATH, VIRTUAL_ENV, PYTHONDONTWRITEBYTECODE=1).",
  },
  {
    field: 'imageRevision', kind: string, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: { flags: ['--image-revision'], metavar: 'REV', group: 'nx-pex', help: "The source revision recorded in the image's org.opencontainers.image.revision label (e.g. $(git rev-parse HEAD))." },
    help: 'The source revision recorded as the image\'s org.opencontainers.image.revision label (opt-in: a label that changes with every commit would change every image digest).',
  },
  {
    field: 'firstParty', kind: { type: 'choice', choices: ['sources', 'wheel'] }, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: { flags: ['--first-party'], metavar: '{sources,wheel}', group: 'nx-pex', help: 'How workspace projects go in: sources (their files with a .dist-info, so importlib.metadata finds them) or wheel (each built into a wheel by its build backend, as `pex .` does). Default: sources.' },
    default: 'sources',
    help: 'How workspace projects go into the PEX: sources (their files with a .dist-info beside them, so importlib.metadata answers) or wheel (each built into a wheel by its own build backend and put in .deps, as `pex .` does); see docs/first-party.md.',
  },
  {
    field: 'platforms', kind: strings, scope: 'pex', toml: true, nx: true, cacheInput: 'value',
    cli: {
      flags: ['--platform', '--abbreviated-platform'], metavar: 'PLATFORM', group: 'target',
      help:
        "Build for this platform instead of the local interpreter (repeatable: one PEX holding the wheels of each), as pex's <platform>-<impl>-<version>-<abi>, " +
        "e.g. manylinux2014_aarch64-cp-311-cp311, musllinux_1_2_x86_64-cp-312-cp312, macosx_11_0_arm64-cp-312-cp312 or linux_x86_64-cp-311-cp311 (taken as manylinux2014 too, as pex's default --manylinux does). " +
        'Wheels are ranked as packaging.tags does on such a machine (the manylinux and musllinux ladders below the named version, older macOS versions and universal2). ' +
        'Such a platform has no full marker environment: as pex does, nx-pex fills in os_name, sys_platform, platform_system, platform_machine, implementation_name, ' +
        'platform_python_implementation and python_version from it, python_full_version only from a dotted version (cp-3.11.9), and leaves out platform_release, ' +
        'platform_version and implementation_version, so a lock marker that needs one of those is an error; a python_full_version marker that holds alike for every ' +
        'patch release is decided. Use --complete-platform for the exact environment.',
    },
    pex: '--platform', pants: 'pex_binary platforms',
    help: 'Abbreviated platforms to build for instead of the local interpreter, e.g. manylinux2014_x86_64-cp-311-cp311; several give one PEX holding each platform\'s wheels.',
  },
  {
    field: 'completePlatforms', kind: strings, scope: 'pex', toml: true, nx: true, cacheInput: 'contents', paths: 'json-or-file',
    cli: {
      flags: ['--complete-platform'], metavar: 'FILE|JSON', group: 'target',
      help:
        'Build for the platform described by this JSON (a file, or the object itself), as `pex3 interpreter inspect --markers --tags` prints it on the target machine: ' +
        'its marker_environment and its compatible_tags, best first (repeatable; combines with --platform).',
    },
    pex: '--complete-platform', pants: 'pex_binary complete_platforms',
    help: 'Complete platform JSON files (made by `pex3 interpreter inspect --markers --tags` on the target) or JSON objects.',
  },
] as const satisfies readonly OptionSpec[];

export type OptionEntry = (typeof OPTIONS)[number];
/** Every option's field name. */
export type OptionField = OptionEntry['field'];

type Values<E extends OptionSpec> = { [O in E as O['field']]?: ValueOf<O['kind']> };

/**
 * The PEX options (`scope: 'pex'`) as the engine merges them: command line or target over
 * `[tool.nx-pex]`. `scripts` is nx-pex's one-PEX-per-console-script list.
 */
export type LayeredOptions = Values<Extract<OptionEntry, { scope: 'pex' }>>;
/** The PEX options settable per target, per project and on the command line, `scripts` aside. */
export type PexBuildOptions = Omit<LayeredOptions, 'scripts'>;
/** A value for any option. */
export type OptionValues = Values<OptionEntry>;
/** What nx-pex reads from `[tool.nx-pex]`. */
export type NxPexToolConfig = Values<Extract<OptionEntry, { toml: true }>>;
/** The `nx-pex:build` executor's options (its schema is generated from the registry). */
export type NxTargetOptions = Values<Extract<OptionEntry, { nx: true }>>;

export type Layout = NonNullable<LayeredOptions['layout']>;
export type InheritPath = NonNullable<LayeredOptions['inheritPath']>;

/** `layout` → `layout`, `venvBinPath` → `venv-bin-path`. */
export function kebabCase(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The registry entry of `field`. */
export function optionSpec(field: string): OptionSpec | undefined {
  return (OPTIONS as readonly OptionSpec[]).find((o) => o.field === field);
}

/** The PEX options' field names (`scripts` aside), in the registry's order. */
export const PEX_BUILD_OPTION_NAMES: ReadonlyArray<keyof PexBuildOptions> = (OPTIONS as readonly OptionSpec[])
  .filter((o) => o.scope === 'pex' && o.field !== 'scripts')
  .map((o) => o.field as keyof PexBuildOptions);

/** The options that travel together in a merge (entry point, script, scripts). */
export const EXECUTABLE_OPTIONS: readonly string[] = (OPTIONS as readonly OptionSpec[]).filter((o) => o.together === 'executable').map((o) => o.field);

/** The PEX writer's options each option is passed on as: option field → writer field. */
export const WRITER_FIELDS: Readonly<Record<string, string>> = Object.fromEntries(
  (OPTIONS as readonly OptionSpec[]).filter((o) => o.writer !== undefined).map((o) => [o.field, o.writer!]),
);

/** A complete platform as given (a JSON object, else a file) with a file resolved against `dir`. */
export function completePlatformPath(value: string, dir: string): string {
  return value.trim().startsWith('{') ? value : resolve(dir, value);
}

/**
 * The files and directories whose contents a build depends on, as `config` (a `[tool.nx-pex]`
 * table) names them: the values of the options marked `cacheInput: 'contents'` that hold paths,
 * resolved against `dir` (inline JSON left out).
 */
export function contentPaths(config: object, dir: string): { dirs: string[]; files: string[] } {
  const out = { dirs: [] as string[], files: [] as string[] };
  const given = config as Record<string, unknown>;
  for (const o of OPTIONS as readonly OptionSpec[]) {
    const value = given[o.field];
    if (o.cacheInput !== 'contents' || o.paths === undefined || value === undefined) continue;
    for (const p of Array.isArray(value) ? (value as string[]) : [value as string]) {
      if (o.paths === 'dir') out.dirs.push(resolve(dir, p));
      else if (!p.trim().startsWith('{')) out.files.push(resolve(dir, p));
    }
  }
  return out;
}

/**
 * `options` with the paths among their values (the options the registry marks with `paths`)
 * resolved against `dir`, the directory they are written relative to.
 */
export function resolveOptionPaths<T extends object>(options: T, dir: string): T {
  const out = { ...options } as Record<string, unknown>;
  for (const o of OPTIONS as readonly OptionSpec[]) {
    const value = out[o.field];
    if (o.paths === undefined || value === undefined) continue;
    const one = (v: string) =>
      o.paths === 'dir' ? resolve(dir, v) : o.paths === 'path-or-ref' ? (/^\.{0,2}\//.test(v) ? resolve(dir, v) : v) : completePlatformPath(v, dir);
    out[o.field] = Array.isArray(value) ? value.map(one) : one(value as string);
  }
  return out as T;
}
