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

/**
 * Warm-up until a load is steady: `window` runs one window of load and answers its rate. At least
 * `min` windows, then on until one no longer beats the best before it by 5 %; at most `max`.
 * Answers the rates in order.
 */
export async function warmUntilSteady(window: () => Promise<number>, min: number, max: number): Promise<number[]> {
  const rates: number[] = [];
  while (rates.length < max) {
    rates.push(await window());
    if (rates.length >= min && rates.at(-1)! <= Math.max(...rates.slice(0, -1)) * 1.05) break;
  }
  return rates;
}
