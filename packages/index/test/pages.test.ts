import { IndexResponseError, parseHtmlPage, parseJsonPage, redactUrl, redactText } from '@nx-pex/index';

const A = 'a'.repeat(64);
const B = 'B'.repeat(64);

describe('parseJsonPage (PEP 691)', () => {
  it("reads PEP 691's example project page", () => {
    const page = JSON.stringify({
      meta: { 'api-version': '1.0' },
      name: 'holygrail',
      files: [
        {
          filename: 'holygrail-1.0.tar.gz',
          url: 'https://example.com/files/holygrail-1.0.tar.gz',
          hashes: { sha256: A, blake2b: 'ff' },
          'requires-python': '>=3.7',
          yanked: 'Had a vulnerability',
        },
        {
          filename: 'holygrail-1.0-py3-none-any.whl',
          url: 'https://example.com/files/holygrail-1.0-py3-none-any.whl',
          hashes: { sha256: B, blake2b: 'ff' },
          'requires-python': '>=3.7',
          'dist-info-metadata': true,
        },
      ],
    });
    expect(parseJsonPage(page, 'https://example.com/simple/holygrail/')).toEqual([
      {
        filename: 'holygrail-1.0.tar.gz',
        url: 'https://example.com/files/holygrail-1.0.tar.gz',
        sha256: A,
        requiresPython: '>=3.7',
        yanked: 'Had a vulnerability',
        source: 'https://example.com/simple/holygrail/',
      },
      {
        filename: 'holygrail-1.0-py3-none-any.whl',
        url: 'https://example.com/files/holygrail-1.0-py3-none-any.whl',
        sha256: B.toLowerCase(),
        requiresPython: '>=3.7',
        coreMetadata: true,
        source: 'https://example.com/simple/holygrail/',
      },
    ]);
  });

  it('resolves relative URLs, prefers core-metadata (PEP 714), reads size (v1.1) and boolean yanked', () => {
    const page = JSON.stringify({
      meta: { 'api-version': '1.1' },
      files: [
        { filename: 'x-1-py3-none-any.whl', url: '../../f/x-1-py3-none-any.whl', hashes: {}, 'core-metadata': { sha256: A }, 'dist-info-metadata': false, yanked: true, size: 123 },
        { filename: 'x-2-py3-none-any.whl', url: 'x-2-py3-none-any.whl', hashes: {}, yanked: false, 'dist-info-metadata': { sha256: B } },
      ],
    });
    const files = parseJsonPage(page, 'http://h:1/simple/x/', 'idx');
    expect(files[0]).toEqual({ filename: 'x-1-py3-none-any.whl', url: 'http://h:1/f/x-1-py3-none-any.whl', coreMetadata: { sha256: A }, yanked: true, size: 123, source: 'idx' });
    expect(files[1]).toEqual({ filename: 'x-2-py3-none-any.whl', url: 'http://h:1/simple/x/x-2-py3-none-any.whl', coreMetadata: { sha256: B.toLowerCase() }, source: 'idx' });
  });

  it('rejects other major API versions and non-JSON, naming the redacted URL', () => {
    expect(() => parseJsonPage('{"meta":{"api-version":"2.0"},"files":[]}', 'https://u:secret@h/simple/x/')).toThrow(IndexResponseError);
    expect(() => parseJsonPage('{"meta":{"api-version":"2.0"},"files":[]}', 'https://u:secret@h/simple/x/')).toThrow(/https:\/\/\*\*\*@h\/simple\/x\/ uses simple API version "2.0"/);
    expect(() => parseJsonPage('<html>', 'https://h/simple/x/')).toThrow(/invalid JSON/);
  });
});

