import { describe, expect, it } from 'vitest';
import { createRedactor, redactJsonResult, redactSecrets, secretForms } from '../../runtime/redact.ts';

describe('redact', () => {
  const value = 's3cr3t/+?value';
  it('covers verbatim, base64, base64url, hex and URL-encoded forms', () => {
    const b = Buffer.from(value);
    for (const form of [value, b.toString('base64'), b.toString('base64url'), b.toString('hex'), b.toString('hex').toUpperCase(), encodeURIComponent(value)]) {
      expect(redactSecrets(`x ${form} y`, [value])).toBe('x [REDACTED] y');
    }
  });
  it('skips values shorter than 4 characters', () => {
    expect(secretForms('abc')).toEqual([]);
    expect(redactSecrets('abc abcd', ['abc', 'abcd'])).toBe('abc [REDACTED]');
  });
  it('replaces the longest value first', () => {
    expect(redactSecrets('token-123456', ['token', 'token-123456'])).toBe('[REDACTED]');
  });
  it('redacts JSON-escaped values and keeps the JSON valid', () => {
    const quoted = 'he said "hi"\\n';
    const r = createRedactor([quoted]);
    expect(redactJsonResult(JSON.stringify({ a: quoted, b: JSON.stringify({ c: quoted }) }), r)).toEqual({ a: '[REDACTED]', b: '{"c":"[REDACTED]"}' });
  });
  it('falls back to a walk when a value matched outside a string', () => {
    expect(redactJsonResult('{"n":123456,"s":"123456"}', createRedactor(['123456']))).toEqual({ n: '[REDACTED]', s: '[REDACTED]' });
  });
});
