/**
 * Wheels as pex reads them: their metadata (entry points, scripts, module names) and pex's
 * "installed wheel chroot" form (`--pre-install-wheels`): the wheel extracted, its `.data`
 * spread into a `.prefix` stash, console scripts generated, the original zip entries recorded
 * in `original-whl-info.json`, RECORD rewritten, a sha256 fingerprint and `.layout.json`.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { crc32 } from 'node:zlib';
import { PexError } from './errors';
import { pyCompare, pyJsonDumps, pyReprStr, pyReprTuple, type JsonValue } from './python';
import { isPycPath } from './runtime';
import { dosDateTime, listAllEntries, openZip, readZipEntry } from './zipread';

export interface ChrootFile {
  data: Buffer;
  executable: boolean;
}

/** A directory tree held in memory: files by posix path, plus every directory (empty ones too). */
export interface MemoryTree {
  files: Map<string, ChrootFile>;
  dirs: Set<string>;
}

export interface EntryPoint {
  name: string;
  module: string;
  /** Empty for a `module` entry point. */
  attrs: string[];
}

export interface WheelContents {
  filename: string;
  projectName: string;
  version: string;
  distInfoDir: string;
  dataDir: string;
  rootIsPurelib: boolean;
  entries: Array<{ name: string; dateTime: number[]; externalAttr: number; data: Buffer }>;
  consoleScripts: EntryPoint[];
  guiScripts: EntryPoint[];
  /** Names of the files in `<name>-<ver>.data/scripts/`. */
  dataScripts: string[];
}

export interface InstalledChroot extends MemoryTree {
  fingerprint: string;
}

const STASH = '.prefix';

function bad(filename: string, what: string): never {
  throw new PexError(`The wheel ${filename} cannot be used: ${what}.`);
}

/** Python's `str.splitlines()` line boundaries. */
export const PY_LINE_BREAK = /\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]/;

/** RFC-4180-ish reading of one line as Python's csv.reader (delimiter ',', quotechar '"') does. */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  let fieldStart = true;
  while (i < line.length) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
    } else if (c === '"' && fieldStart) {
      quoted = true;
      fieldStart = false;
    } else if (c === ',') {
      out.push(field);
      field = '';
      fieldStart = true;
      i++;
      continue;
    } else {
      field += c;
      fieldStart = false;
    }
    i++;
  }
  out.push(field);
  return out;
}

