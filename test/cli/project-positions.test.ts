// The key scanner behind coffer.toml error positions: headers, dotted and quoted keys, inline
// tables, arrays (of inline tables too), arrays of tables and multi-line strings.
import { describe, it, expect } from 'vitest';
import { keyPositions, positionOf, formatPath } from '../../cli/project/positions.ts';

const text = `# a comment
project = "p"

[vaults."my.vault".secrets.k]
value = { env = "X", version = 2 }

[pipelines.q]
types = """
type A { a: Int }
"""
steps = [
  { name = "one", function = "f" },
  { name = "two", function = "g" },
]

[[grants]]
vault = "a"

[[grants]]
vault = 'b'
a.b.c = 1
`;

describe('coffer.toml key positions', () => {
  const at = keyPositions(text);
  it('places top-level keys, quoted table headers and keys inside inline tables', () => {
    expect(positionOf(at, ['project'])).toEqual({ line: 2, column: 1 });
    expect(positionOf(at, ['vaults', 'my.vault', 'secrets', 'k'])).toEqual({ line: 4, column: 28 });
    expect(positionOf(at, ['vaults', 'my.vault', 'secrets', 'k', 'value', 'version'])).toEqual({ line: 5, column: 22 });
  });
  it('counts past multi-line strings and into arrays of inline tables', () => {
    expect(positionOf(at, ['pipelines', 'q', 'steps'])).toEqual({ line: 11, column: 1 });
    expect(positionOf(at, ['pipelines', 'q', 'steps', 1, 'function'])).toEqual({ line: 13, column: 19 });
  });
  it('numbers arrays of tables, and dotted keys inside them', () => {
    expect(positionOf(at, ['grants', 0, 'vault'])).toEqual({ line: 17, column: 1 });
    expect(positionOf(at, ['grants', 1, 'vault'])).toEqual({ line: 20, column: 1 });
    expect(positionOf(at, ['grants', 1, 'a', 'b', 'c'])).toEqual({ line: 21, column: 5 });
  });
  it('falls back to the nearest placed ancestor', () => {
    expect(positionOf(at, ['grants', 1, 'role'])).toEqual({ line: 19, column: 1 });
    expect(positionOf(at, ['nowhere'])).toEqual({ line: 1, column: 1 });
  });
  it('formats paths as a reader writes them', () => {
    expect(formatPath(['vaults', 'my.vault', 'secrets', 'k'])).toBe('vaults."my.vault".secrets.k');
    expect(formatPath(['grants', 1, 'vault'])).toBe('grants[1].vault');
  });
});
