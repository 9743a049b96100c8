#!/usr/bin/env node
import * as path from 'node:path';
import { startIndexServer } from './server';

const USAGE = 'usage: node tools/index-server/dist/cli.js --dir DIR [--port N] [--user NAME --password SECRET]';

function main(argv: string[]): void {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      console.log(USAGE);
      return;
    }
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) args.set(a.slice(2, eq), a.slice(eq + 1));
    else if (a.startsWith('--') && i + 1 < argv.length) args.set(a.slice(2), argv[++i]);
    else {
      console.error(`unexpected argument ${a}\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
  }
  const dir = args.get('dir');
  if (!dir) {
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }
  const user = args.get('user');
  const password = args.get('password');
  startIndexServer({
    dir: path.resolve(dir),
    port: args.has('port') ? Number(args.get('port')) : 0,
    basicAuth: user !== undefined ? { username: user, password: password ?? '' } : undefined,
  }).then(
    (server) => {
      console.log(`Serving ${path.resolve(dir)} at ${server.url}/ (Ctrl-C to stop)`);
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
