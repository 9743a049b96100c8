/** Every relative link in the README and docs/ names a file that exists, and an anchor that file has. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { REPO } from '@nx-pex/testkit';

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1]!)));
}

const pages = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

test.each(pages)('%s links only to files and anchors that exist', (page) => {
  const file = join(REPO, page);
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  const broken: string[] = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!;
    if (/^[a-z]+:/.test(target)) continue;
    const [path, anchor] = target.split('#') as [string, string | undefined];
    const to = path ? resolve(dirname(file), path) : file;
    if (!existsSync(to)) broken.push(`${target} (no such file)`);
    else if (anchor && to.endsWith('.md') && !anchors(to).has(anchor)) broken.push(`${target} (no such heading)`);
  }
  expect(broken).toEqual([]);
});
