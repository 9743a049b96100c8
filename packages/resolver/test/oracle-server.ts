/**
 * A PEP 691 index on 127.0.0.1 serving recorded project pages and core metadata (no wheels): the
 * data pip read when the oracle answers were recorded (test/oracle/index.json.gz).
 */
import { createServer, type Server } from 'node:http';
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

export async function serveMetadata(data: OracleData): Promise<MetadataServer> {
  const requests: string[] = [];
  const metadata = new Map<string, string>();
  for (const [filename, text] of Object.entries(data.metadata)) metadata.set(releaseKey(filename), text);
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
        ...(metadata.has(releaseKey(filename)) ? { 'core-metadata': true } : {}),
      }));
      res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' });
      res.end(JSON.stringify({ meta: { 'api-version': '1.1' }, name: page[1], files }));
      return;
    }
    const meta = /^\/files\/(.+)\.metadata$/.exec(path);
    if (meta && metadata.has(releaseKey(meta[1]!))) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(metadata.get(releaseKey(meta[1]!)));
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
