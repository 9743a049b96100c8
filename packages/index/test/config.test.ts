import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_INDEX_URL, parseIni, PipConfigError, readPipConfig } from '@nx-pex/index';

let tmp: string;
let home: string;
let etc: string;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pipconf-'));
  home = path.join(tmp, 'home');
  etc = path.join(tmp, 'etc');
  await fs.mkdir(home, { recursive: true });
  await fs.mkdir(etc, { recursive: true });
});
afterEach(() => fs.rm(tmp, { recursive: true, force: true }));

async function write(file: string, text: string): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text);
  return file;
}

const read = (env: NodeJS.ProcessEnv = {}, extra: { command?: 'install' | 'download' } = {}) =>
  readPipConfig({ env: { HOME: home, ...env }, home, cwd: tmp, etcDir: etc, ...extra });

describe('parseIni (configparser semantics)', () => {
  it('reads continuation lines, both delimiters, comments and DEFAULT', () => {
    const ini = parseIni(
      [
        '# comment',
        '[DEFAULT]',
        'timeout = 10',
        '[global]',
        'Index-URL = https://a.example/simple',
        'extra-index-url =',
        '    https://b.example/simple',
        '',
        '    https://c.example/simple',
        '; another comment',
        'trusted-host: b.example',
        '[install]',
        'no-index = yes',
      ].join('\n'),
      'pip.conf',
    );
    const g = ini.get('global')!;
    expect(g.get('index-url')).toBe('https://a.example/simple');
    expect(g.get('extra-index-url')).toBe('\nhttps://b.example/simple\n\nhttps://c.example/simple');
    expect(g.get('trusted-host')).toBe('b.example');
    expect(g.get('timeout')).toBe('10');
    expect(ini.get('install')!.get('no-index')).toBe('yes');
    expect(ini.get('install')!.get('timeout')).toBe('10');
    expect(ini.has('DEFAULT')).toBe(false);
  });

  it('rejects what configparser rejects, naming file and line', () => {
    expect(() => parseIni('index-url = x\n', '/etc/pip.conf')).toThrow(/\/etc\/pip\.conf:1: .*before any \[section\]/);
    expect(() => parseIni('[global]\nfoo = 1\nfoo = 2\n', 'p.conf')).toThrow(/p\.conf:3: option "foo" appears twice/);
    expect(() => parseIni('[global]\n[global]\n', 'p.conf')).toThrow(PipConfigError);
    expect(() => parseIni('[global]\njust words\n', 'p.conf')).toThrow(/p\.conf:2: cannot parse/);
  });
});

