// Schedule triggers in one gateway, with the scheduler's clock handed in (the background loop is
// off in these tests): a tick becomes one job however often it is looked at, catchUp decides what
// happens after downtime, the time zone is honoured, and the function receives its schedule
// argument. Firing once across two gateways is in gateways.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExecutorWorld, ok, type ExecutorWorld } from './fixture.ts';

let w: ExecutorWorld;
const LOG_ARGS = 'export default async (a) => { console.log(JSON.stringify(a)); return "ok"; }';
const HOUR = 3600_000;

const schedule = (cron: string, extra: Record<string, unknown> = {}) => ({
  trigger: { kind: 'schedule', cron, ...extra }, target: { kind: 'function', function: 'log-args' },
});
const tick = (at: Date) => w.s.running.services.executors.scheduler.tick(at);
const jobsOf = async (name: string) => ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/executors/${name}/jobs?limit=100`), 200).body.jobs as any[];

/** What the function was called with, from the log line of the job's last attempt. */
async function argsOf(jobId: string) {
  const job = await w.waitForJob(jobId);
  expect(job.status).toBe('succeeded');
  const inv = ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/log-args/invocations/${job.attempts.at(-1).invocationId}`), 200);
  return JSON.parse(inv.body.logs[0].message);
}

beforeAll(async () => {
  w = await startExecutorWorld();
  ok(await w.deploy('log-args', LOG_ARGS), 201);
});
afterAll(async () => { await w?.close(); });

describe('schedules', () => {
  it('turn a tick into one job, however many times and however concurrently it is looked at', async () => {
    ok(await w.putExecutor('every-5', schedule('*/5 * * * *')), 201);
    const later = new Date(Date.now() + 7 * 60_000);
    const results = await Promise.all([tick(later), tick(later), tick(later)]);
    const jobs = (await jobsOf('every-5'));
    expect(jobs).toHaveLength(1);
    expect(results.reduce((n, r) => n + r.fired, 0)).toBeGreaterThanOrEqual(1);
    await tick(later);
    expect(await jobsOf('every-5')).toHaveLength(1);
    const args = await argsOf(jobs[0].id);
    expect(args).toEqual({ trigger: 'schedule', executor: 'every-5', jobId: jobs[0].id, attempt: 1, scheduledTime: jobs[0].scheduledTime });
    const at = new Date(args.scheduledTime);
    expect(at.getUTCMinutes() % 5).toBe(0);
    expect(at.getTime()).toBeLessThanOrEqual(later.getTime());
    expect(later.getTime() - at.getTime()).toBeLessThan(5 * 60_000);
  });

  it('after downtime, run once for the latest missed tick with catchUp "latest", and not at all with "none"', async () => {
    ok(await w.putExecutor('nightly-latest', schedule('0 3 * * *', { timezone: 'America/New_York' })), 201);
    ok(await w.putExecutor('nightly-none', schedule('0 3 * * *', { timezone: 'America/New_York', catchUp: 'none' })), 201);
    const threeDaysLater = new Date(Date.now() + 72 * HOUR);
    await tick(threeDaysLater);
    const latest = await jobsOf('nightly-latest');
    expect(latest).toHaveLength(1);
    expect(await jobsOf('nightly-none')).toHaveLength(0);
    // The most recent 03:00 in New York before that moment.
    const when = new Date(latest[0].scheduledTime);
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' }).format(when);
    expect(parts).toBe('03:00');
    expect(threeDaysLater.getTime() - when.getTime()).toBeLessThan(24 * HOUR);
    expect((await argsOf(latest[0].id)).scheduledTime).toBe(when.toISOString());
  });

  it('fire a tick that is due on time with catchUp "none", and nothing while disabled', async () => {
    ok(await w.putExecutor('hourly-none', schedule('0 * * * *', { catchUp: 'none' })), 201);
    const nextHour = new Date(Math.ceil(Date.now() / HOUR) * HOUR + 1000);
    await tick(nextHour);
    expect(await jobsOf('hourly-none')).toHaveLength(1);
    ok(await w.putExecutor('hourly-off', { ...schedule('0 * * * *'), disabled: true }), 201);
    await tick(new Date(nextHour.getTime() + 5 * HOUR));
    expect(await jobsOf('hourly-off')).toHaveLength(0);
  });

  it('can be fired by hand (editor), and the function sees a schedule run', async () => {
    ok(await w.putExecutor('by-hand', schedule('0 0 1 1 *')), 201);
    ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/executors/by-hand/trigger`, { key: w.users.viewer.key, body: {} }), 403);
    const r = ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/executors/by-hand/trigger`, { key: w.users.editor.key, body: {} }), 202);
    const args = await argsOf(r.body.jobId);
    expect(args).toMatchObject({ trigger: 'schedule', executor: 'by-hand', jobId: r.body.jobId, attempt: 1, manual: true });
    expect(Number.isNaN(Date.parse(args.scheduledTime))).toBe(false);
    expect((await jobsOf('by-hand'))[0]).toMatchObject({ trigger: 'manual', status: 'succeeded' });
  });
});
