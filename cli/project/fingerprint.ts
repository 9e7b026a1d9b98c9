// What apply last set, remembered on the server without remembering it: per field, a short hash of
// the field's canonical JSON. Fields are metadata the API answers anyway (roles, limits, code
// hashes, descriptions, a secret's latest version number), never a secret value. Per-field hashes
// let a plan say *which* field drifted.
import crypto from 'node:crypto';
import type { State } from './resources.ts';

export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().filter((k) => (value as State)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((value as State)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const short = (v: unknown) => crypto.createHash('sha256').update(canonical(v)).digest('hex').slice(0, 12);

export function fingerprint(state: State): string {
  return Object.keys(state).sort().map((k) => `${k}=${short(state[k])}`).join(',');
}

/** The fields whose hash differs between a recorded fingerprint and the state now. */
export function driftedFields(recorded: string, now: State): string[] {
  const then = new Map(recorded.split(',').filter(Boolean).map((pair) => pair.split('=') as [string, string]));
  const current = new Map(fingerprint(now).split(',').filter(Boolean).map((pair) => pair.split('=') as [string, string]));
  return [...new Set([...then.keys(), ...current.keys()])].filter((k) => then.get(k) !== current.get(k)).sort();
}

/** Deep equality of the fields `desired` sets: objects compare key by key, undefined means "not managed". */
export function covers(desired: unknown, observed: unknown): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(observed) && desired.length === observed.length && desired.every((d, i) => covers(d, observed[i]));
  }
  if (desired && typeof desired === 'object') {
    if (!observed || typeof observed !== 'object' || Array.isArray(observed)) return false;
    return Object.entries(desired).every(([k, v]) => covers(v, (observed as State)[k]));
  }
  return desired === observed;
}
