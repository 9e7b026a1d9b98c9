// Runs every night at 02:00 Berlin time (executor: nightly-report.executor.json). args.scheduledTime
// is the tick being run, not the wall clock: after downtime ("catchUp": "latest") the job for the
// most recent missed night runs late, and still reports the right day. The report's API token comes
// from the "reports" vault; the read is checked against the workspace's grant and audited with the
// executor and job. A tick runs at least once: key any side effect on args.scheduledTime.
export default async (args) => {
  const token = await tailor.secretmanager.getSecret('reports', 'report-api-token');
  if (!token) throw new Error('reports/report-api-token is not set');
  const end = new Date(args.scheduledTime);
  const start = new Date(end.getTime() - 24 * 3600_000);
  console.log(`report for ${start.toISOString()} .. ${end.toISOString()} (job ${args.jobId}, attempt ${args.attempt})`);
  return { reportFor: { from: start.toISOString(), to: end.toISOString() }, authorized: token.length > 0 };
};
