import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { kebabCase, OPTIONS, type NxPexToolConfig, type OptionKind, type OptionSpec } from './option-registry';
import { UserError, canonicalizeName, lastParsePerFile, parseRequirement, poetryConstraintToPep440, type Requirement } from '@nx-pex/pep';

/** A `pyproject.toml` that is not valid TOML or not a valid project description. */
export class PyprojectError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'PyprojectError';
  }
}

/** One entry of `[tool.uv.sources]`. */
export interface UvSource {
  workspace?: boolean;
  path?: string;
  editable?: boolean;
  index?: string;
  git?: string;
  url?: string;
}

type ToolKind = OptionKind;

/** `[tool.nx-pex]` keys (the registry's fields in kebab-case) → field and value kind. */
export const NX_PEX_TOOL_KEYS: Readonly<Record<string, { field: keyof NxPexToolConfig; kind: ToolKind }>> = Object.fromEntries(
  (OPTIONS as readonly OptionSpec[]).filter((o) => o.toml).map((o) => [kebabCase(o.field), { field: o.field as keyof NxPexToolConfig, kind: o.kind }]),
);

function toolValue(key: string, kind: ToolKind, value: unknown, file: string): unknown {
  const where = `[tool.nx-pex] ${key}`;
  switch (kind.type) {
    case 'choice':
      if (typeof value !== 'string' || !kind.choices.includes(value)) {
        throw new PyprojectError(`${file}: ${where} must be one of ${kind.choices.map((k) => `"${k}"`).join(', ')}; it is ${JSON.stringify(value)}.`);
      }
      return value;
    case 'string':
      if (typeof value !== 'string' || value === '') throw new PyprojectError(`${file}: ${where} must be a non-empty string.`);
      return value;
    case 'strings':
      return stringList(value, where, file);
    case 'bool':
      if (typeof value !== 'boolean') throw new PyprojectError(`${file}: ${where} must be true or false.`);
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw new PyprojectError(`${file}: ${where} must be an integer.`);
      return value;
    case 'env': {
      if (!isTable(value) || Object.values(value).some((v) => typeof v !== 'string')) {
        throw new PyprojectError(`${file}: ${where} must be a table of strings (NAME = "value").`);
      }
      return { ...value };
    }
  }
}

/** The parts of a `pyproject.toml` that packaging needs. */
export interface PyProject {
  /** Absolute path of the `pyproject.toml`. */
  file: string;
  /** Absolute path of the directory holding it. */
  dir: string;
  /** `[project] name` as written, when there is a `[project]` table. */
  name?: string;
  /** PEP 503 form of `name`. */
  canonicalName?: string;
  version?: string;
  requiresPython?: string;
  /** `[project] dependencies`, parsed. */
  dependencies: Requirement[];
  /** `[project] dependencies` as written. */
  dependencyStrings: string[];
  /** `[project.scripts]`: console script name to `module:function`. */
  scripts: Record<string, string>;
  /** `[tool.uv.sources]`, keyed by canonical distribution name. */
  uvSources: Record<string, UvSource>;
  /** `[tool.uv.workspace]` when this file is a uv workspace root. */
  uvWorkspace?: { members: string[]; exclude: string[] };
  /** `[tool.nx-pex]`. */
  nxPex: NxPexToolConfig;
  /** The whole document, for readers of other tool tables. */
  raw: Record<string, unknown>;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function stringList(value: unknown, where: string, file: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new PyprojectError(`${file}: ${where} must be an array of strings.`);
  }
  return value as string[];
}

function optionalString(value: unknown, where: string, file: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new PyprojectError(`${file}: ${where} must be a string.`);
  return value;
}

