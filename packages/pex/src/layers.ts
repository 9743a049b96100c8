/**
 * What identifies a dependencies layer, and the Docker build context that turns the two layers
 * of an application into image layers the way pex's container recipe does.
 */
import { createHash } from 'node:crypto';
import { PexError } from './errors';
import type { PexOptions } from './pex';

/**
 * Bumped whenever the writer would write different bytes for the same layer options, so that a
 * layer kept in a store by an older writer is not taken for a new one.
 */
export const LAYER_FORMAT = 1;

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v);
    }
    return out;
  }
  return value;
}

/**
 * The store key (sha256 hex) of the dependencies layer written from `options` (as
 * `depsLayerOptions` gives them) for `target`: every option that reaches the layer, with each
 * wheel by file name and sha256 (not by where it lies) and the runtime by its wheel's sha256.
 */
export function depsLayerKey(options: PexOptions, target: string): string {
  if (options.sources.length > 0 || options.entryPoint !== undefined || options.script !== undefined) {
    throw new PexError('A dependencies layer holds no sources and no entry point; pass the options depsLayerOptions() gives.');
  }
  const { runtime, dependencies, ...rest } = options;
  const identity = {
    format: LAYER_FORMAT,
    target,
    runtime: { version: runtime.version, wheel: runtime.wheelFilename, sha256: runtime.wheelSha256.toLowerCase() },
    dependencies: dependencies.map((d) => ({ filename: d.filename, sha256: d.sha256.toLowerCase() })),
    options: rest,
  };
  return createHash('sha256').update(JSON.stringify(canonical(identity)), 'utf8').digest('hex');
}

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[_.]|__|-+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);

/**
 * Whether `ref` is an image reference as Docker parses it (`[registry[:port]/]path[:tag][@digest]`,
 * path components in lower case, a name of at most 255 characters).
 */
export function isImageReference(ref: string): boolean {
  const m = REFERENCE.exec(ref);
  if (m === null || m[1]!.length > 255) return false;
  // A first component without '.' or ':' (and not localhost) is part of the path, not a registry.
  const slash = m[1]!.indexOf('/');
  const first = slash < 0 ? m[1]! : m[1]!.slice(0, slash);
  const registry = slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first.startsWith('['));
  return registry || first === first.toLowerCase();
}

/** One application in a Docker context: its sources layer, by file name in the context. */
export interface DockerApp {
  /** The console script (or project) the image runs; names its stages. */
  name: string;
  /** File (or directory) name of its sources layer in the context, e.g. `service-a.pex`. */
  srcsLayer: string;
}

export interface DockerfileOptions {
  /** `FROM` of every stage; must have the target's `pythonX.Y` on its PATH. */
  baseImage: string;
  /** The target's `X.Y`: the interpreter the venvs are made with. */
  pythonVersion: string;
  /** File (or directory) name of the dependencies layer in the context. */
  depsLayer: string;
  /** The first one is the image `docker build` makes without `--target`. */
  apps: DockerApp[];
  /** Where the venv goes in the image. */
  venvDir?: string;
  /** Text of the comment at the top. */
  header?: string;
}

/** A stage name Docker accepts (`[a-z][a-z0-9_.-]*`), from a script name. */
function stageName(name: string, taken: Set<string>): string {
  let base = name.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[^a-z]+/, '');
  if (base === '' || base === 'deps') base = `app-${base}`.replace(/-$/, '');
  let out = base;
  for (let i = 2; taken.has(out) || taken.has(`srcs-${out}`); i++) out = `${base}-${i}`;
  taken.add(out);
  return out;
}

function jsonArray(words: readonly string[]): string {
  return `[${words.map((w) => JSON.stringify(w)).join(', ')}]`;
}

/**
 * A context file name as a `COPY` source that matches only that file: Docker expands `$VAR` and
 * `${VAR}` in COPY's JSON form too (a backslash does not escape them there), then matches the
 * source as a Go `filepath.Match` pattern; `$`, `*`, `?` and `[` as one-character classes are
 * taken literally by both.
 */
function copySource(name: string): string {
  return name.replace(/[$*?[]/g, (c) => `[${c}]`);
}

/** One line of comment text: control characters (a newline would end the comment) shown as '?'. */
function commentText(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, '?');
}

/**
 * `COPY ["<context file>", "/nx-pex/<scope>.pex"]`: the context's file by a pattern that matches
 * only it, to a fixed name in the stage (one layer per stage), so that no name of the user's
 * reaches a destination or a command line.
 */
