import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { canonicalizeName } from '@nx-pex/pep';
import { ServedFile, scanDir } from './wheels';

/**
 * A misbehaviour for one request path (e.g. `/files/foo-1.0-py3-none-any.whl`
 * or `/simple/foo/`), for tests of the client's error handling.
 */
export type Fault = (
  /** Send the body in `chunkBytes` pieces, `delayMs` apart. */
  | { kind: 'slow'; chunkBytes?: number; delayMs: number }
  /** Announce the full Content-Length, then close the connection after `afterBytes`. */
  | { kind: 'truncate'; afterBytes: number }
  /** Answer with `status` (and a `Retry-After` header when given). */
  | { kind: 'status'; status: number; retryAfter?: string }
  /** Close the connection without answering. */
  | { kind: 'reset' }
  /** Serve the file with one byte changed: same size, different sha256. */
  | { kind: 'wrong-hash' }
  /** Serve these bytes instead of the file (a changed file behind the same URL). */
  | { kind: 'body'; body: Buffer; contentType?: string }
) & {
  /** Apply to the next `times` requests only (all of them when absent). */
  times?: number;
};

/**
 * A fault from its command-line spelling: `500`, `429:2` (with Retry-After: 2),
 * `reset`, `truncate:BYTES`, `wrong-hash`, `slow:MS`; a `@N` suffix applies it N times.
 */
export function parseFault(spec: string): Fault {
  const [body, timesText] = spec.split('@');
  const times = timesText !== undefined ? Number(timesText) : undefined;
  const [kind, arg] = body.split(':');
  const withTimes = (f: Fault): Fault => (times !== undefined && Number.isInteger(times) ? { ...f, times } : f);
  if (/^\d{3}$/.test(kind)) return withTimes({ kind: 'status', status: Number(kind), ...(arg ? { retryAfter: arg } : {}) });
  if (kind === 'reset') return withTimes({ kind: 'reset' });
  if (kind === 'wrong-hash') return withTimes({ kind: 'wrong-hash' });
  if (kind === 'truncate') return withTimes({ kind: 'truncate', afterBytes: Number(arg ?? 1024) });
  if (kind === 'slow') return withTimes({ kind: 'slow', delayMs: Number(arg ?? 100) });
  throw new Error(
    `unknown fault ${JSON.stringify(spec)}: use STATUS[:RETRY_AFTER], reset, truncate:BYTES, wrong-hash or slow:MS, optionally followed by @TIMES`,
  );
}

export interface IndexServerOptions {
  /** Directory of .whl / .tar.gz files (read on every request, so tests may add files). */
  dir: string;
  port?: number;
  host?: '127.0.0.1';
  basicAuth?: { username: string; password: string };
  /** PEP 592: file name -> yank reason (`true` for none). */
  yanked?: Record<string, string | true>;
  /** Links in project pages: relative to the page (default) or absolute URLs. */
  links?: 'relative' | 'absolute';
  /** Page formats offered: both (default), or only PEP 503 HTML (answered as text/html whatever the Accept header). */
  formats?: 'html+json' | 'html';
  /** Misbehaviours by request path; also changeable later through `IndexServer.faults`. */
  faults?: Record<string, Fault>;
  /** A fault for every file download that has none of its own (e.g. every wheel slow). */
  fileFault?: Fault;
  /** Offer PEP 658 metadata files (default true). */
  metadataFiles?: boolean;
  /** Answer Range requests (default true); false answers every file download whole, as some servers do. */
  ranges?: boolean;
  /**
   * A lying index: file name -> the PEP 658 `.metadata` served (and hashed in the pages) instead
   * of the wheel's own METADATA.
   */
  metadataOverrides?: Record<string, string | Buffer>;
}

export interface IndexServer {
  /** `http://127.0.0.1:PORT/simple` */
  url: string;
  /** Every request received, in order, with the bytes of response body sent for it so far. */
  requests: Array<{ method: string; path: string; bytes: number; range?: string }>;
  faults: Map<string, Fault>;
  close(): Promise<void>;
}

