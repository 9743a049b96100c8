import { defaultIndexConfig } from '@nx-pex/index';
import { pipIndexEnv } from '@nx-pex/resolver';

describe("the environment of pip's builds", () => {
  const base = { PATH: '/bin', PIP_INDEX_URL: 'https://elsewhere/simple', PIP_FIND_LINKS: '/opt/wheels', PIP_NO_INDEX: '' };

  it('carries the indexes, find-links and trusted hosts the resolution used, overriding pip’s own', () => {
    const env = pipIndexEnv(base, {
      ...defaultIndexConfig(),
      indexUrl: 'http://127.0.0.1:8080/simple',
      extraIndexUrls: ['https://a/simple', 'https://b/simple'],
      findLinks: ['/srv/wheels'],
      trustedHosts: ['127.0.0.1:8080'],
      certFile: '/etc/ca.pem',
    });
    expect(env).toEqual({
      PATH: '/bin',
      PIP_INDEX_URL: 'http://127.0.0.1:8080/simple',
      PIP_EXTRA_INDEX_URL: 'https://a/simple https://b/simple',
      PIP_FIND_LINKS: '/srv/wheels',
      PIP_TRUSTED_HOST: '127.0.0.1:8080',
      PIP_CERT: '/etc/ca.pem',
    });
  });

  it('turns the index off only when the resolution had none (an empty PIP_NO_INDEX is not a boolean to pip)', () => {
    expect(pipIndexEnv(base, { ...defaultIndexConfig(), noIndex: true, findLinks: ['/srv/wheels'] })).toMatchObject({ PIP_NO_INDEX: '1', PIP_FIND_LINKS: '/srv/wheels', PIP_EXTRA_INDEX_URL: '' });
    expect(pipIndexEnv(base, defaultIndexConfig())).not.toHaveProperty('PIP_NO_INDEX');
  });

  it('leaves the environment alone without an index configuration', () => {
    expect(pipIndexEnv(base, undefined)).toBe(base);
  });
});
