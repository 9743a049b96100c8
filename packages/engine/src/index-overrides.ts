/** pex's index flags (`--index-url`, `--find-links`, `--no-pypi`) applied over pip's configuration. */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { DEFAULT_INDEX_URL, type IndexConfig } from '@nx-pex/index';

/** Index settings from pex's flags: `--index-url`, `--find-links`, `--no-pypi`. */
export interface IndexOverrides {
  /** `-i/--index-url` (repeatable): indexes used besides PyPI (instead of it with `noPypi`). */
  indexUrls?: string[];
  /** `-f/--find-links` (repeatable): added to the configured find-links. */
  findLinks?: string[];
  /** `--no-pypi`: leave PyPI out. */
  noPypi?: boolean;
}

const isUrl = (s: string) => /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(s);

/**
 * pip's configuration with pex's index flags applied: given any of `--index-url` or
 * `--no-pypi`, the indexes are pex's (PyPI unless `--no-pypi`, then each `--index-url`) instead
 * of pip's; `--find-links` locations come first among the find-links.
 */
export function applyIndexOverrides(config: IndexConfig, o: IndexOverrides | undefined, cwd = process.cwd()): IndexConfig {
  if (!o) return config;
  const out: IndexConfig = { ...config };
  if (o.indexUrls?.length || o.noPypi) {
    const indexes = [...(o.noPypi ? [] : [DEFAULT_INDEX_URL]), ...(o.indexUrls ?? []).map((u) => (isUrl(u) ? u : pathToFileURL(resolve(cwd, u)).href))];
    out.indexUrl = indexes[0] ?? DEFAULT_INDEX_URL;
    out.extraIndexUrls = indexes.slice(1);
    out.noIndex = indexes.length === 0;
    if (o.noPypi) out.onlyConfiguredHosts = true;
  }
  if (o.findLinks?.length) {
    out.findLinks = [...o.findLinks.map((l) => (isUrl(l) ? l : resolve(cwd, l))), ...config.findLinks];
  }
  return out;
}
