// Runs for GitHub webhook deliveries (executor: github-push.executor.json). Coffer has already
// checked X-Hub-Signature-256 against the signing secret in the "webhooks" vault before this runs,
// so everything here may trust the payload. GitHub sends the same X-GitHub-Delivery id when it
// redelivers an event, and Coffer uses it as the job's idempotency key: a redelivery within 24 hours
// answers the job that already exists instead of running again. Jobs are still delivered at least
// once (a gateway can die after the work and before the job is marked done), so anything with a
// side effect should key it on args.headers['x-github-delivery'] or args.jobId.
export default async (args) => {
  const event = args.headers['x-github-event'];
  const delivery = args.headers['x-github-delivery'];
  if (event === 'ping') return { event, zen: args.body.zen };
  if (event !== 'push') return { event, ignored: true };
  const { repository, ref, commits = [] } = args.body;
  console.log(`push to ${repository.full_name} ${ref}: ${commits.length} commit(s), delivery ${delivery}, attempt ${args.attempt}`);
  return {
    event,
    repository: repository.full_name,
    branch: ref.replace(/^refs\/heads\//, ''),
    commits: commits.length,
    authors: [...new Set(commits.map((c) => c.author.username ?? c.author.name))],
  };
};
