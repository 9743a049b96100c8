import type { Parser as HtmlParser } from 'htmlparser2';
import { IndexResponseError } from './errors';
import { redactUrl, splitCredentials } from './redact';

/** One downloadable file of a project, as an index or find-links location lists it. */
export interface DistributionFile {
  filename: string;
  /** Absolute URL, without credentials (the client adds them for the index's host). */
  url: string;
  sha256?: string;
  requiresPython?: string;
  /** PEP 592: the reason, or `true` when no reason was given. */
  yanked?: string | true;
  /** PEP 658/714: whether `<url>.metadata` exists, and its hash when known. */
  coreMetadata?: boolean | { sha256?: string };
  size?: number;
  /** The index or find-links location the file was listed by (redacted). */
  source: string;
}

const ARCHIVE_SUFFIXES = ['.whl', '.tar.gz', '.zip', '.tar.bz2', '.tbz', '.tgz', '.tar.xz', '.txz', '.tlz', '.tar.lz', '.tar.lzma', '.tar'];

export function isArchiveFilename(filename: string): boolean {
  const f = filename.toLowerCase();
  return ARCHIVE_SUFFIXES.some((s) => f.endsWith(s));
}

const SHA256 = /^[0-9a-fA-F]{64}$/;

function hashFromFragment(hash: string): string | undefined {
  const m = /^#sha256=([0-9a-fA-F]{64})$/.exec(hash);
  return m ? m[1].toLowerCase() : undefined;
}

function cleanUrl(u: URL): string {
  const copy = new URL(u.href);
  copy.hash = '';
  return splitCredentials(copy.href).url;
}

function filenameOf(u: URL): string {
  const last = u.pathname.split('/').pop() ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/**
 * A file name from an index must be a plain name: no directory parts, no
 * `..`, no control characters (it may end up in a local path).
 */
function checkFilename(filename: string, pageUrl: string): string {
  if (/[\/\\\x00-\x1f]/.test(filename) || filename === '.' || filename === '..') {
    throw new IndexResponseError(
      `${redactUrl(pageUrl)} lists a file named ${JSON.stringify(filename)}, which is not a plain file name ` +
        `(it holds a path or control characters); refusing to use this index page. Check the index.`,
    );
  }
  return filename;
}

/** `data-core-metadata` / `data-dist-info-metadata` (PEP 658, PEP 714). */
function parseMetadataAttr(value: string | undefined): DistributionFile['coreMetadata'] {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === 'true' || v === '') return true;
  if (v === 'false') return false;
  const m = /^([A-Za-z0-9_]+)=(.*)$/.exec(v);
  if (!m) return true;
  return m[1].toLowerCase() === 'sha256' && SHA256.test(m[2]) ? { sha256: m[2].toLowerCase() } : {};
}

/**
 * The files of a PEP 503 HTML page (a simple-index project page, or any
 * find-links page): every `<a href>` to an archive, resolved against the page
 * URL or its `<base href>`.
 */
export function parseHtmlPage(html: string, pageUrl: string, source: string = redactUrl(pageUrl)): DistributionFile[] {
  if (html.includes('\u0000') || (html.trim() !== '' && !/<[a-zA-Z!/]/.test(html))) {
    throw new IndexResponseError(
      `${redactUrl(pageUrl)} did not return an HTML page (${html.includes('\u0000') ? 'binary data' : 'no markup'}); ` +
        `check that the URL points to a PEP 503 simple index or a find-links page.`,
    );
  }
  let base: string | undefined;
  const anchors: Record<string, string>[] = [];
  // Loaded when a page is first parsed (a warm build parses none).
  const { Parser } = require('htmlparser2') as { Parser: typeof HtmlParser };
  const parser = new Parser(
    {
      onopentag(name, attribs) {
        if (name === 'base' && base === undefined && attribs.href) base = attribs.href;
        if (name === 'a' && attribs.href !== undefined) anchors.push(attribs);
      },
    },
    { decodeEntities: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  const baseUrl = base !== undefined ? new URL(base, pageUrl).href : pageUrl;
  const files: DistributionFile[] = [];
  for (const a of anchors) {
    let u: URL;
    try {
      u = new URL(a.href.trim(), baseUrl);
    } catch {
      continue;
    }
    const filename = filenameOf(u);
    if (!filename || !isArchiveFilename(filename)) continue;
    const file: DistributionFile = { filename: checkFilename(filename, pageUrl), url: cleanUrl(u), source };
    const sha256 = hashFromFragment(u.hash);
    if (sha256) file.sha256 = sha256;
    const rp = a['data-requires-python'];
    if (rp !== undefined && rp.trim()) file.requiresPython = rp.trim();
    const yanked = a['data-yanked'];
    if (yanked !== undefined) file.yanked = yanked.trim() ? yanked.trim() : true;
    const meta = parseMetadataAttr(a['data-core-metadata'] ?? a['data-dist-info-metadata']);
    if (meta !== undefined) file.coreMetadata = meta;
    files.push(file);
  }
  return files;
}

interface JsonFile {
  filename?: unknown;
  url?: unknown;
  hashes?: Record<string, unknown>;
  'requires-python'?: unknown;
  yanked?: unknown;
  'core-metadata'?: unknown;
  'dist-info-metadata'?: unknown;
  size?: unknown;
}

function jsonMetadata(value: unknown): DistributionFile['coreMetadata'] {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'object') {
    const sha = (value as Record<string, unknown>).sha256;
    return typeof sha === 'string' && SHA256.test(sha) ? { sha256: sha.toLowerCase() } : {};
  }
  return undefined;
}

/** The files of a PEP 691 JSON project page (API version 1.x). */
export function parseJsonPage(text: string, pageUrl: string, source: string = redactUrl(pageUrl)): DistributionFile[] {
  let doc: { meta?: { 'api-version'?: unknown }; files?: unknown };
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new IndexResponseError(`${redactUrl(pageUrl)} returned invalid JSON: ${(e as Error).message}`);
  }
  const version = doc?.meta?.['api-version'];
  if (typeof version !== 'string' || !/^1(\.|$)/.test(version)) {
    throw new IndexResponseError(
      `${redactUrl(pageUrl)} uses simple API version ${JSON.stringify(version)}; only 1.x (PEP 691) is supported.`,
    );
  }
  if (!Array.isArray(doc.files)) throw new IndexResponseError(`${redactUrl(pageUrl)} returned a JSON page without "files".`);
  const files: DistributionFile[] = [];
  for (const f of doc.files as JsonFile[]) {
    if (typeof f?.url !== 'string') continue;
    let u: URL;
    try {
      u = new URL(f.url, pageUrl);
    } catch {
      continue;
    }
    const filename = typeof f.filename === 'string' && f.filename ? f.filename : filenameOf(u);
    const file: DistributionFile = { filename: checkFilename(filename, pageUrl), url: cleanUrl(u), source };
    const sha = f.hashes?.sha256;
    if (typeof sha === 'string' && SHA256.test(sha)) file.sha256 = sha.toLowerCase();
    if (typeof f['requires-python'] === 'string' && f['requires-python'].trim()) file.requiresPython = f['requires-python'].trim();
    if (f.yanked === true || (typeof f.yanked === 'string' && f.yanked === '')) file.yanked = true;
    else if (typeof f.yanked === 'string') file.yanked = f.yanked;
    const meta = jsonMetadata(f['core-metadata'] ?? f['dist-info-metadata']);
    if (meta !== undefined) file.coreMetadata = meta;
    if (typeof f.size === 'number' && Number.isFinite(f.size)) file.size = f.size;
    files.push(file);
  }
  return files;
}
