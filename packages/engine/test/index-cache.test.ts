import * as path from 'node:path';
import { MetadataCache, StoreHttpCache } from '@nx-pex/store';
import { parseBuildArgs } from '@nx-pex/cli';
import { cacheDisabledFromEnv, indexCaches } from '../src/index-cache';

describe('the index cache of a build or lock', () => {
  const root = path.join('/tmp', 'some-store');

  it('is the store\'s http/ and metadata/ areas by default', () => {
    const { httpCache, metadataCache } = indexCaches(root, undefined, {});
    expect(httpCache).toBeInstanceOf(StoreHttpCache);
    expect(httpCache!.dir).toBe(path.join(root, 'http'));
    expect(metadataCache).toBeInstanceOf(MetadataCache);
    expect(metadataCache!.dir).toBe(path.join(root, 'metadata'));
  });

  it('is skipped with --disable-cache or NX_PEX_DISABLE_CACHE, the option winning', () => {
    expect(parseBuildArgs(['--disable-cache', 'requests']).disableCache).toBe(true);
    expect(indexCaches(root, true, {})).toEqual({});
    for (const v of ['1', 'true', 'YES', 'on']) expect(indexCaches(root, undefined, { NX_PEX_DISABLE_CACHE: v })).toEqual({});
    expect(cacheDisabledFromEnv({ NX_PEX_DISABLE_CACHE: '0' })).toBe(false);
    expect(indexCaches(root, false, { NX_PEX_DISABLE_CACHE: '1' }).httpCache).toBeInstanceOf(StoreHttpCache);
  });
});
