#!/usr/bin/env node
/**
 * Bundles the plugin's entry points into `lib/`, one CommonJS file each, with nx-pex's internal
 * packages (`@nx-pex/*`, compiled from their TypeScript sources) inlined and every third-party
 * package left as a `require` of a declared dependency. `lib/` is what the repository's own Nx
 * workspace, the `nx-pex` bin and the published package all run.
 *
 * Entry points: the plugin (`index`), the CLI, the engine as a library, and every executor and
 * generator named in executors.json / generators.json (so a new one is bundled without editing
 * this file). A third-party import that package.json does not declare fails the bundle.
 *
 * Usage: node scripts/bundle.js [--metafile]
 */
'use strict';
const { builtinModules } = require('node:module');
const { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { dirname, join, relative } = require('node:path');
const esbuild = require('esbuild');

const PLUGIN = join(__dirname, '..');
const REPO = join(PLUGIN, '..', '..');
const OUT = join(PLUGIN, 'lib');
const UNDICI_LAZY = join(__dirname, 'undici-lazy.js');
/**
 * Dependencies that every command would load at start-up and few use: yauzl (zip reading, ~20 ms
 * to load with its own dependencies) is needed only when a wheel or PEX is read.
 */
const LAZY = ['yauzl'];

const pkg = JSON.parse(readFileSync(join(PLUGIN, 'package.json'), 'utf8'));
const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** `./lib/executors/build/executor` → `executors/build/executor`. */
function entryOf(implementation) {
  const m = /^\.\/lib\/(.+?)(\.js)?$/.exec(implementation);
  if (!m) throw new Error(`bundle: ${implementation} does not point into ./lib/`);
  return m[1];
}

function entries() {
  const names = new Set(['index', 'cli', 'engine']);
  const executors = JSON.parse(readFileSync(join(PLUGIN, 'executors.json'), 'utf8')).executors ?? {};
  for (const e of Object.values(executors)) {
    names.add(entryOf(e.implementation));
    if (e.batchImplementation) names.add(entryOf(e.batchImplementation));
  }
  const generators = JSON.parse(readFileSync(join(PLUGIN, 'generators.json'), 'utf8')).generators ?? {};
  for (const g of Object.values(generators)) names.add(entryOf(g.factory));
  const out = {};
  for (const name of names) {
    const src = join(PLUGIN, 'src', `${name}.ts`);
    if (!existsSync(src)) throw new Error(`bundle: no source for entry ${name} (${relative(REPO, src)})`);
    out[name] = src;
  }
  return out;
}

/** `@nx-pex/<name>` → its TypeScript sources; any other bare import stays a require, if declared. */
const resolvePackages = {
  name: 'nx-pex-packages',
  setup(build) {
    const undeclared = new Set();
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      const internal = /^@nx-pex\/([a-z-]+)$/.exec(args.path);
      if (internal) {
        const dir = join(REPO, 'packages', internal[1]);
        if (!existsSync(join(dir, 'src', 'index.ts'))) return { errors: [{ text: `unknown internal package ${args.path}` }] };
        return { path: join(dir, 'src', 'index.ts') };
      }
      if (builtins.has(args.path)) return { path: args.path, external: true };
      // undici by the parts used rather than all of it (see undici-lazy.js).
      if (args.path === 'undici' && args.importer !== UNDICI_LAZY) return { path: UNDICI_LAZY };
      if (LAZY.includes(args.path) && args.namespace !== 'lazy') return { path: args.path, namespace: 'lazy' };
      const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
      if (!declared.has(name)) undeclared.add(`${name} (imported by ${relative(REPO, args.importer)})`);
      return { path: args.path, external: true };
    });
    // A dependency loaded when first used rather than when the bundle starts: its exports are
    // getters that require it.
    build.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => {
      const names = Object.keys(require(args.path));
      const lines = [`let loaded;`, `const load = () => (loaded ??= require(${JSON.stringify(args.path)}));`];
      for (const n of names) lines.push(`Object.defineProperty(exports, ${JSON.stringify(n)}, { enumerable: true, get: () => load()[${JSON.stringify(n)}] });`);
      return { contents: lines.join('\n'), loader: 'js', resolveDir: REPO };
    });
    build.onEnd((result) => {
      for (const u of undeclared) {
        result.errors.push({ text: `${u} is not a dependency or peer dependency of ${pkg.name}: declare it in plugins/nx-pex/package.json` });
      }
    });
  },
};

/** Every file under `dir`. */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/**
 * Puts each output in place by rename, leaving a file whose bytes are unchanged as it is, then
 * removes what the bundle no longer makes: `lib/` is never missing or half-written, so a process
 * that loads it while the bundle is made again (a running Nx task, `npm pack` in a test) sees the
 * old file or the new one.
 */
function writeOutputs(outputs) {
  const made = new Set();
  for (const { path, contents } of outputs) {
    made.add(path);
    if (existsSync(path) && readFileSync(path).equals(contents)) continue;
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, contents);
    renameSync(tmp, path);
  }
  for (const file of filesUnder(OUT)) if (!made.has(file)) rmSync(file, { force: true });
}

async function main() {
  const result = await esbuild.build({
    entryPoints: entries(),
    outdir: OUT,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: process.argv.includes('--metafile'),
    plugins: [resolvePackages],
    write: false,
  });
  const outputs = result.outputFiles.map((f) => ({ path: f.path, contents: Buffer.from(f.contents) }));
  if (result.metafile) outputs.push({ path: join(OUT, 'meta.json'), contents: Buffer.from(JSON.stringify(result.metafile)) });
  writeOutputs(outputs);
}

main().catch((err) => {
  process.stderr.write(`${err && err.errors ? '' : (err && err.stack) || err}\n`);
  process.exit(1);
});