/** `file:line` of a key of the [tool.nx-pex] table (as written at the start of a line), else `file`. */
function at(file: string, text: string, key: string): string {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((l) => /^\s*\[\s*tool\s*\.\s*(["']?)nx-pex\1\s*\]\s*(#.*)?$/.test(l));
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const keyLine = new RegExp(`^\\s*(["']?)${escaped}\\1\\s*=`);
  for (let i = start + 1; start >= 0 && i < lines.length && !/^\s*\[/.test(lines[i]); i++) {
    if (keyLine.test(lines[i])) return `${file}:${i + 1}`;
  }
  return file;
}

/** Parses a pyproject.toml's text; the same text of the same file is parsed once per process. */
export const parsePyproject: (text: string, file: string) => PyProject = lastParsePerFile(parsePyprojectText);

function parsePyprojectText(text: string, file: string): PyProject {
  const raw = parseTomlText(text, file);
  const project = raw.project;
  const tool = isTable(raw.tool) ? raw.tool : {};
  const result: PyProject = {
    file,
    dir: dirname(file),
    dependencies: [],
    dependencyStrings: [],
    scripts: {},
    uvSources: {},
    nxPex: {},
    raw,
  };
  if (project !== undefined) readProjectTable(result, project, file);
  const poetry = isTable(tool.poetry) ? tool.poetry : undefined;
  if (project === undefined && poetry && poetry.name !== undefined) readPoetryProject(result, poetry, file);
  readUvTables(result, isTable(tool.uv) ? tool.uv : {}, file);
  if (tool['nx-pex'] !== undefined) readNxPexTable(result, tool['nx-pex'], text, file);
  return result;
}

/** The TOML document, or an error naming the file, line and column of the syntax error. */
function parseTomlText(text: string, file: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0];
      throw new PyprojectError(`${file}:${err.line}:${err.column}: ${first}. Fix the TOML syntax at that line.`);
    }
    throw err;
  }
}

/** `[project]`: name, version, requires-python, dependencies and console scripts. */
function readProjectTable(result: PyProject, project: unknown, file: string): void {
  if (!isTable(project)) throw new PyprojectError(`${file}: [project] must be a table.`);
  const name = optionalString(project.name, '[project] name', file);
  if (!name) throw new PyprojectError(`${file}: [project] has no name. Add name = "..." to the [project] table.`);
  if (!/^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/.test(name)) {
    throw new PyprojectError(`${file}: [project] name "${name}" is not a valid distribution name (PEP 508).`);
  }
  result.name = name;
  result.canonicalName = canonicalizeName(name);
  result.version = optionalString(project.version, '[project] version', file);
  result.requiresPython = optionalString(project['requires-python'], '[project] requires-python', file);
  result.dependencyStrings = stringList(project.dependencies, '[project] dependencies', file);
  result.dependencies = result.dependencyStrings.map((spec, i) => {
    try {
      return parseRequirement(spec);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new PyprojectError(`${file}: [project] dependencies[${i}] "${spec}" is not a valid requirement: ${why}`);
    }
  });
  if (project.scripts !== undefined) {
    if (!isTable(project.scripts)) throw new PyprojectError(`${file}: [project.scripts] must be a table.`);
    for (const [script, target] of Object.entries(project.scripts)) {
      if (typeof target !== 'string' || !/^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?(\s*\[[^\]]*\])?$/.test(target.trim())) {
        throw new PyprojectError(
          `${file}: [project.scripts] ${script} = ${JSON.stringify(target)} is not an entry point; write "package.module:function".`,
        );
      }
      result.scripts[script] = target.trim();
    }
  }
}

/** `[tool.uv.sources]` (the kind of each source) and `[tool.uv.workspace]`. */
function readUvTables(result: PyProject, uv: Record<string, unknown>, file: string): void {
  if (uv.sources !== undefined) {
    if (!isTable(uv.sources)) throw new PyprojectError(`${file}: [tool.uv.sources] must be a table.`);
    for (const [dist, source] of Object.entries(uv.sources)) {
      // A list of sources (one per marker) is allowed by uv; nx-pex only needs the kinds.
      const first = Array.isArray(source) ? source[0] : source;
      if (!isTable(first)) throw new PyprojectError(`${file}: [tool.uv.sources] ${dist} must be a table.`);
      result.uvSources[canonicalizeName(dist)] = {
        workspace: first.workspace === true ? true : undefined,
        path: typeof first.path === 'string' ? first.path : undefined,
        editable: typeof first.editable === 'boolean' ? first.editable : undefined,
        index: typeof first.index === 'string' ? first.index : undefined,
        git: typeof first.git === 'string' ? first.git : undefined,
        url: typeof first.url === 'string' ? first.url : undefined,
      };
    }
  }
  if (uv.workspace !== undefined) {
    if (!isTable(uv.workspace)) throw new PyprojectError(`${file}: [tool.uv.workspace] must be a table.`);
    result.uvWorkspace = {
      members: stringList(uv.workspace.members, '[tool.uv.workspace] members', file),
      exclude: stringList(uv.workspace.exclude, '[tool.uv.workspace] exclude', file),
    };
  }
}

/** `[tool.nx-pex]`: every key known and of its kind, `scripts` naming only `[project.scripts]`; errors name the key's line. */
function readNxPexTable(result: PyProject, nxPex: unknown, text: string, file: string): void {
  if (!isTable(nxPex)) throw new PyprojectError(`${file}: [tool.nx-pex] must be a table.`);
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(nxPex)) {
    const spec = Object.prototype.hasOwnProperty.call(NX_PEX_TOOL_KEYS, key) ? NX_PEX_TOOL_KEYS[key] : undefined;
    if (!spec) {
      throw new PyprojectError(
        `${at(file, text, key)}: [tool.nx-pex] has an unknown key "${key}". Known keys: ${Object.keys(NX_PEX_TOOL_KEYS).join(', ')}.`,
      );
    }
    config[spec.field] = toolValue(key, spec.kind, value, file);
  }
  result.nxPex = config as NxPexToolConfig;
  for (const s of result.nxPex.scripts ?? []) {
    if (!(s in result.scripts)) {
      throw new PyprojectError(`${at(file, text, 'scripts')}: [tool.nx-pex] scripts names "${s}", which is not in [project.scripts].`);
    }
  }
}

