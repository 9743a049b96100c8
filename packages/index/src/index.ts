export { DEFAULT_INDEX_URL, readPipConfig, pipConfigFiles, defaultIndexConfig } from './config';
export type { IndexConfig, ReadPipConfigOptions } from './config';
export { PipConfigError, parseIni } from './ini';
export { parseHtmlPage, parseJsonPage, isArchiveFilename } from './pages';
export type { DistributionFile } from './pages';
export { IndexClient, filenameMatchesProject } from './client';
export type { IndexClientOptions } from './client';
export { redactUrl, redactText } from './redact';
export { IndexError, HashMismatchError, TruncatedDownloadError, IndexUnreachableError, IndexResponseError } from './errors';
