// A V8 code cache for the CommonJS modules the `nx-pex` command loads (its bundle and the parts of
// its dependencies it uses), as Node 22's module.enableCompileCache() keeps one (used there);
// Node 20 has none. Compiling the ~0.5 MB bundle alone takes ~40 ms of a short command's start-up;
// with the cache V8 deserialises the compiled code instead (as Python keeps .pyc files). Entries
// live in the user's cache directory, beside the store's default place and not in it
// ($XDG_CACHE_HOME/nx-pex-compile-cache or ~/.cache/nx-pex-compile-cache; NX_PEX_COMPILE_CACHE=0
// turns it off), one file per module named by hashes of its path and of its contents, for this
// Node version and architecture; an entry V8 rejects is rewritten, and a module's entries for
// earlier contents are removed. Entries are written when the process exits, so that they also hold
// the functions the run compiled lazily. Any failure only means no cache.
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');

/** @param {string} text */
const digest = (text) => createHash('sha256').update(text).digest('hex').slice(0, 24);

/** @param {string[]} roots directories whose modules are cached */
function enableCompileCache(roots) {
  if (process.env.NX_PEX_COMPILE_CACHE === '0' || typeof Module.wrap !== 'function') return;
  const base = process.env.XDG_CACHE_HOME || (os.homedir() ? path.join(os.homedir(), '.cache') : '');
  if (!base) return;
  const dir = path.join(base, 'nx-pex-compile-cache', `v8-${process.version}-${process.arch}`);
  if (typeof (/** @type {any} */ (Module).enableCompileCache) === 'function') {
    /** @type {any} */ (Module).enableCompileCache(dir);
    return;
  }
  /** @type {{ file: string, script: vm.Script }[]} */
  const pending = [];
  const original = Module.prototype._compile;
  Module.prototype._compile = function compileCached(content, filename, ...rest) {
    if (rest[0] === 'module' || !roots.some((r) => filename.startsWith(r))) return original.call(this, content, filename, ...rest);
    let script;
    let entry;
    try {
      entry = path.join(dir, `${digest(filename)}-${digest(content)}.bin`);
      let cachedData;
      try {
        cachedData = fs.readFileSync(entry);
      } catch {
        cachedData = undefined;
      }
      const source = content.startsWith('#!') ? `//${content.slice(2)}` : content;
      script = new vm.Script(Module.wrap(source), { filename, cachedData });
      if (cachedData === undefined || script.cachedDataRejected) pending.push({ file: entry, script });
    } catch {
      return original.call(this, content, filename, ...rest);
    }
    const mod = this;
    const fn = script.runInThisContext({ displayErrors: true });
    /** @param {string} id */
    const require = (id) => mod.require(id);
    require.resolve = (/** @type {string} */ request, /** @type {any} */ options) => Module._resolveFilename(request, mod, false, options);
    require.resolve.paths = (/** @type {string} */ request) => Module._resolveLookupPaths(request, mod);
    require.main = process.mainModule;
    require.extensions = Module._extensions;
    require.cache = Module._cache;
    return fn.call(mod.exports, mod.exports, require, mod, filename, path.dirname(filename));
  };
  process.once('exit', () => {
    if (!pending.length) return;
    try {
      fs.mkdirSync(dir, { recursive: true });
      const names = fs.readdirSync(dir);
      for (const { file, script } of pending) {
        // The entries of earlier contents of the same module go.
        const prefix = path.basename(file).split('-')[0];
        for (const n of names) if (n.startsWith(`${prefix}-`) && n !== path.basename(file)) fs.rmSync(path.join(dir, n), { force: true });
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, file);
      }
    } catch {
      // no cache this time
    }
  });
}

module.exports = { enableCompileCache };
