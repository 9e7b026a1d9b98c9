// Calls `onChange` once shortly after any of `files` changes. Directories are watched rather than
// the files: editors save by writing a new file and renaming it over the old one, which ends a
// watch on the file itself. Changes within `settleMs` of each other are one call.
import fs from 'node:fs';
import path from 'node:path';

export interface FileWatch { close(): void }

export function watchFiles(files: string[], onChange: (changed: string[]) => void, settleMs = 150): FileWatch {
  const byDir = new Map<string, Set<string>>();
  for (const f of files) {
    const dir = path.dirname(f);
    if (!byDir.has(dir)) byDir.set(dir, new Set());
    byDir.get(dir)!.add(path.basename(f));
  }
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const watchers: fs.FSWatcher[] = [];
  for (const [dir, names] of byDir) {
    let w: fs.FSWatcher;
    try {
      w = fs.watch(dir, (_event, name) => {
        // Some platforms give no name: then any change in the directory counts.
        if (name && !names.has(name.toString())) return;
        pending.add(name ? path.join(dir, name.toString()) : dir);
        clearTimeout(timer);
        timer = setTimeout(() => { const changed = [...pending]; pending.clear(); onChange(changed); }, settleMs);
      });
    } catch {
      continue; // a directory that does not exist (yet): nothing in it to watch
    }
    w.on('error', () => {});
    watchers.push(w);
  }
  return {
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
