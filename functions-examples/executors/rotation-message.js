// Turns a secret change event into a Slack message (executor: notify-rotation.executor.json).
// The event names the vault, secret, version and who changed it; it never carries a value. The
// Slack incoming-webhook URL is itself a credential: it lives in the "notify" vault and is read by
// Coffer when it sends, so neither this function nor the job record ever holds it.
export default async (args) => {
  const e = args.event;
  const who = e.actor?.id ? ` by ${e.actor.kind} ${e.actor.id}` : '';
  const what = e.type === 'secret.version.created' ? `new version ${e.version}`
    : e.type === 'secret.version.state_changed' ? `version ${e.version} ${e.state}`
    : 'deleted';
  return { text: `:key: ${e.vault}/${e.secret}: ${what}${who} at ${e.at}` };
};
