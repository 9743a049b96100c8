#!/usr/bin/env node
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Fault, parseFault, startIndexServer } from './server';

const USAGE = `usage: node tools/index-server/dist/cli.js --dir DIR [options]

Serves the wheels and sdists in DIR on 127.0.0.1 as a PEP 503 (HTML) and
PEP 691 (JSON) simple index with PEP 658 metadata files, at /simple/.

Options:
  --port N                 Port (default: any free port).
  --user NAME --password SECRET
                           Require HTTP basic auth.
  --html-only              Serve only PEP 503 HTML pages.
  --absolute-links         Link files by absolute URL (default: relative).
  --slow MS                Send every file in 1 KiB pieces, MS apart.
  --fail-files SPEC        Misbehave on every file download.
  --fail PATH=SPEC         Misbehave on one request path (e.g. /simple/foo/ or
                           /files/foo-1.0-py3-none-any.whl); repeatable.

SPEC is one of: a status (500, 503, 429:RETRY_AFTER_SECONDS), reset,
truncate:BYTES, wrong-hash, slow:MS; append @N to misbehave N times only.`;

function main(argv: string[]): void {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        dir: { type: 'string' },
        port: { type: 'string' },
        user: { type: 'string' },
        password: { type: 'string' },
        'html-only': { type: 'boolean' },
        'absolute-links': { type: 'boolean' },
        slow: { type: 'string' },
        'fail-files': { type: 'string' },
        fail: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (values.help) return void console.log(USAGE);
  if (!values.dir) {
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }
  let faults: Record<string, Fault>;
  let fileFault: Fault | undefined;
  try {
    faults = Object.fromEntries(
      (values.fail ?? []).map((f) => {
        const eq = f.lastIndexOf('=');
        if (eq <= 0) throw new Error(`--fail wants PATH=SPEC, got ${JSON.stringify(f)}`);
        return [f.slice(0, eq), parseFault(f.slice(eq + 1))];
      }),
    );
    if (values['fail-files']) fileFault = parseFault(values['fail-files']);
    else if (values.slow) fileFault = { kind: 'slow', delayMs: Number(values.slow) };
  } catch (e) {
    console.error(`index-server: ${(e as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const dir = path.resolve(values.dir);
  startIndexServer({
    dir,
    port: values.port ? Number(values.port) : 0,
    basicAuth: values.user !== undefined ? { username: values.user, password: values.password ?? '' } : undefined,
    formats: values['html-only'] ? 'html' : undefined,
    links: values['absolute-links'] ? 'absolute' : undefined,
    faults,
    fileFault,
  }).then(
    (server) => {
      console.log(`Serving ${dir} at ${server.url}/ (Ctrl-C to stop)`);
      const stop = () => void server.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (e) => {
      console.error(`index-server: ${(e as Error).message}`);
      process.exitCode = 1;
    },
  );
}

main(process.argv.slice(2));
