/**
 * No function in the engine (nor in the packages already held to it) spans more than 80 lines:
 * a longer one is a pipeline stage doing several things at once, to be split into named steps.
 * Every function counts: declarations, methods, constructors, accessors, arrow functions and
 * function expressions, each measured from its first line to its last.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as ts from 'typescript';
import { REPO } from '@nx-pex/testkit';

const MAX_LINES = 80;

/** The packages held to the bound. A package joins once its last long function is split. */
const CHECKED = ['engine', 'fs', 'pep', 'interpreter', 'project', 'index', 'store', 'resolver', 'image', 'cli'];

interface LongFunction {
  /** `file:line` of the function's first line. */
  where: string;
  name: string;
  lines: number;
}

/** A function's name as a reader finds it: its own, or the variable, property or argument position it is bound to. */
function functionName(fn: ts.SignatureDeclaration, sf: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(fn)) return 'constructor';
  if (fn.name) return fn.name.getText(sf);
  const parent = fn.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && parent.name) return parent.name.getText(sf);
  if (ts.isCallExpression(parent)) return `<function passed to ${parent.expression.getText(sf)}>`;
  return '<anonymous function>';
}

/** The functions of one source text that span more than `max` lines, outermost first. */
function longFunctions(file: string, text: string, max: number): LongFunction[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (last - first + 1 > max) found.push({ where: `${file}:${first + 1}`, name: functionName(node, sf), lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** A function of `n` lines in the given form (`n` ≥ 3). */
function fn(form: 'declaration' | 'arrow' | 'method' | 'expression', n: number): string {
  const body = Array.from({ length: n - 2 }, (_, i) => `  const x${i} = ${i};`).join('\n');
  switch (form) {
    case 'declaration':
      return `export function long(): void {\n${body}\n}\n`;
    case 'arrow':
      return `const long = (): void => {\n${body}\n};\n`;
    case 'method':
      return `class C {\n  long(): void {\n${body}\n  }\n}\n`;
    case 'expression':
      return `register(function (): void {\n${body}\n});\n`;
  }
}

describe('the line count of functions', () => {
  it.each(['declaration', 'arrow', 'method', 'expression'] as const)('finds the %s form one line over the bound, and passes it at the bound', (form) => {
    const name = form === 'expression' ? '<function passed to register>' : 'long';
    const line = form === 'method' ? 2 : 1;
    expect(longFunctions('x.ts', fn(form, MAX_LINES + 1), MAX_LINES)).toEqual([{ where: `x.ts:${line}`, name, lines: MAX_LINES + 1 }]);
    expect(longFunctions('x.ts', fn(form, MAX_LINES), MAX_LINES)).toEqual([]);
  });

  it('counts a function nested in a long one on its own', () => {
    const text = `function outer(): void {\n${fn('arrow', 60)}${fn('arrow', 60)}}\n`;
    expect(longFunctions('x.ts', text, MAX_LINES)).toEqual([{ where: 'x.ts:1', name: 'outer', lines: 122 }]);
  });
});

describe.each(CHECKED)('packages/%s/src', (pkg) => {
  it(`has no function over ${MAX_LINES} lines`, () => {
    const files = sources(join(REPO, 'packages', pkg, 'src'));
    expect(files.length).toBeGreaterThan(0);
    const long = files.flatMap((f) => longFunctions(relative(REPO, f), readFileSync(f, 'utf8'), MAX_LINES));
    expect(long.map((l) => `${l.where} ${l.name}: ${l.lines} lines`)).toEqual([]);
  });
});
