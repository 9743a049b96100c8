import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { DEFAULT_INDEX_URL, IndexConfig, NamedIndex, readPipConfig, ReadPipConfigOptions } from './config';
import { PipConfigError } from './ini';

/** One `[[tool.uv.index]]` entry of a pyproject.toml. */
export interface UvIndex {
  name?: string;
  url: string;
  /** Replaces PyPI as the default index. */
  default: boolean;
  /** Used only by packages pinned to it (`[tool.uv.sources]`), never searched otherwise. */
  explicit: boolean;
}

const isUrl = (s: string) => /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(s);

function asUrl(value: string, baseDir: string): string {
  return isUrl(value) ? value : pathToFileURL(path.resolve(baseDir, value)).href;
}

/** `[[tool.uv.index]]` of a pyproject.toml; an empty list when the file or table is absent. */
export async function readUvIndexes(pyprojectFile: string): Promise<UvIndex[]> {
  let text: string;
  try {
    text = await fs.readFile(pyprojectFile, 'utf8');
  } catch {
    return [];
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    throw new PipConfigError(`${pyprojectFile}: invalid TOML: ${(e as Error).message.split('\n')[0]}`);
  }
  const tool = doc.tool as Record<string, unknown> | undefined;
  const uv = tool?.uv as Record<string, unknown> | undefined;
  const list = uv?.index;
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new PipConfigError(`${pyprojectFile}: [tool.uv] index must be an array of tables ([[tool.uv.index]]).`);
  const dir = path.dirname(pyprojectFile);
  return list.map((entry, i) => {
    const e = entry as Record<string, unknown>;
    if (typeof e?.url !== 'string' || !e.url) {
      throw new PipConfigError(`${pyprojectFile}: [[tool.uv.index]] entry ${i + 1} has no url.`);
    }
    return {
      ...(typeof e.name === 'string' ? { name: e.name } : {}),
      url: asUrl(e.url, dir),
      default: e.default === true,
      explicit: e.explicit === true,
    };
  });
}

/** `UV_INDEX`: whitespace-separated `[name=]url` entries. */
export function parseUvIndexEnv(value: string | undefined, cwd: string): { name?: string; url: string }[] {
  return (value ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((item) => {
      const m = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(item);
      // `name=url`, but not a bare URL whose query string holds "=".
      if (m && !isUrl(item)) return { name: m[1], url: asUrl(m[2], cwd) };
      return { url: asUrl(item, cwd) };
    });
}

/** The environment variable prefix uv uses for a named index's credentials: `UV_INDEX_<NAME>_`. */
export function uvIndexEnvPrefix(name: string): string {
  return `UV_INDEX_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_`;
}

export interface ReadIndexConfigOptions extends ReadPipConfigOptions {
  /** Directory of the workspace root `pyproject.toml` whose `[[tool.uv.index]]` entries count (usually the lock's directory). */
  projectRoot?: string;
}

const trim = (u: string) => u.replace(/\/+$/, '');

/**
 * Where packages come from, from pip's and uv's settings together:
 *
 * - index URL: `PIP_INDEX_URL`, else `UV_DEFAULT_INDEX`, else `UV_INDEX_URL`,
 *   else pip.conf `index-url`, else the `[[tool.uv.index]]` marked
 *   `default = true`, else PyPI;
 * - extra indexes (all searched): pip's (`PIP_EXTRA_INDEX_URL`, else
 *   pip.conf), then `UV_INDEX`, `UV_EXTRA_INDEX_URL`, then the other
 *   non-explicit `[[tool.uv.index]]` entries;
 * - find-links: pip's (`PIP_FIND_LINKS`, else pip.conf), then `UV_FIND_LINKS`;
 * - no-index: pip's, or `UV_NO_INDEX`;
 * - CA bundle: `PIP_CERT` / pip.conf `cert`, else `REQUESTS_CA_BUNDLE`,
 *   else `SSL_CERT_FILE`.
 */
export async function readIndexConfig(opts: ReadIndexConfigOptions = {}): Promise<IndexConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const config = await readPipConfig(opts);
  const uvIndexes = opts.projectRoot ? await readUvIndexes(path.join(opts.projectRoot, 'pyproject.toml')) : [];
  const envIndexes = parseUvIndexEnv(env.UV_INDEX, cwd);
  const set = (v: string | undefined) => (v && v.trim() ? v.trim() : undefined);

  const uvDefault = set(env.UV_DEFAULT_INDEX) ?? set(env.UV_INDEX_URL);
  if (!set(env.PIP_INDEX_URL)) {
    if (uvDefault) config.indexUrl = asUrl(uvDefault, cwd);
    else if (trim(config.indexUrl) === DEFAULT_INDEX_URL) {
      const d = uvIndexes.find((i) => i.default);
      if (d) config.indexUrl = d.url;
    }
  }
  const extra = [
    ...config.extraIndexUrls,
    ...envIndexes.map((i) => i.url),
    ...(set(env.UV_EXTRA_INDEX_URL) ?? '').split(/\s+/).filter(Boolean).map((u) => asUrl(u, cwd)),
    ...uvIndexes.filter((i) => !i.default && !i.explicit).map((i) => i.url),
  ];
  const seen = new Set([trim(config.indexUrl)]);
  config.extraIndexUrls = extra.filter((u) => !seen.has(trim(u)) && seen.add(trim(u)));
  const uvFindLinks = (set(env.UV_FIND_LINKS) ?? '').split(/[\s,]+/).filter(Boolean);
  config.findLinks = [...config.findLinks, ...uvFindLinks.map((l) => (isUrl(l) ? l : path.resolve(cwd, l)))];
  if (/^(1|true|yes|on)$/i.test(env.UV_NO_INDEX ?? '')) config.noIndex = true;
  if (!config.certFile) {
    const ca = set(env.REQUESTS_CA_BUNDLE) ?? set(env.SSL_CERT_FILE);
    if (ca) config.certFile = path.resolve(cwd, ca);
  }
  const named: NamedIndex[] = [];
  for (const i of [...envIndexes, ...uvIndexes]) if (i.name) named.push({ name: i.name, url: i.url });
  config.namedIndexes = named;
  return config;
}
