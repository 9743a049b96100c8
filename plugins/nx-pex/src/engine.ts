/** nx-pex as a library, without Nx: `require('nx-pex/dist/engine')`. */
export * from '@nx-pex/engine';
