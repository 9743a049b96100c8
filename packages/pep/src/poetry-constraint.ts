/** Poetry's version constraint syntax, for projects and locks written by Poetry. */

/**
 * A Poetry version constraint as a PEP 440 specifier: `^1.2` is `>=1.2,<2.0`, `~1.2.3` is
 * `>=1.2.3,<1.3.0`, `1.2.*` is `==1.2.*`, a bare version is `==`, `*` is anything. Alternatives
 * (`||`) have no PEP 440 form: undefined.
 */
export function poetryConstraintToPep440(constraint: string): string | undefined {
  const c = constraint.trim();
  if (c === '' || c === '*') return '';
  if (c.includes('||')) return undefined;
  const parts = c.split(',').map((p) => p.trim()).filter(Boolean);
  const out: string[] = [];
  for (const part of parts) {
    let m = /^\^\s*(\d+(?:\.\d+)*)(.*)$/.exec(part);
    if (m) {
      const rel = m[1]!.split('.').map(Number);
      const idx = rel.findIndex((n) => n !== 0);
      const bump = idx === -1 ? rel.length - 1 : Math.min(idx, rel.length - 1);
      const upper = rel.slice(0, bump + 1);
      upper[bump]! += 1;
      out.push(`>=${m[1]}${m[2]}`, `<${upper.join('.')}`);
      continue;
    }
    m = /^~(?!=)\s*(\d+(?:\.\d+)*)(.*)$/.exec(part);
    if (m) {
      const rel = m[1]!.split('.').map(Number);
      const upper = rel.length === 1 ? [rel[0]! + 1] : [rel[0]!, rel[1]! + 1];
      out.push(`>=${m[1]}${m[2]}`, `<${upper.join('.')}`);
      continue;
    }
    if (/^\d[\w.!+-]*\.\*$/.test(part)) {
      out.push(`==${part}`);
      continue;
    }
    if (/^\d/.test(part)) {
      out.push(`==${part}`);
      continue;
    }
    out.push(part.replace(/\s+/g, ''));
  }
  return out.join(',');
}
