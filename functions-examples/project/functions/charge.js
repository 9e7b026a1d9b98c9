// Prepares a charge with the provider's API key. Locally: coffer run functions/charge.js
//   --args '{"amountCents": 1250, "dryRun": true}' --explain
// (the key from COFFER__PAYMENTS__STRIPE_KEY or .coffer/secrets.toml; undefined when neither has it).
export default async function charge(args) {
  const key = await tailor.secretmanager.getSecret('payments', 'stripe-key');
  const amountCents = Number(args?.amountCents ?? args?.body?.amountCents ?? 0);
  if (!Number.isInteger(amountCents) || amountCents <= 0) throw new Error('amountCents must be a positive integer');
  if (key === undefined) return { amountCents, ready: false, reason: 'no API key configured' };
  console.log('charging with key', key);
  return { amountCents, ready: true, dryRun: args?.dryRun !== false, keyKind: key.startsWith('sk_live_') ? 'live' : 'test' };
}
