/** nx-pex as a library, without Nx: `require('nx-pex/dist/engine')`. */
export * from '@nx-pex/engine';
export { PINNED_PEX } from '@nx-pex/pex';
