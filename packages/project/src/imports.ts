/**
 * Top-level module names a Python source file imports (`import a.b` gives `a`, `from a.b import c`
 * gives `a`); relative imports are skipped. A line scanner, not a parser: strings and comments
 * that look like import statements at the start of a line are counted too, which only ever adds
 * edges.
 */
export function importedTopLevelModules(source: string): string[] {
  const found = new Set<string>();
  // Join backslash continuations and parenthesised `import (...)` lists onto one line.
  const text = source.replace(/\\\r?\n/g, ' ').replace(/\(([^)]*)\)/g, (m) => m.replace(/\r?\n/g, ' '));
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/#.*$/, '').trim();
    let m = /^from\s+([A-Za-z_][\w.]*)\s+import\b/.exec(line);
    if (m) {
      found.add(m[1].split('.')[0]);
      continue;
    }
    m = /^import\s+(.+)$/.exec(line);
    if (m) {
      for (const part of m[1].split(',')) {
        const name = /^\s*([A-Za-z_][\w.]*)/.exec(part);
        if (name) found.add(name[1].split('.')[0]);
      }
    }
  }
  return [...found].sort();
}