/**
 * A Poetry 1 project (`[tool.poetry]` without `[project]`): its name, version, Python
 * requirement, dependencies (Poetry's constraints as PEP 440; optional ones are left to extras)
 * and console scripts. Its package list (`[tool.poetry] packages`) is read with the sources.
 */
function readPoetryProject(result: PyProject, poetry: Record<string, unknown>, file: string): void {
  const name = optionalString(poetry.name, '[tool.poetry] name', file)!;
  if (!/^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/.test(name)) {
    throw new PyprojectError(`${file}: [tool.poetry] name "${name}" is not a valid distribution name (PEP 508).`);
  }
  result.name = name;
  result.canonicalName = canonicalizeName(name);
  result.version = optionalString(poetry.version, '[tool.poetry] version', file);
  const deps = poetry.dependencies ?? {};
  if (!isTable(deps)) throw new PyprojectError(`${file}: [tool.poetry.dependencies] must be a table.`);
  for (const [dep, value] of Object.entries(deps)) {
    const where = `[tool.poetry.dependencies] ${dep}`;
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) {
      let constraint: string;
      let extras: string[] = [];
      let marker: string | undefined;
      if (typeof item === 'string') constraint = item;
      else if (isTable(item)) {
        if (item.optional === true) continue;
        if (item.path !== undefined || item.git !== undefined || item.url !== undefined) {
          constraint = '*';
        } else constraint = typeof item.version === 'string' ? item.version : '*';
        extras = stringList(item.extras, `${where} extras`, file);
        marker = typeof item.markers === 'string' ? item.markers : undefined;
        if (typeof item.python === 'string') {
          const py = poetryConstraintToPep440(item.python);
          if (py) {
            const pm = py.split(',').map((c) => { const m = /^(===|==|!=|<=|>=|~=|<|>)(.+)$/.exec(c)!; return `python_version ${m[1]} "${m[2]}"`; }).join(' and ');
            marker = marker ? `(${marker}) and (${pm})` : pm;
          }
        }
      } else throw new PyprojectError(`${file}: ${where} must be a version constraint or a table.`);
      if (dep.toLowerCase() === 'python') {
        result.requiresPython = poetryConstraintToPep440(constraint) || undefined;
        continue;
      }
      const spec = poetryConstraintToPep440(constraint);
      if (spec === undefined) {
        throw new PyprojectError(`${file}: ${where} = "${constraint}" has alternatives (||), which nx-pex cannot turn into a PEP 440 specifier; write one range.`);
      }
      const text = `${dep}${extras.length ? `[${extras.join(',')}]` : ''}${spec}${marker ? ` ; ${marker}` : ''}`;
      try {
        result.dependencies.push(parseRequirement(text));
      } catch (err) {
        throw new PyprojectError(`${file}: ${where} is not a valid requirement (${text}): ${err instanceof Error ? err.message : String(err)}`);
      }
      result.dependencyStrings.push(text);
    }
  }
  const scripts = poetry.scripts ?? {};
  if (!isTable(scripts)) throw new PyprojectError(`${file}: [tool.poetry.scripts] must be a table.`);
  for (const [script, target] of Object.entries(scripts)) {
    const ref = typeof target === 'string' ? target : isTable(target) && typeof target.reference === 'string' && (target.type ?? 'console') === 'console' ? target.reference : isTable(target) && typeof target.callable === 'string' ? target.callable : undefined;
    if (ref === undefined) continue; // file scripts are not entry points
    if (!/^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?(\s*\[[^\]]*\])?$/.test(ref.trim())) {
      throw new PyprojectError(`${file}: [tool.poetry.scripts] ${script} = ${JSON.stringify(ref)} is not an entry point; write "package.module:function".`);
    }
    result.scripts[script] = ref.trim();
  }
}

/** Reads and parses a `pyproject.toml`. */
export async function readPyproject(file: string): Promise<PyProject> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PyprojectError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
  }
  return parsePyproject(text, file);
}

/** The console scripts a project builds: `[tool.nx-pex] scripts` when given, else all of `[project.scripts]`, sorted. */
export function buildableScripts(project: PyProject): string[] {
  return [...(project.nxPex.scripts ?? Object.keys(project.scripts))].sort();
}
