/**
 * A wheel installed into a virtual environment by the wheel specification's rules (what pip and
 * `pex venv` do), in memory, for a venv at a given absolute path on the machine that will run it:
 * the root and `.data/purelib|platlib` into site-packages, `.data/scripts` into `bin/` (a
 * `#!python` line pointed at the venv's interpreter), `.data/headers` into
 * `include/site/pythonX.Y/<name>`, `.data/data` into the venv's root, console and GUI scripts
 * generated, `INSTALLER` written and `RECORD` rewritten for the installed paths.
 */
import { posix } from 'node:path';
import { PexError } from './errors';
import { pyReprStr } from './python';
import { extractPath, formatCsvRow, recordHash, type EntryPoint, type WheelContents } from './install';

export interface VenvFile {
  data: Buffer;
  executable: boolean;
}

export interface VenvInstallOptions {
  /** The venv's absolute path where it runs, e.g. `/opt/venv` (script shebangs name `<venv>/bin/python`). */
  venv: string;
  /** `pythonX.Y` of the venv's interpreter: site-packages is `lib/pythonX.Y/site-packages`. */
  python: string;
  /** Written to `<dist-info>/INSTALLER`. */
  installer?: string;
}

function consoleScript(ep: EntryPoint, python: string): string {
  if (ep.attrs.length === 0) {
    return (
      `#!${python}\n# -*- coding: utf-8 -*-\nimport runpy\nimport sys\n\n` +
      'if __name__ == "__main__":\n' +
      `    runpy.run_module(${pyReprStr(ep.module)}, run_name="__main__", alter_sys=True)\n` +
      '    sys.exit(0)\n'
    );
  }
  return (
    `#!${python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n` +
    `from ${ep.module} import ${ep.attrs[0]}\n` +
    'if __name__ == "__main__":\n' +
    '    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])\n' +
    `    sys.exit(${ep.attrs.join('.')}())\n`
  );
}

/** A console script for `module:attr.attr` run by the venv's interpreter at `python`. */
export function venvConsoleScript(entryPoint: string, python: string): Buffer {
  const colon = entryPoint.indexOf(':');
  const module = colon < 0 ? entryPoint : entryPoint.slice(0, colon);
  const attrs = colon < 0 ? [] : entryPoint.slice(colon + 1).split('.');
  return Buffer.from(consoleScript({ name: '', module, attrs }, python), 'utf8');
}

/** The `#!python` (or `#!pythonw`) first line of a wheel script pointed at `python`, per the wheel spec. */
function rewriteShebang(data: Buffer, python: string): Buffer {
  const nl = data.indexOf(0x0a);
  const first = data.subarray(0, nl < 0 ? data.length : nl).toString('latin1').replace(/\r$/, '');
  if (!/^#!pythonw?$/.test(first) && !/^#!pythonw?\s/.test(first)) return data;
  const rest = first.replace(/^#!pythonw?/, '');
  return Buffer.concat([Buffer.from(`#!${python}${rest}`, 'latin1'), nl < 0 ? Buffer.alloc(0) : data.subarray(nl)]);
}

/** The wheel's files at their paths relative to the venv's root. */
export function installWheelVenv(wheel: WheelContents, o: VenvInstallOptions): Map<string, VenvFile> {
  const sitePackages = `lib/${o.python}/site-packages`;
  const python = `${o.venv.replace(/\/+$/, '')}/bin/python`;
  const out = new Map<string, VenvFile>();
  const distInfo = `${sitePackages}/${wheel.distInfoDir}`;
  const recordPath = `${distInfo}/RECORD`;
  const skip = new Set([`${wheel.distInfoDir}/RECORD`, `${wheel.distInfoDir}/INSTALLER`, `${wheel.distInfoDir}/RECORD.jws`, `${wheel.distInfoDir}/RECORD.p7s`]);
  const scriptNames = new Set([...wheel.consoleScripts, ...wheel.guiScripts].map((s) => s.name));
  const headers = `include/site/${o.python}/${wheel.projectName}`;
  for (const e of wheel.entries) {
    if (e.name.endsWith('/')) continue;
    const path = extractPath(e.name);
    if (path === '' || skip.has(path)) continue;
    const mode = e.externalAttr > 0xffff ? e.externalAttr >>> 16 : 0;
    let executable = (mode & 0o111) !== 0;
    let data = e.data;
    let dest: string;
    if (path.startsWith(`${wheel.dataDir}/`)) {
      const rest = path.slice(wheel.dataDir.length + 1);
      const slash = rest.indexOf('/');
      if (slash < 0) continue;
      const scheme = rest.slice(0, slash);
      const rel = rest.slice(slash + 1);
      if (scheme === 'purelib' || scheme === 'platlib') dest = `${sitePackages}/${rel}`;
      else if (scheme === 'scripts') {
        if (scriptNames.has(rel)) continue; // generated from the entry point below
        dest = `bin/${rel}`;
        data = rewriteShebang(data, python);
        executable = true;
      } else if (scheme === 'headers') dest = `${headers}/${rel}`;
      else if (scheme === 'data') dest = rel;
      else throw new PexError(`The wheel ${wheel.filename} has ${path}, in an unknown install scheme "${scheme}" (the wheel spec knows purelib, platlib, scripts, headers and data).`);
    } else {
      dest = `${sitePackages}/${path}`;
    }
    out.set(dest, { data, executable });
  }
  for (const ep of [...wheel.consoleScripts, ...wheel.guiScripts]) {
    out.set(`bin/${ep.name}`, { data: Buffer.from(consoleScript(ep, python), 'utf8'), executable: true });
  }
  out.set(`${distInfo}/INSTALLER`, { data: Buffer.from(`${o.installer ?? 'nx-pex'}\n`, 'utf8'), executable: false });
  const rows: string[][] = [];
  for (const [p, f] of out) rows.push([posix.relative(sitePackages, p), recordHash(f.data), String(f.data.length)]);
  rows.push([posix.relative(sitePackages, recordPath), '', '']);
  rows.sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  out.set(recordPath, { data: Buffer.from(rows.map((r) => formatCsvRow(r) + '\n').join(''), 'utf8'), executable: false });
  return out;
}
