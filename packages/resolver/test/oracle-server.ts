/**
 * A PEP 691 index on 127.0.0.1 serving recorded project pages and core metadata (no wheels unless
 * asked): the data pip read when the oracle answers were recorded (test/oracle/index.json.gz). Its
 * caching headers are PyPI's: project pages `Cache-Control: max-age=600, public` with an ETag (a
 * matching If-None-Match gets 304), metadata files immutable for a year; pages give the metadata's sha256.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { synthesizeWheel } from './synthesized-wheel';

export interface OracleData {
  /** project -> [filename, requires-python, yanked reason] */
  projects: Record<string, [string, string | null, string | null][]>;
  /** wheel filename -> core metadata headers */
  metadata: Record<string, string>;
}

export function readOracleData(): OracleData {
  return JSON.parse(gunzipSync(readFileSync(join(__dirname, 'oracle', 'index.json.gz'))).toString('utf8')) as OracleData;
}

export interface MetadataServer {
  url: string;
  /** Paths asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Wheels of one version share their metadata: the data keeps one copy, found by name and version. */
function releaseKey(filename: string): string {
  const [name, version] = filename.split('-');
  return `${name!.toLowerCase().replace(/[-_.]+/g, '_')}-${version}`;
}

export interface ServeOptions {
  /**
   * Also serve each wheel that has metadata, as a wheel synthesised from it (METADATA, WHEEL and
   * RECORD only), and list its sha256 and size on the project page as PyPI lists a real one's: for
   * tools that record hashes (a lock) without reading the file. Off: pages list no hashes.
   */
  wheels?: boolean;
}

/**
 * Answers as PyPI's CDN does: a strong ETag of the body and the given `Cache-Control`, and
 * `304 Not Modified` to a request whose If-None-Match names the current ETag, so that HTTP caches
 * (uv's, pip's, nx-pex's) behave as they do against PyPI.
 */
function send(req: IncomingMessage, res: ServerResponse, type: string, body: string | Buffer, cacheControl = 'max-age=600, public'): void {
  const etag = `"${sha256(body).slice(0, 32)}"`;
  const headers = { 'content-type': type, etag, 'cache-control': cacheControl };
  const match = req.headers['if-none-match'];
  if (match && match.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

const sha256 = (body: string | Buffer) => createHash('sha256').update(body).digest('hex');
const IMMUTABLE = 'max-age=365000000, immutable, public';

export async function serveMetadata(data: OracleData, options: ServeOptions = {}): Promise<MetadataServer> {
  const requests: string[] = [];
  const metadata = new Map<string, string>();
  for (const [filename, text] of Object.entries(data.metadata)) metadata.set(releaseKey(filename), text);
  const metadataHash = new Map<string, string>();
  const hashOf = (key: string) => {
    let h = metadataHash.get(key);
    if (h === undefined) metadataHash.set(key, (h = sha256(metadata.get(key)!)));
    return h;
  };
  const wheels = new Map<string, { bytes: Buffer; sha256: string }>();
  if (options.wheels) {
    for (const files of Object.values(data.projects)) {
      for (const [filename] of files) {
        const text = metadata.get(releaseKey(filename));
        if (!filename.endsWith('.whl') || text === undefined) continue;
        const bytes = synthesizeWheel(filename, text);
        wheels.set(filename, { bytes, sha256: sha256(bytes) });
      }
    }
  }
  const pages = new Map<string, string>();
  const pageOf = (project: string): string => {
    let body = pages.get(project);
    if (body === undefined) {
      const files = data.projects[project]!.map(([filename, requiresPython, yanked]) => {
        const wheel = wheels.get(filename);
        return {
          filename,
          url: `/files/${encodeURIComponent(filename)}`,
          hashes: wheel ? { sha256: wheel.sha256 } : {},
          ...(wheel ? { size: wheel.bytes.length } : {}),
          ...(requiresPython ? { 'requires-python': requiresPython } : {}),
          ...(yanked ? { yanked } : {}),
          ...(metadata.has(releaseKey(filename)) ? { 'core-metadata': { sha256: hashOf(releaseKey(filename)) } } : {}),
        };
      });
      body = JSON.stringify({ meta: { 'api-version': '1.1' }, name: project, files });
      pages.set(project, body);
    }
    return body;
  };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    requests.push(path);
    const page = /^\/simple\/([^/]+)\/$/.exec(path);
    if (page && data.projects[page[1]!]) {
      send(req, res, 'application/vnd.pypi.simple.v1+json', pageOf(page[1]!));
      return;
    }
    const meta = /^\/files\/(.+)\.metadata$/.exec(path);
    if (meta && metadata.has(releaseKey(meta[1]!))) {
      send(req, res, 'text/plain', metadata.get(releaseKey(meta[1]!))!, IMMUTABLE);
      return;
    }
    const wheel = /^\/files\/([^/]+\.whl)$/.exec(path);
    if (wheel && wheels.has(wheel[1]!)) {
      send(req, res, 'application/octet-stream', wheels.get(wheel[1]!)!.bytes, IMMUTABLE);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/simple`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
