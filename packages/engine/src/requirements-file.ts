import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UserError } from '@nx-pex/pep';

/**
 * The requirements of a pip requirements file (`-r`): one per line, `#` comments, `\`
 * continuations, and nested `-r`/`--requirement` files (relative to the including file). Any
 * other pip option in the file is an error naming it, since nx-pex would otherwise ignore it.
 */
export async function readRequirementsFile(
  path: string,
  seen: Set<string> = new Set(),
  /** Receives the lines of `-c` / `--constraint` files named in the file (else they are an error). */
  constraints?: string[],
): Promise<string[]> {
  const file = resolve(path);
  if (seen.has(file)) throw new UserError(`${file} includes itself through -r.`);
  seen.add(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UserError(`Cannot read the requirements file ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
  }
  const out: string[] = [];
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!;
    line = line.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    const nested = /^(?:-r|--requirement|--requirements)(?:\s+|=)(.+)$/.exec(line);
    if (nested) {
      out.push(...(await readRequirementsFile(resolve(dirname(file), nested[1]!.trim()), seen, constraints)));
      continue;
    }
    const constraint = /^(?:-c|--constraint|--constraints)(?:\s+|=)(.+)$/.exec(line);
    if (constraint && constraints) {
      constraints.push(...(await readRequirementsFile(resolve(dirname(file), constraint[1]!.trim()), new Set(seen), constraints)));
      continue;
    }
    // An editable requirement is taken as a normal one, as pex does.
    const editable = /^(?:-e|--editable)(?:\s+|=)(.+)$/.exec(line);
    if (editable) {
      out.push(editable[1]!.trim());
      continue;
    }
    if (line.startsWith('-')) {
      const option = line.split(/[\s=]/)[0];
      throw new UserError(`${file}:${lineNo}: the pip option ${option} in a requirements file is not supported by nx-pex yet; remove it.`);
    }
    if (/\s--?[a-z]/.test(line)) {
      const option = /\s(--?[a-z][\w-]*)/.exec(line)![1];
      throw new UserError(`${file}:${lineNo}: the per-requirement option ${option} is not supported by nx-pex yet; remove it.`);
    }
    out.push(line);
  }
  return out;
}
