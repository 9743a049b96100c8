export { WheelStore, StoreError, DamagedStoreFileError, defaultStoreRoot, storeWriteError, HOST_TAG } from './store';
export type { FileIdentity, FileDigest, StoreInfo, PruneOptions, PruneResult } from './store';
export { fetchArtifacts, allowedOrigins, onConfiguredHosts, ArtifactNotFoundError, OfflineMissingError, offlineFromEnv } from './fetch';
export type { ArtifactRequest, FetchLog, FetchArtifactsOptions } from './fetch';
export { BadArchiveError, checkZipArchive, isSafeEntryName } from './archive';
export { createProgressReporter, lineProgress, streamProgress, formatBytes } from './progress';
export type { ProgressReporter, ProgressOptions } from './progress';
export { ensureLayer, layerInfo, layerPath, linkFromStore, pruneLayers } from './layers';
export type { EnsuredLayer, LayerInfo, LayerPruneOptions, LayerPruneResult, LinkResult } from './layers';
