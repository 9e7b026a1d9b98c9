// Event filters: exact names or * globs. The pattern is user text, so it is matched without
// building a RegExp from it: a plain split on "*" and ordered substring search.
export function globMatches(pattern: string, name: string | null | undefined): boolean {
  if (name === null || name === undefined) return false;
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === name;
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (!name.startsWith(first) || name.length < first.length + last.length) return false;
  let at = first.length;
  for (const middle of parts.slice(1, -1)) {
    const i = name.indexOf(middle, at);
    if (i < 0) return false;
    at = i + middle.length;
  }
  return name.length - last.length >= at && name.endsWith(last);
}