/** One row as Python's csv.writer with QUOTE_MINIMAL writes it (without the terminator). */
export function formatCsvRow(fields: string[]): string {
  if (fields.length === 1 && fields[0] === '') return '""';
  return fields.map((f) => (/[,"\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',');
}

function parseEntryPoints(text: string, filename: string): Map<string, Map<string, EntryPoint>> {
  const groups = new Map<string, Map<string, EntryPoint>>();
  let group: Map<string, EntryPoint> | undefined;
  for (const raw of text.split(PY_LINE_BREAK)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[') && line.endsWith(']')) {
      const name = line.slice(1, -1);
      group = groups.get(name) ?? new Map();
      groups.set(name, group);
      continue;
    }
    if (!group) bad(filename, `entry_points.txt has an entry point outside a [group]: '${line}'`);
    const parts = line.split('=');
    if (parts.length !== 2) bad(filename, `entry_points.txt has an invalid entry point '${line}'`);
    const value = parts[1]!.trim().split('[')[0]!.trim();
    const colon = value.indexOf(':');
    const module = (colon < 0 ? value : value.slice(0, colon)).trim();
    const ref = colon < 0 ? '' : value.slice(colon + 1).trim();
    if (module === '' || (colon >= 0 && ref === '')) bad(filename, `entry_points.txt has an invalid entry point '${line}'`);
    const name = parts[0]!.trim();
    group!.set(name, { name, module, attrs: ref === '' ? [] : ref.split('.') });
  }
  return groups;
}

function metadataField(text: string, field: string): string | undefined {
  const re = new RegExp(`^${field}:[ \\t]*(.*?)[ \\t]*$`, 'im');
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break; // headers end at the first blank line
    const m = re.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/** Reads a wheel (its file's bytes, read from `path`) fully into memory, with the metadata pex derives from it. */
export async function readWheel(bytes: Buffer, path: string, filename: string): Promise<WheelContents> {
  let zf;
  try {
    zf = await openZip(bytes);
  } catch (e) {
    bad(filename, `it is not a readable zip file (${path}): ${(e as Error).message}`);
  }
  const entries: WheelContents['entries'] = [];
  try {
    for (const { name, entry } of await listAllEntries(zf)) {
      const data = name.endsWith('/') ? Buffer.alloc(0) : await readZipEntry(zf, entry);
      // yauzl checks sizes, not CRC-32s; Python's zipfile checks both when the PEX runs.
      if ((crc32(data) >>> 0) !== entry.crc32 >>> 0) throw new Error(`entry ${name} does not match its CRC-32`);
      entries.push({ name, dateTime: dosDateTime(entry), externalAttr: entry.externalFileAttributes >>> 0, data });
    }
  } catch (e) {
    bad(filename, `${path} is a corrupt zip: ${(e as Error).message}`);
  } finally {
    zf.close();
  }
  const byName = new Map(entries.map((e) => [e.name, e]));
  const metadataEntries = entries.filter((e) => /^[^/]+\.dist-info\/METADATA$/.test(e.name));
  if (metadataEntries.length !== 1) bad(filename, `expected one *.dist-info/METADATA, found ${metadataEntries.length}`);
  const distInfoDir = metadataEntries[0]!.name.split('/')[0]!;
  const metadata = metadataEntries[0]!.data.toString('utf8');
  const projectName = metadataField(metadata, 'Name') ?? bad(filename, `${distInfoDir}/METADATA has no Name`);
  const version = metadataField(metadata, 'Version') ?? bad(filename, `${distInfoDir}/METADATA has no Version`);
  const wheelText = byName.get(`${distInfoDir}/WHEEL`)?.data.toString('utf8') ?? bad(filename, `it has no ${distInfoDir}/WHEEL`);
  const rootIsPurelib = (metadataField(wheelText, 'Root-Is-Purelib') ?? 'false').toLowerCase() === 'true';
  const dataDir = distInfoDir.replace(/\.dist-info$/, '.data');
  const epText = byName.get(`${distInfoDir}/entry_points.txt`)?.data.toString('utf8');
  const eps = epText === undefined ? new Map() : parseEntryPoints(epText, filename);
  const scriptsPrefix = `${dataDir}/scripts/`;
  return {
    filename,
    projectName,
    version,
    distInfoDir,
    dataDir,
    rootIsPurelib,
    entries,
    consoleScripts: [...(eps.get('console_scripts')?.values() ?? [])],
    guiScripts: [...(eps.get('gui_scripts')?.values() ?? [])],
    dataScripts: entries
      .filter((e) => e.name.startsWith(scriptsPrefix) && !e.name.endsWith('/'))
      .map((e) => e.name.slice(scriptsPrefix.length)),
  };
}

/** Python's `zipfile` extraction path: '', '.' and '..' components are dropped. */
export function extractPath(name: string): string {
  return name
    .split('/')
    .filter((p) => p !== '' && p !== '.' && p !== '..')
    .join('/');
}

function addDirs(tree: MemoryTree, path: string): void {
  let dir = posix.dirname(path);
  while (dir !== '.' && dir !== '' && !tree.dirs.has(dir)) {
    tree.dirs.add(dir);
    dir = posix.dirname(dir);
  }
}

function putFile(tree: MemoryTree, path: string, file: ChrootFile): void {
  addDirs(tree, path);
  tree.files.set(path, file);
}

function isUnder(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(dir + '/');
}

function relTo(path: string, dir: string): string {
  return dir === '' ? path : path.slice(dir.length + 1);
}

function joinPath(dir: string, rel: string): string {
  return dir === '' ? rel : `${dir}/${rel}`;
}

export function recordHash(data: Buffer): string {
  return 'sha256=' + createHash('sha256').update(data).digest('base64url');
}

const PYTHON_SHEBANG = /^(?:|.*\W)(?:python|pypy)(?:\d+(?:\.\d+)*)?(?:\.exe)?(?:\s[^\s]|$)/is;
const ENCODING_LINE = /^[ \t\f]*#.*?coding[:=][ \t]*([-_.a-zA-Z0-9]+)/;

/** Lines of `data` as Python's binary `readline()` gives them (each keeps its '\n'). */
function binaryLines(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < data.length) {
    const nl = data.indexOf(0x0a, start);
    const end = nl < 0 ? data.length : nl + 1;
    out.push(data.subarray(start, end));
    start = end;
  }
  return out;
}

/** pex's `is_python_script(check_executable=False)`. */
function isPythonScript(data: Buffer): boolean {
  if (data.length < 2 || data[0] !== 0x23 || data[1] !== 0x21) return false;
  const lines = binaryLines(data);
  const suffix = lines[0]!.subarray(2).toString('latin1').replace(/\s+$/, '');
  if (PYTHON_SHEBANG.test(suffix)) return true;
  if (suffix !== '/bin/sh') return false;
  let i = 1;
  let next = lines[i]?.toString('latin1') ?? '';
  if (ENCODING_LINE.test(next)) next = lines[++i]?.toString('latin1') ?? '';
  if (next === "'''': pshprs\n") return true;
  return /^'''.*exec.+/.test(next) && (next.match(/'/g) ?? []).length >= 4;
}

/** pex's shebang rewrite for `.data/scripts` Python scripts in a chroot install: `#!python`. */
function rewriteScript(data: Buffer): Buffer {
  const lines = binaryLines(data);
  let i = 1;
  let encodingLine = '';
  if (lines[0]!.toString('latin1').replace(/\s+$/, '') === '#!/bin/sh') {
    const l = lines[i++]?.toString('latin1') ?? '';
    if (ENCODING_LINE.test(l)) {
      encodingLine = l;
      i++;
    }
    while (i < lines.length) {
      const next = lines[i++]!.toString('latin1');
      if (next.endsWith("'''\n")) break;
    }
  }
  return Buffer.concat([Buffer.from('#!python\n'), Buffer.from(encodingLine, 'latin1'), ...lines.slice(i)]);
}

