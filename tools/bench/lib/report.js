// @ts-check
'use strict';
/** Statistics, the results table and CPU profile summaries. */
const fs = require('node:fs/promises');
const path = require('node:path');

/**
 * @typedef {{ median: number, min: number, max: number, runs: number[] }} Stat
 */

/** @param {number[]} xs @returns {Stat} */
function stat(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  const r = (/** @type {number} */ x) => Math.round(x * 10) / 10;
  return { median: r(median), min: r(s[0]), max: r(s[s.length - 1]), runs: xs.map(r) };
}

/** @param {number | undefined} ms */
function fmtMs(ms) {
  if (ms === undefined) return '';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.round(ms)} ms`;
}

/** @param {number | undefined} x */
function fmtRatio(x) {
  if (x === undefined || !Number.isFinite(x)) return '';
  return x >= 10 ? `${x.toFixed(0)}×` : `${x.toFixed(1)}×`;
}

/** @param {Stat | undefined} s */
function fmtStat(s) {
  if (!s) return '';
  return s.runs.length > 1 ? `${fmtMs(s.median)} (${fmtMs(s.min)}–${fmtMs(s.max)})` : fmtMs(s.median);
}

/**
 * A text table with right-aligned numeric columns.
 * @param {string[]} header @param {string[][]} rows
 */
function textTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (/** @type {string[]} */ cells) =>
    cells.map((c, i) => (i < 2 ? (c ?? '').padEnd(widths[i]) : (c ?? '').padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** @param {string[]} header @param {string[][]} rows */
function markdownTable(header, rows) {
  const esc = (/** @type {string} */ c) => (c ?? '').replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/**
 * Self time of a V8 CPU profile (`node --cpu-prof`), by function and by where the code lives.
 * @param {string} file
 * @param {string} repo
 */
async function summarizeProfile(file, repo) {
  /** @type {{ nodes: { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }} */
  const prof = JSON.parse(await fs.readFile(file, 'utf8'));
  /** @type {Map<number, number>} */
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
  }
  /** @type {Map<string, number>} */
  const byFunction = new Map();
  /** @type {Map<string, number>} */
  const byPlace = new Map();
  const add = (/** @type {Map<string, number>} */ m, /** @type {string} */ k, /** @type {number} */ v) => m.set(k, (m.get(k) ?? 0) + v);
  for (const node of prof.nodes) {
    const ms = self.get(node.id) ?? 0;
    if (!ms) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const rel = relativeUrl(url, repo);
    add(byFunction, `${functionName || '(anonymous)'} ${rel ? `${rel}:${lineNumber + 1}` : ''}`.trim(), ms);
    add(byPlace, placeOf(rel, functionName), ms);
  }
  // Wall time by stage: each sample goes to the innermost first-party package on its stack (or
  // to module loading); idle and GC samples go to the stage that ran last, which is the one waiting.
  /** @type {Map<number, number>} */
  const parent = new Map();
  /** @type {Map<number, (typeof prof.nodes)[number]>} */
  const byId = new Map();
  for (const node of prof.nodes) {
    byId.set(node.id, node);
    for (const c of /** @type {any} */ (node).children ?? []) parent.set(c, node.id);
  }
  /** @type {Map<number, string>} */
  const stageOf = new Map();
  const stage = (/** @type {number} */ id) => {
    let s = stageOf.get(id);
    if (s !== undefined) return s;
    s = 'other';
    let loading = false;
    for (let n = byId.get(id); n; n = byId.get(parent.get(n.id) ?? -1)) {
      const { url, functionName } = n.callFrame;
      const rel = relativeUrl(url, repo);
      const place = placeOf(rel, functionName);
      if (/^(packages|plugins|tools)\//.test(place) && !loading) {
        s = place;
        break;
      }
      if (place === 'node internals' && /modules\/cjs\/loader/.test(rel)) loading = true;
      if (functionName === '(idle)' || functionName === '(garbage collector)' || functionName === '(program)') {
        s = functionName;
        break;
      }
    }
    if (loading && !s.startsWith('(')) s = 'module loading';
    stageOf.set(id, s);
    return s;
  };
  /** @type {Map<string, number>} */
  const byStage = new Map();
  let last = 'start-up';
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
    const s = stage(prof.samples[i]);
    if (s.startsWith('(')) add(byStage, `${last}${s === '(idle)' ? ' (waiting)' : ''}`, dt);
    else {
      last = s;
      add(byStage, s, dt);
    }
  }

  const top = (/** @type {Map<string, number>} */ m, /** @type {number} */ n) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms: Math.round(ms * 10) / 10 }));
  return {
    profiledMs: Math.round((prof.endTime - prof.startTime) / 100) / 10,
    byStage: top(byStage, 14),
    byPlace: top(byPlace, 10),
    byFunction: top(byFunction, 12),
  };
}

/** A profiled script's location: relative to the repository for files, else as V8 names it. @param {string} url @param {string} repo */
function relativeUrl(url, repo) {
  return url.startsWith('file://') ? path.relative(repo, decodeURIComponent(url.slice(7))) : url;
}

/** @param {string} rel @param {string} fn */
function placeOf(rel, fn) {
  if (!rel) return fn.startsWith('(') ? fn : '(native)';
  if (rel.startsWith('node:')) return 'node internals';
  const pkg = /(?:^|\/)(packages|plugins|tools)\/([^/]+)\//.exec(rel);
  if (pkg && !rel.includes('node_modules/')) return `${pkg[1]}/${pkg[2]}`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(rel);
  if (nm) return `node_modules/${nm[1]}`;
  return rel;
}

module.exports = { stat, fmtMs, fmtRatio, fmtStat, textTable, markdownTable, summarizeProfile };
