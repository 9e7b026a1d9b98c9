// Resident memory of a process and of all its descendants (the sandbox workers), in MB, read from
// /proc (Linux). Descendants are found by walking /proc/*/stat for parent pids rather than
// /proc/<pid>/task/<pid>/children, which exists only on kernels built with CONFIG_PROC_CHILDREN
// (not this machine's) and lists only the children of that one thread.
import fs from 'node:fs';

export interface MemorySample { gatewayMb: number; workersMb: number; workers: number; workerMb: number[] }

function parentOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined; // gone since the directory was listed
  }
}

export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ppid = parentOf(pid);
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const walk = (p: number) => { for (const c of children.get(p) ?? []) { out.push(c); walk(c); } };
  walk(root);
  return out;
}

function rssMb(pid: number): number | undefined {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** undefined where there is no /proc (not Linux) or the process is gone. */
export function memoryOf(pid: number): MemorySample | undefined {
  if (!fs.existsSync('/proc/self/stat')) return undefined;
  const gateway = rssMb(pid);
  if (gateway === undefined) return undefined;
  const workerMb = descendantsOf(pid).map(rssMb).filter((m): m is number => m !== undefined).map((m) => Math.round(m));
  return { gatewayMb: Math.round(gateway), workersMb: workerMb.reduce((a, b) => a + b, 0), workers: workerMb.length, workerMb };
}