function entryPointScript(ep: EntryPoint): string {
  const cleanup =
    '    import os\n' +
    '    pex_root_fallback = os.environ.get("_PEX_ROOT_FALLBACK")\n' +
    '    if pex_root_fallback:\n' +
    '        import atexit\n' +
    '        import shutil\n' +
    '\n' +
    '        atexit.register(shutil.rmtree, pex_root_fallback, True)\n' +
    '\n';
  if (ep.attrs.length > 0) {
    return (
      '#!python\n# -*- coding: utf-8 -*-\nimport importlib\nimport sys\n\n' +
      `entry_point = importlib.import_module(${pyReprStr(ep.module)})\n` +
      `for attr in ${pyReprTuple(ep.attrs)}:\n    entry_point = getattr(entry_point, attr)\n\n` +
      'if __name__ == "__main__":\n' +
      cleanup +
      '    sys.exit(entry_point())\n'
    );
  }
  return (
    '#!python\n# -*- coding: utf-8 -*-\nimport runpy\nimport sys\n\n' +
    'if __name__ == "__main__":\n' +
    cleanup +
    `    runpy.run_module(${pyReprStr(ep.module)}, run_name="__main__", alter_sys=True)\n` +
    '    sys.exit(0)\n'
  );
}

/** The `pythonX.Y` of the headers dir: from the wheel's python tags when they name one X.Y. */
export function headersPython(filename: string): string {
  const parts = filename.slice(0, -'.whl'.length).split('-');
  const pyTags = (parts[parts.length - 3] ?? '').split('.');
  const versions = new Set<string>();
  for (const tag of pyTags) {
    const m = /\d+(?:_\d+)*/.exec(tag);
    if (!m) bad(filename, `the interpreter tag '${tag}' has no version`);
    const comps = m[0].split('_');
    const v = comps.length === 1 ? [comps[0]![0]!, ...(comps[0]!.length > 1 ? [comps[0]!.slice(1)] : [])] : comps;
    versions.add(v.map((c) => String(Number(c))).join('.'));
  }
  const only = versions.size === 1 ? [...versions][0]!.split('.') : [];
  return only.length >= 2 ? `python${only[0]}.${only[1]}` : 'pythonX.Y';
}