function copyLayer(file: string, scope: 'deps' | 'srcs'): string {
  if (file.includes('/') || file.includes('\\') || file === '' || file === '.' || file === '..') throw new PexError(`'${file}' cannot name a layer in a Docker context.`);
  return `COPY ${jsonArray([copySource(file), `/nx-pex/${scope}.pex`])}`;
}

/** `RUN [...]` in the exec form (no shell): pex's venv tool on the stage's layer. */
function venvFromLayer(python: string, scope: 'deps' | 'srcs', venv: string): string {
  return `RUN ${jsonArray([python, `/nx-pex/${scope}.pex`, 'venv', `--scope=${scope}`, '--compile', venv])}`;
}

/**
 * A Dockerfile after pex's "PEX app in a container" recipe: a stage makes a venv from the
 * dependencies layer (`venv --scope=deps --compile`), a stage per application makes one from its
 * sources layer (`--scope=srcs`), and the final stage of each application copies the deps venv
 * before the sources venv. A change of sources therefore rebuilds only the sources stage and the
 * last `COPY`; every layer before it stays in Docker's cache.
 */
export function dockerfile(o: DockerfileOptions): string {
  if (!isImageReference(o.baseImage)) throw new PexError(`'${o.baseImage}' is not a Docker image reference.`);
  if (!/^\d+\.\d+$/.test(o.pythonVersion)) throw new PexError(`'${o.pythonVersion}' is not a Python X.Y version.`);
  if (o.apps.length === 0) throw new PexError('A Docker context needs an application to run.');
  const venv = o.venvDir ?? '/app';
  const python = `python${o.pythonVersion}`;
  const lines: string[] = [];
  if (!/^\/[A-Za-z0-9._/-]*$/.test(venv)) throw new PexError(`'${venv}' is not a plain absolute directory for the venv.`);
  // Every name is in the JSON (exec) form: a script name with spaces, quotes, `$()` or `;` is
  // a file name to Docker and to pex, never shell syntax. The build stages run pex's tools by
  // environment (their PEX_ROOT is left behind: only the venv is copied into the image).
  const toolsEnv = 'ENV PEX_TOOLS=1 PEX_ROOT=/tmp/pex-root';
  if (o.header) lines.push(...o.header.split('\n').map((l) => (l ? `# ${commentText(l)}` : '#')), '');
  lines.push(
    '# The third-party dependencies, as a venv: cached until the closure changes.',
    `FROM ${o.baseImage} AS deps`,
    toolsEnv,
    copyLayer(o.depsLayer, 'deps'),
    venvFromLayer(python, 'deps', venv),
  );
  const taken = new Set<string>(['deps']);
  const stages = o.apps.map((app) => ({ app, name: stageName(app.name, taken) }));
  for (const { app, name } of stages) {
    lines.push(
      '',
      `# ${commentText(app.name)}'s first-party code, as a venv of its own.`,
      `FROM ${o.baseImage} AS srcs-${name}`,
      toolsEnv,
      copyLayer(app.srcsLayer, 'srcs'),
      venvFromLayer(python, 'srcs', venv),
    );
  }
  // The last stage is what `docker build` makes by default: the first application's image.
  for (const { app, name } of [...stages].reverse()) {
    lines.push(
      '',
      `# The image of ${commentText(app.name)}: dependencies first, sources last.`,
      `FROM ${o.baseImage} AS ${name}`,
      `COPY --from=deps ${jsonArray([venv, venv])}`,
      `COPY --from=srcs-${name} ${jsonArray([venv, venv])}`,
      `ENTRYPOINT ${jsonArray([`${venv}/pex`])}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A `.dockerignore` that sends Docker only the Dockerfile and the layers it copies. */
export function dockerignore(layers: readonly string[]): string {
  // Each name as a pattern that matches only itself: every ASCII character but letters, digits,
  // '.', '_', '-' and inner spaces escaped with a backslash (Docker's ignore patterns take the
  // others, `$`, `(`, `[`, `*`... as pattern syntax), a leading space too (it would be trimmed).
  const literal = (l: string) => l.replace(/[!-,/:-@[-^`{-~]/g, (c) => `\\${c}`).replace(/^ /, '\\ ');
  return ['# Only what the Dockerfile copies.', '*', '!Dockerfile', ...layers.map((l) => `!${literal(l)}`), ''].join('\n');
}
