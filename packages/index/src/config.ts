import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseIni, PipConfigError } from './ini';

export const DEFAULT_INDEX_URL = 'https://pypi.org/simple';

/** Where packages come from, as pip would see it. */
export interface IndexConfig {
  indexUrl: string;
  extraIndexUrls: string[];
  findLinks: string[];
  noIndex: boolean;
  certFile?: string;
  trustedHosts: string[];
  /**
   * Indexes known by name (`[tool.uv.index]`, `UV_INDEX=name=url`): their
   * credentials may come from `UV_INDEX_<NAME>_USERNAME` / `_PASSWORD`.
   */
  namedIndexes?: NamedIndex[];
  /**
   * Contact no host but the configured indexes and find-links locations (pex's `--no-pypi`;
   * implied by `noIndex`): a file a lock names elsewhere is not fetched from there.
   */
  onlyConfiguredHosts?: boolean;
}

/** An index with a name, as uv declares them. */
export interface NamedIndex {
  name: string;
  url: string;
}

export interface ReadPipConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Home directory (default: $HOME, else the OS's). */
  home?: string;
  /** Directory relative find-links / cert paths are resolved against (default: process.cwd()). */
  cwd?: string;
  /** pip command whose section overrides [global] (default "install"). */
  command?: 'install' | 'download';
  /** System configuration directory holding pip.conf (default "/etc"). */
  etcDir?: string;
}

export function defaultIndexConfig(): IndexConfig {
  return { indexUrl: DEFAULT_INDEX_URL, extraIndexUrls: [], findLinks: [], noIndex: false, trustedHosts: [] };
}

/** pip's `_normalize_name`: lower case, `_` to `-`, no leading `--`. */
function normalizeKey(name: string): string {
  const n = name.toLowerCase().replace(/_/g, '-');
  return n.startsWith('--') ? n.slice(2) : n;
}

/** pip's `strtobool`. */
function parseBool(value: string, key: string, origin: string): boolean {
  const v = value.toLowerCase();
  if (['y', 'yes', 't', 'true', 'on', '1'].includes(v)) return true;
  if (['n', 'no', 'f', 'false', 'off', '0'].includes(v)) return false;
  throw new PipConfigError(`${origin}: ${JSON.stringify(value)} is not a valid value for ${key}; use yes/no, true/false or 1/0.`);
}

/** The configuration files pip reads, in override order (later wins). */
export function pipConfigFiles(opts: ReadPipConfigOptions = {}): { variant: string; file: string }[] {
  const env = opts.env ?? process.env;
  const home = opts.home ?? env.HOME ?? os.homedir();
  const etc = opts.etcDir ?? '/etc';
  const expand = (p: string) => (p === '~' || p.startsWith('~/') ? path.join(home, p.slice(1)) : p);
  const configFile = env.PIP_CONFIG_FILE;
  const files: { variant: string; file: string }[] = [];
  const xdgDirs = (env.XDG_CONFIG_DIRS ?? '').trim() ? env.XDG_CONFIG_DIRS!.split(':') : [path.join(etc, 'xdg')];
  for (const d of xdgDirs) files.push({ variant: 'global', file: path.join(expand(d), 'pip', 'pip.conf') });
  files.push({ variant: 'global', file: path.join(etc, 'pip.conf') });
  // pip skips the user files when PIP_CONFIG_FILE names an existing file; the caller checks existence.
  const xdgHome = (env.XDG_CONFIG_HOME ?? '').trim() ? expand(env.XDG_CONFIG_HOME!) : path.join(home, '.config');
  files.push({ variant: 'user', file: path.join(home, '.pip', 'pip.conf') });
  files.push({ variant: 'user', file: path.join(xdgHome, 'pip', 'pip.conf') });
  if (env.VIRTUAL_ENV) files.push({ variant: 'site', file: path.join(env.VIRTUAL_ENV, 'pip.conf') });
  if (configFile) files.push({ variant: 'env', file: configFile });
  return files;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw new PipConfigError(`Cannot read pip configuration ${file}: ${(e as Error).message}`);
  }
}

const isUrl = (s: string) => /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(s);

/**
 * pip's index settings, read as pip reads them: every configuration file in
 * pip's order (global, user, site, PIP_CONFIG_FILE), each file's [global]
 * section overridden by the command's section, then PIP_* environment variables.
 */
export async function readPipConfig(opts: ReadPipConfigOptions = {}): Promise<IndexConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const home = opts.home ?? env.HOME ?? os.homedir();
  const command = opts.command ?? 'install';
  // "section.key" -> value and where it came from; a later source replaces an
  // earlier one but keeps its position, as a Python dict update does.
  const merged = new Map<string, { value: string; origin: string }>();

  const configFile = env.PIP_CONFIG_FILE;
  if (configFile !== os.devNull) {
    const configFileExists = configFile ? (await readIfExists(configFile)) !== undefined : false;
    for (const { variant, file } of pipConfigFiles(opts)) {
      if (variant === 'user' && configFileExists) continue;
      const text = await readIfExists(file);
      if (text === undefined) continue;
      for (const [section, items] of parseIni(text, file)) {
        for (const [name, value] of items) merged.set(`${section}.${normalizeKey(name)}`, { value, origin: file });
      }
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PIP_') || value === undefined) continue;
    const key = name.slice(4).toLowerCase();
    if (key === 'version' || key === 'help') continue;
    merged.set(`:env:.${normalizeKey(key)}`, { value, origin: `environment variable ${name}` });
  }

  const config = defaultIndexConfig();
  const expandPath = (p: string) => path.resolve(cwd, p === '~' || p.startsWith('~/') ? path.join(home, p.slice(1)) : p);
  const asLocation = (s: string) => (isUrl(s) ? s : expandPath(s));
  const split = (v: string) => v.split(/\s+/).filter(Boolean);
  for (const section of ['global', command, ':env:']) {
    for (const [sectionKey, { value, origin }] of merged) {
      if (!value) continue; // pip ignores empty values
      const dot = sectionKey.indexOf('.', section === ':env:' ? 5 : 0);
      if (sectionKey.slice(0, dot) !== section) continue;
      const key = sectionKey.slice(dot + 1);
      switch (key) {
        case 'index-url':
        case 'pypi-url':
          config.indexUrl = isUrl(value) ? value : pathToFileURL(expandPath(value)).href;
          break;
        case 'extra-index-url':
          config.extraIndexUrls = split(value).map((v) => (isUrl(v) ? v : pathToFileURL(expandPath(v)).href));
          break;
        case 'find-links':
          config.findLinks = split(value).map(asLocation);
          break;
        case 'no-index':
          config.noIndex = parseBool(value, key, origin);
          break;
        case 'cert':
          config.certFile = expandPath(value);
          break;
        case 'trusted-host':
          config.trustedHosts = split(value);
          break;
      }
    }
  }
  return config;
}
