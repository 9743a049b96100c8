import { createNodes } from './plugin/nodes';

export { createNodes };
/** @deprecated Nx 22 and later call `createNodes`; kept for Nx 21. */
export const createNodesV2 = createNodes;
export { createDependencies } from './plugin/dependencies';
export type { NxPexPluginOptions } from './plugin/options';
