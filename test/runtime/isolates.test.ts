// The warm-isolate bookkeeping of a worker (runtime/isolates.ts), with stand-in isolates and a fake clock.
import { describe, expect, it } from 'vitest';
import { createIsolatePool } from '../../runtime/isolates.ts';

interface Fake { id: number; key: string; disposed: boolean }

function pool(perKey = 2, total = 3, idleMs = 1000) {
  let clock = 0;
  let made = 0;
  const p = createIsolatePool<Fake>({
    perKey, total, idleMs, now: () => clock,
    create: (key) => ({ id: ++made, key, disposed: false }),
    dispose: (f) => { f.disposed = true; },
  });
  return { p, tick: (ms: number) => { clock += ms; }, made: () => made };
}

describe('isolate pool', () => {
  it('a released isolate is reused for its own key only', () => {
    const { p, made } = pool();
    const a = p.acquire('32:ws-a')!;
    p.release('32:ws-a', a, true);
    expect(p.acquire('32:ws-b')).not.toBe(a);
    expect(p.acquire('32:ws-a')).toBe(a);
    expect(made()).toBe(2);
  });

  it('each acquire while the others are busy gets its own isolate, up to the per-key cap', () => {
    const { p } = pool(2, 10);
    const a = p.acquire('k')!;
    const b = p.acquire('k')!;
    expect(a).not.toBe(b);
    expect(p.acquire('k')).toBeUndefined();
    p.release('k', a, true);
    expect(p.acquire('k')).toBe(a);
  });

  it('an unhealthy isolate is disposed and never handed out again', () => {
    const { p } = pool();
    const a = p.acquire('k')!;
    p.release('k', a, false);
    expect(a.disposed).toBe(true);
    const b = p.acquire('k')!;
    expect(b).not.toBe(a);
    expect(p.counts()).toEqual({ active: 1, idle: 0 });
  });

  it('at the worker cap the least recently used idle isolate makes room', () => {
    const { p, tick } = pool(2, 3);
    const a = p.acquire('a')!;
    const b = p.acquire('b')!;
    const c = p.acquire('c')!;
    p.release('b', b, true);
    tick(1);
    p.release('a', a, true);
    const d = p.acquire('d')!;
    expect(b.disposed).toBe(true);
    expect(a.disposed).toBe(false);
    expect(p.acquire('e')).not.toBeUndefined(); // a goes too
    expect(a.disposed).toBe(true);
    expect(p.acquire('f')).toBeUndefined(); // c, d and e are busy
    expect(c.disposed || d.disposed).toBe(false);
  });

  it('isolates idle longer than idleMs are swept', () => {
    const { p, tick } = pool(2, 10, 1000);
    const a = p.acquire('k')!;
    const b = p.acquire('k')!;
    const busy = p.acquire('other')!;
    p.release('k', a, true);
    tick(600);
    p.release('k', b, true);
    tick(500);
    expect(p.sweep()).toBe(1);
    expect(a.disposed).toBe(true);
    expect(b.disposed).toBe(false);
    expect(busy.disposed).toBe(false);
    expect(p.counts()).toEqual({ active: 1, idle: 1 });
    expect(p.acquire('k')).toBe(b);
  });
});
