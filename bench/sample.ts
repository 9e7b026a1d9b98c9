// One figure of the bench: `op` run back to back for `seconds`, each run's time in ms, sorted.
export async function sampleTimes(op: () => Promise<void>, seconds: number): Promise<number[]> {
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    await op();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}