/** Files of a tree in pex's `deterministic_walk` order: a directory's files (sorted), then its sub-directories (sorted). */
export function walkOrder(paths: Iterable<string>): string[] {
  interface Node {
    files: string[];
    dirs: Map<string, Node>;
  }
  const root: Node = { files: [], dirs: new Map() };
  for (const p of paths) {
    const parts = p.split('/');
    let node = root;
    for (const d of parts.slice(0, -1)) {
      let next = node.dirs.get(d);
      if (!next) node.dirs.set(d, (next = { files: [], dirs: new Map() }));
      node = next;
    }
    node.files.push(parts[parts.length - 1]!);
  }
  const out: string[] = [];
  const walk = (node: Node, prefix: string) => {
    for (const f of node.files.sort(pyCompare)) out.push(prefix + f);
    for (const d of [...node.dirs.keys()].sort(pyCompare)) walk(node.dirs.get(d)!, `${prefix}${d}/`);
  };
  walk(root, '');
  return out;
}

/** pex's sha256/sha1 "dir hash": all names concatenated, then all contents, in sorted path order. */
function treeHash(files: Map<string, ChrootFile>, algorithm: 'sha1' | 'sha256'): string {
  const paths = [...files.keys()].filter((p) => !isPycPath(p)).sort(pyCompare);
  const h = createHash(algorithm);
  h.update(Buffer.from(paths.join(''), 'utf8'));
  for (const p of paths) h.update(files.get(p)!.data);
  return h.digest('hex');
}

