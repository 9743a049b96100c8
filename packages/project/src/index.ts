export * from './option-registry';
export * from './pyproject';
export * from './sources';
export * from './workspace';
export * from './imports';
export * from './scaffold';
export * from './distribution';
