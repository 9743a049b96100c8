'use strict';
/**
 * What the bundles get for `require('undici')`: the same module, loaded by the parts actually used.
 *
 * undici's index.js loads all of undici when required (fetch, WebSocket, EventSource, the mock
 * agents, the cache stores, cookies...): 70-140 ms of a CLI run on a 2-core machine, of which the
 * dispatchers and `request` that nx-pex uses are about a third. Each export below is read from its
 * own module inside undici on first use; anything else falls through to the whole of undici.
 * Dispatcher.prototype gets the API methods (request, stream, ...) exactly as undici's index.js
 * gives them, before any dispatcher class is handed out.
 */

/** @type {any} */
let whole;
const all = () => (whole ??= require('undici'));

let patched = false;
/** undici's Dispatcher, with the API methods on its prototype as its index.js sets them. */
function dispatcherModule() {
  const Dispatcher = require('undici/lib/dispatcher/dispatcher');
  if (!patched) {
    patched = true;
    if (typeof Dispatcher.prototype.request !== 'function') Object.assign(Dispatcher.prototype, require('undici/lib/api'));
  }
  return Dispatcher;
}

/** A dispatcher class, once the Dispatcher prototype is complete. @param {string} file */
const dispatcherClass = (file) => () => {
  dispatcherModule();
  return require(file);
};

/**
 * undici's top-level `request(url, opts)`: `opts.dispatcher` (else the global dispatcher) runs
 * the request for the URL's origin and path, as undici's index.js does it.
 * @param {string | URL | Record<string, any>} url @param {any} [opts] @param {any} [handler]
 */
function request(url, opts, handler) {
  dispatcherModule();
  const { InvalidArgumentError } = require('undici/lib/core/errors');
  const util = require('undici/lib/core/util');
  if (typeof opts === 'function') {
    handler = opts;
    opts = null;
  }
  if (!url || (typeof url !== 'string' && typeof url !== 'object')) throw new InvalidArgumentError('invalid url');
  if (opts != null && typeof opts !== 'object') throw new InvalidArgumentError('invalid opts');
  let target;
  if (opts && opts.path != null) {
    if (typeof opts.path !== 'string') throw new InvalidArgumentError('invalid opts.path');
    target = new URL(util.parseOrigin(url).origin + (opts.path.startsWith('/') ? opts.path : `/${opts.path}`));
  } else {
    if (!opts) opts = typeof url === 'object' ? url : {};
    target = util.parseURL(url);
  }
  if (opts.agent) throw new InvalidArgumentError('unsupported opts.agent. Did you mean opts.client?');
  const dispatcher = opts.dispatcher ?? require('undici/lib/global').getGlobalDispatcher();
  const api = require('undici/lib/api');
  return api.request.call(
    dispatcher,
    {
      ...opts,
      origin: target.origin,
      path: target.search ? `${target.pathname}${target.search}` : target.pathname,
      method: opts.method || (opts.body ? 'PUT' : 'GET'),
    },
    handler,
  );
}

/** @type {Record<string, () => any>} */
const parts = {
  Dispatcher: dispatcherModule,
  Client: dispatcherClass('undici/lib/dispatcher/client'),
  Pool: dispatcherClass('undici/lib/dispatcher/pool'),
  Agent: dispatcherClass('undici/lib/dispatcher/agent'),
  ProxyAgent: dispatcherClass('undici/lib/dispatcher/proxy-agent'),
  EnvHttpProxyAgent: dispatcherClass('undici/lib/dispatcher/env-http-proxy-agent'),
  errors: () => require('undici/lib/core/errors'),
  request: () => request,
};

/** @type {Record<string, any>} */
const loaded = {};
module.exports = new Proxy(loaded, {
  get(target, name) {
    if (typeof name !== 'string') return all()[name];
    if (name in target) return target[name];
    if (name === '__esModule') return false;
    const part = parts[name];
    const value = part ? part() : all()[name];
    target[name] = value;
    return value;
  },
  has: (_, name) => name in all(),
  ownKeys: () => Reflect.ownKeys(all()),
  getOwnPropertyDescriptor: (_, name) => Reflect.getOwnPropertyDescriptor(all(), name),
});
