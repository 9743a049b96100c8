/**
 * A PEP 691 index on 127.0.0.1 serving recorded project pages and core metadata (no wheels): the
 * data pip read when the oracle answers were recorded (test/oracle/index.json.gz). Its caching
 * headers are PyPI's: project pages `Cache-Control: max-age=600, public` with an ETag (a matching
 * If-None-Match gets 304), metadata files immutable for a year; pages give the metadata's sha256.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';

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

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Answers 200 with `body`, or 304 when the request's If-None-Match names its ETag (as PyPI does). */
function sendCached(req: IncomingMessage, res: ServerResponse, type: string, body: string, cacheControl: string): void {
  const etag = `"${sha256(body).slice(0, 32)}"`;
  const headers = { 'cache-control': cacheControl, etag };
  const asked = req.headers['if-none-match'];
  if (asked !== undefined && asked.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': type, ...headers });
  res.end(body);
}

export async function serveMetadata(data: OracleData): Promise<MetadataServer> {
  const requests: string[] = [];
  const metadata = new Map<string, string>();
  for (const [filename, text] of Object.entries(data.metadata)) metadata.set(releaseKey(filename), text);
  const metadataHash = new Map<string, string>();
  const hashOf = (key: string) => {
    let h = metadataHash.get(key);
    if (h === undefined) metadataHash.set(key, (h = sha256(metadata.get(key)!)));
    return h;
  };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    requests.push(path);
    const page = /^\/simple\/([^/]+)\/$/.exec(path);
    if (page && data.projects[page[1]!]) {
      const files = data.projects[page[1]!]!.map(([filename, requiresPython, yanked]) => ({
        filename,
        url: `/files/${encodeURIComponent(filename)}`,
        hashes: {},
        ...(requiresPython ? { 'requires-python': requiresPython } : {}),
        ...(yanked ? { yanked } : {}),
        ...(metadata.has(releaseKey(filename)) ? { 'core-metadata': { sha256: hashOf(releaseKey(filename)) } } : {}),
      }));
      const body = JSON.stringify({ meta: { 'api-version': '1.1' }, name: page[1], files });
      sendCached(req, res, 'application/vnd.pypi.simple.v1+json', body, 'max-age=600, public');
      return;
    }
    const meta = /^\/files\/(.+)\.metadata$/.exec(path);
    if (meta && metadata.has(releaseKey(meta[1]!))) {
      sendCached(req, res, 'text/plain', metadata.get(releaseKey(meta[1]!))!, 'max-age=365000000, immutable, public');
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
