/** PEP 503 name normalisation: lower case, runs of `-`, `_` and `.` become one `-`. */
export function canonicalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}
