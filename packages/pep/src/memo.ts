/**
 * A parser that keeps, per file, its last input and result: a file parsed again with the same
 * text (the many builds of one batch reading one uv.lock and every workspace pyproject.toml)
 * costs a string comparison. The result is shared, so callers must not change it.
 */
export function lastParsePerFile<T>(parse: (text: string, file: string) => T): (text: string, file: string) => T {
  const last = new Map<string, { text: string; value: T }>();
  return (text, file) => {
    const hit = last.get(file);
    if (hit && hit.text === text) return hit.value;
    const value = parse(text, file);
    last.set(file, { text, value });
    return value;
  };
}
