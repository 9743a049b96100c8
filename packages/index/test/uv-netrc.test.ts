import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { netrcCredentials, parseNetrc, parseUvIndexEnv, readIndexConfig, readUvIndexes, uvIndexEnvPrefix } from '@nx-pex/index';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'uvcfg-'));
});
afterEach(() => fs.rm(tmp, { recursive: true, force: true }));

describe('parseNetrc', () => {
  it('reads machine, default, login, password, account, and skips macdef bodies and comments', () => {
    const n = parseNetrc(
      [
        '# personal credentials',
        'machine Index.Example.com login alice password "s3 cret"',
        'machine other.example',
        '  login bob',
        '  password pw\\"q',
        'macdef init',
        'machine evil.example login mallory password x',
        '',
        'machine index.example.com login second password ignored',
        'default login anon password guest',
      ].join('\n'),
    );
    expect(netrcCredentials(n, 'index.example.com')).toEqual({ username: 'alice', password: 's3 cret' });
    expect(netrcCredentials(n, 'other.example')).toEqual({ username: 'bob', password: 'pw"q' });
    // A macro body is not an entry.
    expect(n.machines.has('evil.example')).toBe(false);
    expect(netrcCredentials(n, 'unknown.example')).toEqual({ username: 'anon', password: 'guest' });
    expect(netrcCredentials(parseNetrc('machine a login x password y'), 'b')).toBeUndefined();
  });
});

describe('uv index settings', () => {
  it('names environment variables as uv does', () => {
    expect(uvIndexEnvPrefix('internal-proxy')).toBe('UV_INDEX_INTERNAL_PROXY_');
    expect(uvIndexEnvPrefix('my.Index2')).toBe('UV_INDEX_MY_INDEX2_');
  });

  it('parses UV_INDEX entries with and without names', () => {
    expect(parseUvIndexEnv('a=https://a.example/simple  https://b.example/simple?x=1 ./local', '/w')).toEqual([
      { name: 'a', url: 'https://a.example/simple' },
      { url: 'https://b.example/simple?x=1' },
      { url: pathToFileURL('/w/local').href },
    ]);
  });

  it('reads [[tool.uv.index]] with default, explicit and relative paths', async () => {
    const file = path.join(tmp, 'pyproject.toml');
    await fs.writeFile(
      file,
      [
        '[[tool.uv.index]]',
        'name = "corp"',
        'url = "https://corp.example/simple"',
        'default = true',
        '',
        '[[tool.uv.index]]',
        'name = "torch"',
        'url = "https://torch.example/whl"',
        'explicit = true',
        '',
        '[[tool.uv.index]]',
        'url = "./wheelhouse"',
      ].join('\n'),
    );
    expect(await readUvIndexes(file)).toEqual([
      { name: 'corp', url: 'https://corp.example/simple', default: true, explicit: false },
      { name: 'torch', url: 'https://torch.example/whl', default: false, explicit: true },
      { url: pathToFileURL(path.join(tmp, 'wheelhouse')).href, default: false, explicit: false },
    ]);
    await fs.writeFile(file, '[[tool.uv.index]]\nname = "x"\n');
    await expect(readUvIndexes(file)).rejects.toThrow(/entry 1 has no url/);
  });

  describe('readIndexConfig precedence', () => {
    const base = { PIP_CONFIG_FILE: '/dev/null', HOME: '/nonexistent' };
    const read = async (env: NodeJS.ProcessEnv, pyproject?: string) => {
      if (pyproject) await fs.writeFile(path.join(tmp, 'pyproject.toml'), pyproject);
      return readIndexConfig({ env: { ...base, ...env }, cwd: tmp, projectRoot: tmp, etcDir: path.join(tmp, 'etc'), home: path.join(tmp, 'home') });
    };
    const uvToml = '[[tool.uv.index]]\nname = "corp"\nurl = "https://corp.example/simple"\ndefault = true\n\n[[tool.uv.index]]\nname = "extra"\nurl = "https://extra.example/simple"\n\n[[tool.uv.index]]\nname = "pinned"\nurl = "https://pinned.example/simple"\nexplicit = true\n';

    it('PIP_INDEX_URL over UV_DEFAULT_INDEX over UV_INDEX_URL over pip.conf over [tool.uv.index] default over PyPI', async () => {
      expect((await read({})).indexUrl).toBe('https://pypi.org/simple');
      expect((await read({}, uvToml)).indexUrl).toBe('https://corp.example/simple');
      const conf = path.join(tmp, 'pip.conf');
      await fs.writeFile(conf, '[global]\nindex-url = https://conf.example/simple\n');
      expect((await read({ PIP_CONFIG_FILE: conf })).indexUrl).toBe('https://conf.example/simple');
      expect((await read({ PIP_CONFIG_FILE: conf, UV_INDEX_URL: 'https://uvold.example/simple' })).indexUrl).toBe('https://uvold.example/simple');
      expect(
        (await read({ PIP_CONFIG_FILE: conf, UV_INDEX_URL: 'https://uvold.example/simple', UV_DEFAULT_INDEX: 'https://uvdef.example/simple' })).indexUrl,
      ).toBe('https://uvdef.example/simple');
      expect((await read({ UV_DEFAULT_INDEX: 'https://uvdef.example/simple', PIP_INDEX_URL: 'https://pip.example/simple' })).indexUrl).toBe(
        'https://pip.example/simple',
      );
    });

    it('searches every extra index once, explicit indexes never; names indexes for credentials', async () => {
      const c = await read(
        {
          PIP_EXTRA_INDEX_URL: 'https://pipx.example/simple',
          UV_INDEX: 'team=https://team.example/simple https://corp.example/simple/',
          UV_EXTRA_INDEX_URL: 'https://uvx.example/simple',
        },
        uvToml,
      );
      expect(c.indexUrl).toBe('https://corp.example/simple');
      expect(c.extraIndexUrls).toEqual([
        'https://pipx.example/simple',
        'https://team.example/simple',
        'https://uvx.example/simple',
        'https://extra.example/simple',
      ]);
      expect(c.namedIndexes).toEqual([
        { name: 'team', url: 'https://team.example/simple' },
        { name: 'corp', url: 'https://corp.example/simple' },
        { name: 'extra', url: 'https://extra.example/simple' },
        { name: 'pinned', url: 'https://pinned.example/simple' },
      ]);
    });

    it('takes UV_FIND_LINKS, UV_NO_INDEX and the CA bundle variables', async () => {
      const c = await read({ PIP_FIND_LINKS: '/a', UV_FIND_LINKS: 'rel,https://links.example/', UV_NO_INDEX: '1', SSL_CERT_FILE: '/ssl.pem', REQUESTS_CA_BUNDLE: '/req.pem' });
      expect(c.findLinks).toEqual(['/a', path.join(tmp, 'rel'), 'https://links.example/']);
      expect(c.noIndex).toBe(true);
      expect(c.certFile).toBe('/req.pem');
      expect((await read({ SSL_CERT_FILE: '/ssl.pem' })).certFile).toBe('/ssl.pem');
      expect((await read({ SSL_CERT_FILE: '/ssl.pem', PIP_CERT: '/pip.pem' })).certFile).toBe('/pip.pem');
    });
  });
});