describe('readPipConfig', () => {
  it('gives pip defaults when nothing is configured', async () => {
    expect(await read()).toEqual({ indexUrl: DEFAULT_INDEX_URL, extraIndexUrls: [], findLinks: [], noIndex: false, trustedHosts: [] });
  });

  it('reads the global files: XDG_CONFIG_DIRS (default /etc/xdg) then /etc, later wins', async () => {
    await write(path.join(etc, 'xdg/pip/pip.conf'), '[global]\nindex-url = https://xdg.example/simple\ntrusted-host = xdg.example\n');
    expect((await read()).indexUrl).toBe('https://xdg.example/simple');
    await write(path.join(etc, 'pip.conf'), '[global]\nindex-url = https://etc.example/simple\n');
    const c = await read();
    expect(c.indexUrl).toBe('https://etc.example/simple');
    expect(c.trustedHosts).toEqual(['xdg.example']);
    const other = path.join(tmp, 'xdgdirs');
    await write(path.join(other, 'pip/pip.conf'), '[global]\ncert = /x/ca.pem\n');
    expect((await read({ XDG_CONFIG_DIRS: other })).certFile).toBe('/x/ca.pem');
  });

  it('user files: ~/.pip/pip.conf is overridden by ~/.config/pip/pip.conf (or $XDG_CONFIG_HOME/pip)', async () => {
    await write(path.join(home, '.pip/pip.conf'), '[global]\nindex-url = https://legacy.example/simple\nno-index = true\n');
    expect(await read()).toMatchObject({ indexUrl: 'https://legacy.example/simple', noIndex: true });
    await write(path.join(home, '.config/pip/pip.conf'), '[global]\nindex-url = https://new.example/simple\n');
    expect(await read()).toMatchObject({ indexUrl: 'https://new.example/simple', noIndex: true });
    const xdg = path.join(tmp, 'xdghome');
    await write(path.join(xdg, 'pip/pip.conf'), '[global]\nindex-url = https://xdghome.example/simple\n');
    expect((await read({ XDG_CONFIG_HOME: xdg })).indexUrl).toBe('https://xdghome.example/simple');
  });

  it('user overrides global, site ($VIRTUAL_ENV) overrides user, PIP_CONFIG_FILE overrides site', async () => {
    await write(path.join(etc, 'pip.conf'), '[global]\nindex-url = https://global.example/simple\n');
    await write(path.join(home, '.config/pip/pip.conf'), '[global]\nindex-url = https://user.example/simple\n');
    expect((await read()).indexUrl).toBe('https://user.example/simple');
    const venv = path.join(tmp, 'venv');
    await write(path.join(venv, 'pip.conf'), '[global]\nindex-url = https://site.example/simple\n');
    expect((await read({ VIRTUAL_ENV: venv })).indexUrl).toBe('https://site.example/simple');
    const custom = await write(path.join(tmp, 'custom.conf'), '[global]\nindex-url = https://custom.example/simple\n');
    expect((await read({ VIRTUAL_ENV: venv, PIP_CONFIG_FILE: custom })).indexUrl).toBe('https://custom.example/simple');
  });

  it('an existing PIP_CONFIG_FILE hides the user files; os.devnull disables all files', async () => {
    await write(path.join(etc, 'pip.conf'), '[global]\nindex-url = https://global.example/simple\n');
    await write(path.join(home, '.config/pip/pip.conf'), '[global]\nextra-index-url = https://user.example/simple\n');
    const custom = await write(path.join(tmp, 'custom.conf'), '[global]\ntrusted-host = h\n');
    const c = await read({ PIP_CONFIG_FILE: custom });
    expect(c).toMatchObject({ indexUrl: 'https://global.example/simple', extraIndexUrls: [], trustedHosts: ['h'] });
    expect((await read({ PIP_CONFIG_FILE: path.join(tmp, 'missing.conf') })).extraIndexUrls).toEqual(['https://user.example/simple']);
    expect((await read({ PIP_CONFIG_FILE: os.devNull })).indexUrl).toBe(DEFAULT_INDEX_URL);
  });

  it('the command section overrides [global] even from a lower-priority file', async () => {
    await write(path.join(etc, 'pip.conf'), '[install]\nindex-url = https://install.example/simple\n[download]\nindex-url = https://download.example/simple\n');
    await write(path.join(home, '.config/pip/pip.conf'), '[global]\nindex-url = https://user.example/simple\n');
    expect((await read()).indexUrl).toBe('https://install.example/simple');
    expect((await read({}, { command: 'download' })).indexUrl).toBe('https://download.example/simple');
  });

  it('environment variables override every file; lists split on whitespace; empty values are ignored', async () => {
    await write(path.join(home, '.config/pip/pip.conf'), '[install]\nindex-url = https://file.example/simple\nfind-links = ./wheels\n');
    const c = await read({
      PIP_INDEX_URL: 'https://env.example/simple',
      PIP_EXTRA_INDEX_URL: 'https://x.example/simple \n https://y.example/simple',
      PIP_TRUSTED_HOST: 'x.example y.example:8443',
      PIP_NO_INDEX: 'off',
      PIP_CERT: '~/ca.pem',
      PIP_FIND_LINKS: '',
    });
    expect(c).toEqual({
      indexUrl: 'https://env.example/simple',
      extraIndexUrls: ['https://x.example/simple', 'https://y.example/simple'],
      findLinks: [path.join(tmp, 'wheels')],
      noIndex: false,
      certFile: path.join(home, 'ca.pem'),
      trustedHosts: ['x.example', 'y.example:8443'],
    });
    expect((await read({ PIP_FIND_LINKS: '/opt/wheels https://h.example/links/', PIP_NO_INDEX: '1' })).findLinks).toEqual([
      '/opt/wheels',
      'https://h.example/links/',
    ]);
    expect((await read({ PIP_NO_INDEX: '1' })).noIndex).toBe(true);
  });

  it('a local directory as index-url becomes a file:// URL', async () => {
    const c = await read({ PIP_INDEX_URL: 'local-index' });
    expect(c.indexUrl).toBe(pathToFileURL(path.join(tmp, 'local-index')).href);
  });

  it('names the source of a bad boolean and of a broken file', async () => {
    await expect(read({ PIP_NO_INDEX: 'maybe' })).rejects.toThrow(/environment variable PIP_NO_INDEX: "maybe" is not a valid value for no-index/);
    const bad = await write(path.join(home, '.pip/pip.conf'), 'index-url = x\n');
    await expect(read()).rejects.toThrow(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:1`));
  });
});

describe('readPipConfig agrees with pip itself', () => {
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  it('on a layered configuration', async () => {
    await write(path.join(home, '.pip/pip.conf'), '[install]\nindex-url = https://install.example/simple\n[global]\nno-index = on\n');
    await write(
      path.join(home, '.config/pip/pip.conf'),
      '[global]\nindex-url = https://user.example/simple\nextra-index-url =\n    https://b.example/simple\n    https://c.example/simple\ntrusted-host = b.example\n',
    );
    const env = { HOME: home, PATH: process.env.PATH ?? '', PIP_TRUSTED_HOST: 'x y', PIP_FIND_LINKS: '/opt/a /opt/b', XDG_CONFIG_DIRS: path.join(tmp, 'none') };
    for (const command of ['install', 'download'] as const) {
      const script = [
        'import json, sys',
        'from pip._internal.commands import create_command',
        `o, _ = create_command("${command}").parse_args([])`,
        'print(json.dumps([o.index_url, o.extra_index_urls, o.find_links, bool(o.no_index), o.trusted_hosts]))',
      ].join('\n');
      const pip = JSON.parse(execFileSync('python3', ['-c', script], { env, encoding: 'utf8' }));
      const ours = await readPipConfig({ env, home, cwd: tmp, etcDir: path.join(tmp, 'etc'), command });
      expect([ours.indexUrl, ours.extraIndexUrls, ours.findLinks, ours.noIndex, ours.trustedHosts]).toEqual(pip);
    }
  });
});
