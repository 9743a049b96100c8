// @ts-check
'use strict';
/** Child processes, timed from spawn to exit. */
const { spawn } = require('node:child_process');
const { performance } = require('node:perf_hooks');

/**
 * @typedef {{ cwd?: string, env?: NodeJS.ProcessEnv, allowFailure?: boolean, timeoutMs?: number }} RunOptions
 * @typedef {{ ms: number, code: number | null, stdout: string, stderr: string }} RunResult
 */

const KEEP = 64 * 1024;

/**
 * Run `cmd args` to completion and time it (wall clock, spawn to exit). Asynchronous on purpose:
 * the index servers live in this process and must keep answering while the child runs.
 * @param {string} cmd
 * @param {string[]} args
 * @param {RunOptions} [opts]
 * @returns {Promise<RunResult>}
 */
function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    // Keep the tail only: pip and nx can be chatty, and only the end explains a failure.
    child.stdout.on('data', (d) => (stdout = (stdout + d).slice(-KEEP)));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-KEEP)));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      const ms = performance.now() - start;
      if (timer) clearTimeout(timer);
      if (code !== 0 && !opts.allowFailure) {
        const tail = (stderr || stdout).split('\n').slice(-40).join('\n');
        const err = new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}${opts.cwd ? ` in ${opts.cwd}` : ''}:\n${tail}`);
        Object.assign(err, { output: `${stdout}\n--- stderr ---\n${stderr}` });
        reject(err);
        return;
      }
      resolve({ ms, code, stdout, stderr });
    });
  });
}

module.exports = { run };
