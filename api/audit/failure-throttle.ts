// Failed authentication is the one thing anyone can make Coffer audit without a credential, so its
// rows are rate-limited per source address: the first `rowsPerWindow` failures from an address in
// a window get a row each; the rest are counted and, when the window ends, written as one row
// (`detail.suppressed`: how many, and their reasons), so an attack costs one row per address per
// window instead of one per request, and is still on the trail.
import type { AuditEntry, AuditLog } from './audit-log.ts';

export interface FailureThrottleOptions {
  rowsPerWindow: number;
  windowMs: number;
  /** Addresses remembered at once; the oldest window is written out and forgotten first. */
  maxSources?: number;
  now?: () => number;
}

interface Window {
  action: string;
  source: string;
  startedAt: number;
  written: number;
  suppressed: number;
  reasons: Record<string, number>;
  lastAt: number;
}

export interface FailureThrottle {
  /** Audits one failure from `source`, or counts it if the address used its rows for this window. */
  record(source: string, entry: AuditEntry & { detail: { reason: string } & Record<string, unknown> }): Promise<void>;
  /** Writes the counted rows of every window that has ended (all windows with `all`). */
  flush(all?: boolean): Promise<void>;
  close(): Promise<void>;
}

const MAX_REASONS = 16;

export function createFailureThrottle(audit: AuditLog, options: FailureThrottleOptions): FailureThrottle {
  const { rowsPerWindow, windowMs, maxSources = 10_000, now = Date.now } = options;
  if (!(rowsPerWindow >= 1) || !(windowMs > 0)) throw new Error('createFailureThrottle: rowsPerWindow must be >= 1 and windowMs > 0');
  const windows = new Map<string, Window>();
  const timer = setInterval(() => void flush(), windowMs);
  timer.unref();

  function summary(w: Window): AuditEntry {
    return {
      action: w.action, outcome: 'denied',
      detail: {
        source: w.source, suppressed: w.suppressed, reasons: w.reasons,
        windowStart: new Date(w.startedAt).toISOString(), lastAt: new Date(w.lastAt).toISOString(),
      },
    };
  }

  async function writeOut(ws: Window[]) {
    const rows = ws.filter((w) => w.suppressed > 0).map(summary);
    if (rows.length > 0) await audit.appendAll(rows);
  }

  async function flush(all = false) {
    const at = now();
    const ended: Window[] = [];
    for (const [key, w] of windows) {
      if (all || at - w.startedAt >= windowMs) { ended.push(w); windows.delete(key); }
    }
    await writeOut(ended).catch(() => {});
  }

  return {
    async record(source, entry) {
      const at = now();
      const key = `${entry.action}\0${source}`;
      let w = windows.get(key);
      if (w && at - w.startedAt >= windowMs) {
        windows.delete(key);
        void writeOut([w]).catch(() => {});
        w = undefined;
      }
      if (!w) {
        w = { action: entry.action, source, startedAt: at, written: 0, suppressed: 0, reasons: {}, lastAt: at };
        windows.set(key, w);
        while (windows.size > maxSources) {
          const [oldestKey, oldest] = windows.entries().next().value!;
          windows.delete(oldestKey);
          void writeOut([oldest]).catch(() => {});
        }
      }
      w.lastAt = at;
      if (w.written < rowsPerWindow) {
        w.written++;
        await audit.append({ ...entry, detail: { ...entry.detail, source } });
        return;
      }
      w.suppressed++;
      const reason = entry.detail.reason;
      if (Object.hasOwn(w.reasons, reason) || Object.keys(w.reasons).length < MAX_REASONS) w.reasons[reason] = (w.reasons[reason] ?? 0) + 1;
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush(true);
    },
  };
}
