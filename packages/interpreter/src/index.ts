/**
 * What a Python interpreter is, asked of the interpreter itself: its version, platform, marker
 * environment and tags (`probeInterpreter`), remembered across builds while the interpreter's
 * files are unchanged (`probeInterpreterCached`). The engine turns the answer into a build target.
 */
export { InterpreterProbeError, probeInterpreter, interpreterInfoFromProbe } from './probe';
export type { InterpreterCacheOptions } from './cache';
export { probeInterpreterCached, resolveExecutable } from './cache';
