// Answers a Slack slash command synchronously (executor: slack-command.executor.json, mode "sync",
// response "http"). Slack signs each request with X-Slack-Signature and X-Slack-Request-Timestamp;
// Coffer verifies both (5 minute window) before this runs. Slash commands arrive form-encoded, so
// args.body is already an object. The same endpoint also answers the Events API's URL
// verification, which wants the challenge echoed as plain text.
export default async (args) => {
  if (args.body?.type === 'url_verification') {
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: args.body.challenge };
  }
  const { command, text = '', user_name: user } = args.body ?? {};
  if (command !== '/coffer') {
    return { status: 200, body: { response_type: 'ephemeral', text: `Unknown command ${command}` } };
  }
  const [verb, ...rest] = text.trim().split(/\s+/);
  const reply = verb === 'echo' ? rest.join(' ') : verb === 'time' ? new Date().toISOString() : 'Try `/coffer echo <text>` or `/coffer time`.';
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: { response_type: 'ephemeral', text: `Hi ${user}: ${reply}` },
  };
};