/** Installs a wheel into an in-memory chroot exactly as pex's `install_wheel_chroot` does. */
export function installWheelChroot(wheel: WheelContents): InstalledChroot {
  const { filename } = wheel;
  const tree: MemoryTree = { files: new Map(), dirs: new Set() };
  // 1. Extract.
  for (const e of wheel.entries) {
    const path = extractPath(e.name);
    if (path === '') continue;
    if (e.name.endsWith('/')) {
      addDirs(tree, `${path}/x`);
      continue;
    }
    const mode = e.externalAttr > 0xffff ? e.externalAttr >>> 16 : 0;
    const executable = (mode & 0o170000) === 0o100000 && (mode & 0o111) !== 0;
    putFile(tree, path, { data: e.data, executable });
  }

  // 2. Spread .data per the RECORD.
  const distInfo = wheel.distInfoDir;
  const pexInfoDir = distInfo.replace(/\.dist-info$/, '.pex-info');
  const recordRel = `${distInfo}/RECORD`;
  const record = tree.files.get(recordRel);
  if (!record) bad(filename, `it has no ${recordRel}; rebuild the wheel with a RECORD`);
  const recordText = record.data.toString('utf8');
  const rows = recordText
    .split(PY_LINE_BREAK)
    .filter((l) => l !== '')
    .map((l) => {
      const f = parseCsvLine(l);
      if (f.length !== 3) bad(filename, `${recordRel} has a row without 3 fields: '${l}'`);
      return f as [string, string, string];
    });
  if (rows.some(([p]) => p.startsWith('/'))) bad(filename, `${recordRel} lists absolute paths; rebuild the wheel`);

  // pex locates `.data` for spreading by the METADATA name and version (`wheel_prefix`), but
  // deletes the `.data` dir named after `.dist-info`; when the two differ (say `Name: Fancy` in
  // `fancy-2.0.dist-info`), the `.data` files are dropped, and so they are here.
  const data = `${wheel.projectName.replace(/[-_.]+/g, '_')}-${wheel.version.replace(/-/g, '_')}.data`;
  const stash = STASH;
  const scriptNames = new Set([...wheel.consoleScripts, ...wheel.guiScripts].map((s) => s.name));
  const wheelPaths: Array<[string, string]> = wheel.rootIsPurelib
    ? [
        ['headers', `${data}/headers`],
        ['scripts', `${data}/scripts`],
        ['platlib', `${data}/platlib`],
        ['data', `${data}/data`],
        ['purelib', ''],
      ]
    : [
        ['headers', `${data}/headers`],
        ['scripts', `${data}/scripts`],
        ['purelib', `${data}/purelib`],
        ['data', `${data}/data`],
        ['platlib', ''],
      ];
  const chrootPaths: Record<string, string> = {
    purelib: wheel.rootIsPurelib ? '' : `${stash}/purelib`,
    platlib: wheel.rootIsPurelib ? `${stash}/platlib` : '',
    headers: `${stash}/include/site/${headersPython(filename)}/${wheel.projectName}`,
    scripts: `${stash}/bin`,
    data: `${stash}/data`,
  };
  const skipped = new Set([
    `${distInfo}/INSTALLER`,
    `${distInfo}/REQUESTED`,
    `${pexInfoDir}/original-whl-info.json`,
    `${distInfo}/uv_build.json`,
    `${distInfo}/uv_cache.json`,
  ]);
  const out: string[][] = [];
  let recordEol = '\n';
  for (const [rawPath, hash, size] of rows) {
    if (rawPath.endsWith('/')) {
      out.push([rawPath, hash, size]);
      continue;
    }
    if (rawPath === recordRel) {
      recordEol = recordText.split('\n')[0]!.endsWith('\r') ? '\r\n' : '\n';
      out.push([recordRel, '', '']);
      continue;
    }
    if (skipped.has(rawPath) || rawPath.endsWith('.pyc')) continue;
    const src = posix.normalize(rawPath);
    const file = tree.files.get(src);
    if (!file) continue; // pex warns about a bad RECORD and skips the file
    const [pathName, installedPath] = wheelPaths.find(([, dir]) => isUnder(src, dir))!;
    if (pathName === 'scripts' && scriptNames.has(posix.basename(src))) continue; // regenerated below
    const dst = joinPath(chrootPaths[pathName]!, relTo(src, installedPath));
    if (pathName === 'scripts' && isPythonScript(file.data)) {
      const rewritten = rewriteScript(file.data);
      putFile(tree, dst, { data: rewritten, executable: false });
      out.push([dst, recordHash(rewritten), String(rewritten.length)]);
      continue;
    }
    if (!tree.files.has(dst)) putFile(tree, dst, file);
    out.push([dst, hash, size]);
  }
  for (const p of [...tree.files.keys()]) if (isUnder(p, wheel.dataDir)) tree.files.delete(p);
  for (const d of [...tree.dirs]) if (isUnder(d, wheel.dataDir)) tree.dirs.delete(d);

  // 4. Entry-point scripts.
  for (const ep of [...wheel.consoleScripts, ...wheel.guiScripts]) {
    const dst = `${chrootPaths.scripts}/${ep.name}`;
    if (tree.files.has(dst)) continue;
    const script = Buffer.from(entryPointScript(ep), 'utf8');
    putFile(tree, dst, { data: script, executable: true });
    out.push([dst, recordHash(script), String(script.length)]);
  }

  // 5. original-whl-info.json.
  const whlInfoPath = `${pexInfoDir}/original-whl-info.json`;
  const whlInfo = Buffer.from(
    pyJsonDumps({
      entries: wheel.entries.map((e) => [e.name, e.dateTime, e.externalAttr] as JsonValue),
      filename,
    }),
    'utf8',
  );
  putFile(tree, whlInfoPath, { data: whlInfo, executable: false });
  out.push([whlInfoPath, recordHash(whlInfo), String(whlInfo.length)]);

  // 6. RECORD.
  putFile(tree, recordRel, {
    data: Buffer.from(out.map((r) => formatCsvRow(r) + recordEol).join(''), 'utf8'),
    executable: record.executable,
  });

  // 7./8. Fingerprint, then .layout.json.
  const fingerprint = treeHash(tree.files, 'sha256');
  const sysPathEntries: string[] = [];
  for (const name of wheel.rootIsPurelib ? ['purelib', 'platlib'] : ['platlib', 'purelib']) {
    const dir = chrootPaths[name]!;
    if (dir === '') sysPathEntries.push('.');
    else if (tree.dirs.has(dir)) sysPathEntries.push(dir);
  }
  const layout = {
    fingerprint,
    record_relpath: recordRel,
    root_is_purelib: wheel.rootIsPurelib,
    stash_dir: stash,
    sys_path_entries: sysPathEntries,
  };
  tree.files.set('.layout.json', { data: Buffer.from(pyJsonDumps(layout), 'utf8'), executable: false });
  return { ...tree, fingerprint };
}
