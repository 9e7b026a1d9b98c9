// Step 1 of the signed-request pipeline: checks the GraphQL input and builds the payload to sign.
// Receives { args, pipeline } (the step has no `input` expression). Throws on bad input, which halts
// the pipeline with "validate: <message>".
export default async ({ args }) => {
  const order = args?.order;
  if (!order || typeof order.id !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(order.id)) throw new Error("order.id must be 1-64 letters, digits, - or _");
  if (!Number.isInteger(order.amountCents) || order.amountCents <= 0) throw new Error("order.amountCents must be a positive integer");
  if (!["EUR", "USD", "JPY"].includes(order.currency)) throw new Error("order.currency must be EUR, USD or JPY");
  return { payload: JSON.stringify({ id: order.id, amount: order.amountCents, currency: order.currency, at: args.timestamp }) };
};
