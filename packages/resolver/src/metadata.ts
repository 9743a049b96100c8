/** Core metadata (the METADATA file of a wheel, or a PEP 658 `.metadata` file): what resolution reads. */
import { canonicalizeName } from '@nx-pex/pep';

export interface CoreMetadata {
  name?: string;
  version?: string;
  requiresDist: string[];
  requiresPython?: string;
  providesExtra: string[];
}

/** Parses the RFC 822 header block of core metadata (the body, the description, is ignored). */
export function parseCoreMetadata(text: string): CoreMetadata {
  const head = text.replace(/\r\n?/g, '\n').split('\n\n')[0]!;
  const lines = head.split('\n');
  const out: CoreMetadata = { requiresDist: [], providesExtra: [] };
  for (let i = 0; i < lines.length; i++) {
    const m = /^([A-Za-z0-9-]+):[ \t]*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    let value = m[2]!;
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1]!)) value += ` ${lines[++i]!.trim()}`;
    value = value.trim();
    switch (m[1]!.toLowerCase()) {
      case 'name':
        out.name = value;
        break;
      case 'version':
        out.version = value;
        break;
      case 'requires-dist':
        out.requiresDist.push(value);
        break;
      case 'requires-python':
        if (value) out.requiresPython = value;
        break;
      case 'provides-extra':
        out.providesExtra.push(canonicalizeName(value));
        break;
    }
  }
  return out;
}