describe('parseHtmlPage (PEP 503 / 592 / 658 / 714)', () => {
  it("reads PEP 691's HTML example with entities, hashes and data attributes", () => {
    const html = `<!DOCTYPE html>
<html>
  <head><meta name="pypi:repository-version" content="1.0"><title>Links for holygrail</title></head>
  <body>
    <h1>Links for holygrail</h1>
    <a href="https://example.com/files/holygrail-1.0.tar.gz#sha256=${A}" data-requires-python="&gt;=3.7" data-yanked="Had a vulnerability">holygrail-1.0.tar.gz</a>
    <a href="https://example.com/files/holygrail-1.0-py3-none-any.whl#sha256=${B}" data-requires-python="&gt;=3.7" data-dist-info-metadata="true">holygrail-1.0-py3-none-any.whl</a>
  </body>
</html>`;
    expect(parseHtmlPage(html, 'https://example.com/simple/holygrail/')).toEqual([
      { filename: 'holygrail-1.0.tar.gz', url: 'https://example.com/files/holygrail-1.0.tar.gz', sha256: A, requiresPython: '>=3.7', yanked: 'Had a vulnerability', source: 'https://example.com/simple/holygrail/' },
      { filename: 'holygrail-1.0-py3-none-any.whl', url: 'https://example.com/files/holygrail-1.0-py3-none-any.whl', sha256: B.toLowerCase(), requiresPython: '>=3.7', coreMetadata: true, source: 'https://example.com/simple/holygrail/' },
    ]);
  });

  it('handles relative links, <base href>, empty data-yanked, core-metadata hashes, other hash names and non-archives', () => {
    const html = `<html><head><base href="https://cdn.example/pkgs/"></head><body>
      <A HREF="x-1.0-py3-none-any.whl#md5=abc" DATA-YANKED data-core-metadata="sha256=${A}" data-dist-info-metadata="true">x</A>
      <a href="../other/x-1.1.tar.gz#sha256=${A}" data-dist-info-metadata="sha256=${B}">x-1.1.tar.gz</a>
      <a href="x%2Bcpu-1.2-py3-none-any.whl">escaped</a>
      <a href="/simple/">not a file</a>
      <a>no href</a>
    </body></html>`;
    expect(parseHtmlPage(html, 'https://index.example/simple/x/', 'src')).toEqual([
      { filename: 'x-1.0-py3-none-any.whl', url: 'https://cdn.example/pkgs/x-1.0-py3-none-any.whl', yanked: true, coreMetadata: { sha256: A }, source: 'src' },
      { filename: 'x-1.1.tar.gz', url: 'https://cdn.example/other/x-1.1.tar.gz', sha256: A, coreMetadata: { sha256: B.toLowerCase() }, source: 'src' },
      { filename: 'x+cpu-1.2-py3-none-any.whl', url: 'https://cdn.example/pkgs/x%2Bcpu-1.2-py3-none-any.whl', source: 'src' },
    ]);
  });

  it('never keeps credentials in the file URLs or the source', () => {
    const html = '<a href="files/x-1.0.tar.gz">x</a><a href="https://u:p@other/x-2.0.tar.gz">x</a>';
    const files = parseHtmlPage(html, 'https://user:s3cret@index.example/simple/x/');
    expect(files.map((f) => f.url)).toEqual(['https://index.example/simple/x/files/x-1.0.tar.gz', 'https://other/x-2.0.tar.gz']);
    expect(JSON.stringify(files)).not.toMatch(/s3cret|u:p/);
  });
});

describe('redactUrl', () => {
  it('hides user and password, even with @ in the password', () => {
    expect(redactUrl('https://user:pa@ss@host.example/simple')).toBe('https://***@host.example/simple');
    expect(redactUrl('https://token@host/simple/?a=b@c')).toBe('https://***@host/simple/?a=b@c');
    expect(redactUrl('https://host/simple/')).toBe('https://host/simple/');
    expect(redactUrl('/opt/wheels')).toBe('/opt/wheels');
    expect(redactText('failed GET https://u:p@h/x and http://a:b@c/')).toBe('failed GET https://***@h/x and http://***@c/');
  });
});
