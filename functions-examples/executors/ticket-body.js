// Shapes the request an outgoing webhook sends to a ticketing API (executor:
// open-ticket.executor.json). This function builds the body and nothing else: the API token that
// authenticates the request is read from the "partners" vault by Coffer when it sends, and put in
// the Authorization header; it is never in this function's argument, result or logs.
// Jobs are delivered at least once: the ticket API deduplicates on the Idempotency-Key we derive
// from the job id, which stays the same across attempts.
export default async (args) => {
  const alert = args.body ?? {};
  return {
    title: `[${alert.severity ?? 'info'}] ${alert.summary ?? 'alert'}`,
    description: `Raised by Coffer executor ${args.executor} (job ${args.jobId}, attempt ${args.attempt}).`,
    labels: ['coffer', String(alert.service ?? 'unknown')],
    idempotencyKey: args.jobId,
  };
};