const JSON_V1 = 'application/vnd.pypi.simple.v1+json';
const HTML_V1 = 'application/vnd.pypi.simple.v1+html';
const HTML = 'text/html';

/**
 * The best of the simple API's media types for an Accept header, or undefined
 * when none is acceptable. Each type takes the q of its most specific matching
 * range; ties go to the more specific match, then JSON before HTML, except that
 * a bare wildcard (a client with no preference) gets text/html, like PyPI.
 */
export function negotiate(accept: string | undefined): string | undefined {
  if (!accept || !accept.trim()) return HTML;
  const offers = [JSON_V1, HTML_V1, HTML];
  const ranges = accept.split(',').map((part) => {
    const [range, ...params] = part.trim().split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    return { range, q: qParam ? Number(qParam.slice(2)) : 1 };
  });
  let best: { type: string; q: number; spec: number; rank: number } | undefined;
  for (const [i, offer] of offers.entries()) {
    let match: { q: number; spec: number } | undefined;
    for (const { range, q } of ranges) {
      const spec = range === offer ? 2 : range.endsWith('/*') && range !== '*/*' && offer.startsWith(range.slice(0, -1)) ? 1 : range === '*/*' ? 0 : -1;
      if (spec >= 0 && (!match || spec > match.spec)) match = { q, spec };
    }
    if (!match || !(match.q > 0)) continue;
    const rank = match.spec === 0 ? i : -i;
    const better = !best || match.q > best.q || (match.q === best.q && (match.spec > best.spec || (match.spec === best.spec && rank > best.rank)));
    if (better) best = { type: offer, ...match, rank };
  }
  return best?.type;
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function projectPageHtml(project: string, files: ServedFile[], href: (f: ServedFile) => string, yanked: IndexServerOptions['yanked']): string {
  const lines = files.map((f) => {
    const attrs = [`href="${escapeHtml(`${href(f)}#sha256=${f.sha256}`)}"`];
    if (f.requiresPython) attrs.push(`data-requires-python="${escapeHtml(f.requiresPython)}"`);
    const y = yanked?.[f.filename];
    if (y !== undefined) attrs.push(y === true ? 'data-yanked=""' : `data-yanked="${escapeHtml(y)}"`);
    if (f.metadata) {
      const h = `sha256=${sha256(f.metadata)}`;
      attrs.push(`data-dist-info-metadata="${h}"`, `data-core-metadata="${h}"`);
    }
    return `    <a ${attrs.join(' ')}>${escapeHtml(f.filename)}</a><br/>`;
  });
  return [
    '<!DOCTYPE html>',
    '<html>',
    `  <head><meta name="pypi:repository-version" content="1.1"><title>Links for ${escapeHtml(project)}</title></head>`,
    '  <body>',
    `    <h1>Links for ${escapeHtml(project)}</h1>`,
    ...lines,
    '  </body>',
    '</html>',
    '',
  ].join('\n');
}

function projectPageJson(project: string, files: ServedFile[], href: (f: ServedFile) => string, yanked: IndexServerOptions['yanked']): string {
  return JSON.stringify({
    meta: { 'api-version': '1.1' },
    name: project,
    versions: [...new Set(files.map((f) => f.version))],
    files: files.map((f) => {
      const meta = f.metadata ? { sha256: sha256(f.metadata) } : false;
      const y = yanked?.[f.filename];
      return {
        filename: f.filename,
        url: href(f),
        hashes: { sha256: f.sha256 },
        ...(f.requiresPython ? { 'requires-python': f.requiresPython } : {}),
        'core-metadata': meta,
        'dist-info-metadata': meta,
        ...(y !== undefined ? { yanked: y } : {}),
        size: f.size,
      };
    }),
  });
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Serve `dir` as a PEP 503 (HTML) and PEP 691 (JSON) simple index:
 * `/simple/`, `/simple/<project>/`, `/files/<filename>` and
 * `/files/<filename>.metadata` (PEP 658).
 */
export async function startIndexServer(opts: IndexServerOptions): Promise<IndexServer> {
  const requests: IndexServer['requests'] = [];
  const faults = new Map<string, Fault>(Object.entries(opts.faults ?? {}));
  const expectedAuth = opts.basicAuth
    ? `Basic ${Buffer.from(`${opts.basicAuth.username}:${opts.basicAuth.password}`).toString('base64')}`
    : undefined;
  let base = '';

  /** The log entry of each response, so body bytes can be counted as they are written. */
  const entries = new WeakMap<http.ServerResponse, IndexServer['requests'][number]>();
  const count = (res: http.ServerResponse, n: number) => {
    const entry = entries.get(res);
    if (entry) entry.bytes += n;
  };

  const send = (res: http.ServerResponse, status: number, type: string, body: string | Buffer, headers: http.OutgoingHttpHeaders = {}) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
    if (res.req.method !== 'HEAD') count(res, Buffer.byteLength(body));
    res.end(body);
  };

  let fileFault = opts.fileFault;
  /** The fault for this request, counting down its `times`. */
  const faultFor = (path: string, isFile: boolean): Fault | undefined => {
    const own = faults.get(path);
    const fault = own ?? (isFile ? fileFault : undefined);
    if (!fault) return undefined;
    if (fault.times !== undefined) {
      if (fault.times <= 0) return undefined;
      const next = { ...fault, times: fault.times - 1 };
      if (own) faults.set(path, next);
      else fileFault = next;
    }
    return fault;
  };

  /** Apply a fault; true when it answered the request. */
  const applyFault = (fault: Fault | undefined, res: http.ServerResponse, body: Buffer | undefined, type: string): boolean => {
    if (!fault) return false;
    switch (fault.kind) {
      case 'status':
        send(res, fault.status, 'text/plain', `fault: HTTP ${fault.status}\n`, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
        return true;
      case 'reset':
        res.socket?.destroy();
        return true;
      case 'wrong-hash': {
        if (!body) return false;
        const changed = Buffer.from(body);
        changed[changed.length >> 1] ^= 0xff;
        send(res, 200, type, changed);
        return true;
      }
      case 'body':
        send(res, 200, fault.contentType ?? type, fault.body);
        return true;
      case 'truncate': {
        if (!body) return false;
        // Offer ranges like the real file route does, so that a client may resume.
        res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'accept-ranges': 'bytes', etag: `"${sha256(body)}"` });
        count(res, Math.min(fault.afterBytes, body.length));
        // Close with FIN, not RST: an RST may make the client drop bytes it had not read yet.
        res.write(body.subarray(0, fault.afterBytes), () => res.socket?.end());
        return true;
      }
      case 'slow': {
        if (!body) return false;
        const step = fault.chunkBytes ?? 1024;
        res.writeHead(200, { 'content-type': type, 'content-length': body.length });
        let offset = 0;
        const tick = () => {
          if (res.destroyed) return;
          if (offset >= body.length) return void res.end();
          const chunk = body.subarray(offset, offset + step);
          count(res, chunk.length);
          res.write(chunk);
          offset += step;
          setTimeout(tick, fault.delayMs);
        };
        tick();
        return true;
      }
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = decodeURIComponent(url.pathname);
    const entry = { method: req.method ?? 'GET', path: url.pathname, bytes: 0, ...(req.headers.range ? { range: req.headers.range } : {}) };
    requests.push(entry);
    entries.set(res, entry);
    if (expectedAuth && req.headers.authorization !== expectedAuth) {
      return send(res, 401, 'text/plain', 'authentication required\n', { 'www-authenticate': 'Basic realm="index"' });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    const isFile = /^\/files\/[^/]+$/.test(path) && !path.endsWith('.metadata');
    const fault = faultFor(path, isFile);
    if (fault && !isFile && applyFault(fault, res, undefined, 'text/plain')) return;
    const scanned = await scanDir(opts.dir);
    const lies = opts.metadataOverrides ?? {};
    const files =
      opts.metadataFiles === false
        ? scanned.map((f) => ({ ...f, metadata: undefined }))
        : scanned.map((f) => (f.filename in lies ? { ...f, metadata: Buffer.from(lies[f.filename]!) } : f));

    if (path === '/simple' || path === '/simple/') {
      if (path === '/simple') return send(res, 301, 'text/plain', '', { location: '/simple/' });
      const type = negotiate(req.headers.accept);
      if (!type) return send(res, 406, 'text/plain', 'not acceptable\n');
      const projects = [...new Set(files.map((f) => f.project))].sort();
      if (type === JSON_V1) {
        return send(res, 200, type, JSON.stringify({ meta: { 'api-version': '1.1' }, projects: projects.map((name) => ({ name })) }));
      }
      const links = projects.map((p) => `    <a href="${escapeHtml(p)}/">${escapeHtml(p)}</a><br/>`);
      return send(res, 200, type, ['<!DOCTYPE html>', '<html><body>', ...links, '</body></html>', ''].join('\n'));
    }

    const project = /^\/simple\/([^/]+)(\/?)$/.exec(path);
    if (project) {
      const canonical = canonicalizeName(project[1]);
      if (canonical !== project[1] || !project[2]) {
        return send(res, 301, 'text/plain', '', { location: `/simple/${encodeURIComponent(canonical)}/` });
      }
      const mine = files.filter((f) => f.project === canonical);
      if (!mine.length) return send(res, 404, 'text/plain', `no project ${canonical}\n`);
      const type = opts.formats === 'html' ? HTML : negotiate(req.headers.accept);
      if (!type) return send(res, 406, 'text/plain', 'not acceptable\n');
      const href = (f: ServedFile) =>
        opts.links === 'absolute' ? `${base}/files/${encodeURIComponent(f.filename)}` : `../../files/${encodeURIComponent(f.filename)}`;
      const body = type === JSON_V1 ? projectPageJson(canonical, mine, href, opts.yanked) : projectPageHtml(canonical, mine, href, opts.yanked);
      return send(res, 200, type, body);
    }

    const file = /^\/files\/([^/]+)$/.exec(path);
    if (file) {
      const name = file[1];
      const meta = name.endsWith('.metadata') ? files.find((f) => `${f.filename}.metadata` === name) : undefined;
      if (meta?.metadata) return send(res, 200, 'text/plain; charset=utf-8', meta.metadata);
      const f = files.find((x) => x.filename === name);
      if (!f) return send(res, 404, 'text/plain', `no file ${name}\n`);
      const type = 'application/octet-stream';
      if (fault) {
        const body = await fs.readFile(f.path);
        if (applyFault(fault, res, body, type)) return;
      }
      // Byte ranges (RFC 9110 14.2), so that clients can resume a broken transfer.
      const etag = `"${f.sha256}"`;
      const ranges = opts.ranges !== false;
      const headers = { 'content-type': type, ...(ranges ? { 'accept-ranges': 'bytes' } : {}), etag };
      const range = ranges ? /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '') : null;
      const ifRange = req.headers['if-range'];
      let start = 0;
      let end = f.size - 1;
      if (range && (range[1] || range[2]) && (!ifRange || ifRange === etag)) {
        // `bytes=a-b`, `bytes=a-`, or the last N bytes: `bytes=-N`.
        start = range[1] ? Number(range[1]) : Math.max(0, f.size - Number(range[2]));
        end = range[1] && range[2] ? Math.min(Number(range[2]), f.size - 1) : f.size - 1;
        if (start >= f.size || start > end) {
          return send(res, 416, 'text/plain', 'range not satisfiable\n', { 'content-range': `bytes */${f.size}` });
        }
        res.writeHead(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${f.size}` });
      } else {
        res.writeHead(200, { ...headers, 'content-length': f.size });
      }
      if (req.method === 'HEAD' || f.size === 0) return void res.end();
      createReadStream(f.path, { start, end })
        .on('data', (chunk) => count(res, chunk.length))
        .pipe(res);
      return;
    }
    send(res, 404, 'text/plain', 'not found\n');
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) send(res, 500, 'text/plain', `${(e as Error).message}\n`);
      else res.destroy();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  base = `http://${host}:${port}`;
  return {
    url: `${base}/simple`,
    requests,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
