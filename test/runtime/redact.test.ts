import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRedactor, redactJsonResult, redactSecrets, secretForms, WITHHELD } from '../../runtime/redact.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('redact', () => {
  const value = 's3cr3t/+?value with space';
  it('covers verbatim, base64, base64url, hex, URL-, URI- and form-encoded forms, either case of %xx and hex', () => {
    const b = Buffer.from(value);
    const forms = [
      value, b.toString('base64'), b.toString('base64').replace(/=+$/, ''), b.toString('base64url'),
      b.toString('hex'), b.toString('hex').toUpperCase(), encodeURIComponent(value), encodeURIComponent(value).toLowerCase(),
      encodeURI(value), new URLSearchParams({ v: value }).toString().slice(2), JSON.stringify(value), JSON.stringify(JSON.stringify(value)),
    ];
    for (const form of forms) {
      const out = redactSecrets(`x ${form} y`, [value]);
      expect(out, form).toMatch(/^x .*\[REDACTED\].* y$/);
      expect(out, form).not.toContain(form.slice(2, 12));
    }
  });

  it('finds base64 of a value embedded at each of the three alignments', () => {
    const token = crypto.randomBytes(24).toString('base64url');
    for (const prefix of ['', 'u:', 'us:', 'user:', 'a-much-longer-user-name:']) {
      const header = `Authorization: Basic ${b64(prefix + token + ':x')}`;
      const out = redactSecrets(header, [token]);
      expect(out, prefix).toContain('[REDACTED]');
      // What is left of the base64 decodes to the prefix's bytes at most, never four of the token's.
      const rest = out.replace('Authorization: Basic ', '').split('[REDACTED]').join('');
      expect(Buffer.from(rest, 'base64').toString('latin1')).not.toContain(token.slice(0, 4));
    }
  });

  it('catches the NFC and NFD spellings of a value, and what V8 quotes of it in a JSON.parse error', () => {
    const accented = 'caf\u00e9-cr\u00e8me-br\u00fbl\u00e9e-42';
    expect(redactSecrets(`a ${accented.normalize('NFD')} b`, [accented])).toBe('a [REDACTED] b');
    let message = '';
    try { JSON.parse('sk_live_0123456789abcdef'); } catch (e) { message = (e as Error).message; }
    expect(message).toContain('sk_live_01');
    expect(redactSecrets(message, ['sk_live_0123456789abcdef'])).not.toContain('sk_live_01');
  });

  it('skips values shorter than 8 characters', () => {
    expect(secretForms('1234567')).toEqual([[], [], []]);
    expect(redactSecrets('1234567 12345678', ['1234567', '12345678'])).toBe('1234567 [REDACTED]');
  });

  it('redacts overlapping values as one range, the longest first', () => {
    expect(redactSecrets('token-123456', ['token-12', 'token-123456'])).toBe('[REDACTED]');
    expect(redactSecrets('<AAAABBBBCCCC>', ['AAAABBBB', 'BBBBCCCC'])).toBe('<[REDACTED]>');
  });

  it('handles values of 64 KiB in any character set, without a regular expression', () => {
    for (const alphabet of ['latin', 'emoji', 'cjk']) {
      const unit = alphabet === 'latin' ? 'x' : alphabet === 'emoji' ? '\u{1F511}' : '\u79d8';
      const big = crypto.randomBytes(20).toString('hex') + unit.repeat(alphabet === 'latin' ? 65_000 : 16_000);
      const out = redactSecrets(`before ${big} middle ${b64(big)} after`, [big]);
      expect(out).toBe('before [REDACTED] middle [REDACTED] after');
    }
  });

  it('keeps only the text before a cut, and a match that starts before it goes whole', () => {
    const secret = 'abcdefghijklmnop';
    const text = `ok ${secret} tail`;
    const r = createRedactor([secret]);
    expect(r.text(text, 5)).toBe('ok [REDACTED]');
    expect(r.text(text, 2)).toBe('ok');
    expect(r.longestForm).toBeGreaterThanOrEqual(JSON.stringify(JSON.stringify(secret)).length - 2);
  });

  it('withholds a text built to exhaust the comparison budget instead of letting it through', () => {
    const secret = 'a'.repeat(60_000) + 'b';
    const out = createRedactor([secret]).text('a'.repeat(200_000));
    expect(out).toBe(WITHHELD);
  });

  it('redacts JSON-escaped values and keeps the JSON valid', () => {
    const quoted = 'he said "hi"\\n now';
    const r = createRedactor([quoted]);
    expect(redactJsonResult(JSON.stringify({ a: quoted, b: JSON.stringify({ c: quoted }) }), r)).toEqual({ a: '[REDACTED]', b: '{"c":"[REDACTED]"}' });
  });

  it('falls back to a walk when a value matched outside a string', () => {
    expect(redactJsonResult('{"n":12345678,"s":"12345678"}', createRedactor(['12345678']))).toEqual({ n: '[REDACTED]', s: '[REDACTED]' });
  });

  it('costs time linear in the output: 100 values of 16 KiB against 256 KiB of logs', () => {
    const values = Array.from({ length: 100 }, () => crypto.randomBytes(12 * 1024).toString('base64'));
    const logs = crypto.randomBytes(192 * 1024).toString('base64') + values[7];
    const t0 = performance.now();
    const r = createRedactor(values);
    const out = r.text(logs);
    const ms = performance.now() - t0;
    expect(out.endsWith('[REDACTED]')).toBe(true);
    // Not a timing assertion on a shared machine: a quadratic or regex-based redactor takes seconds here.
    expect(ms).toBeLessThan(20_000);
  });

  it('finds every value whatever the number of values its filter was sized for', () => {
    for (const count of [1, 2, 5, 40, 3000]) {
      const values = Array.from({ length: count }, (_, i) => `value-${i}-${crypto.randomBytes(9).toString('base64url')}`);
      const r = createRedactor(values);
      for (const i of new Set([0, Math.floor(count / 2), count - 1])) {
        expect(r.text(`a ${values[i]} b ${b64(values[i])}`), `${count} values, #${i}`).toBe('a [REDACTED] b [REDACTED]');
      }
      expect(r.text('nothing secret in this line at all')).toBe('nothing secret in this line at all');
    }
  });
});
