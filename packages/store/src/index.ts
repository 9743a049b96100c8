export { WheelStore, StoreError, defaultStoreRoot } from './store';
export { fetchArtifacts, ArtifactNotFoundError } from './fetch';
export type { ArtifactRequest, FetchLog, FetchArtifactsOptions } from './fetch';
