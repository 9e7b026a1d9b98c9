// Step 2 of the signed-request pipeline: reads the partner's API key. Deploy with
// "exposeSecrets": true so the next step receives the key itself; the pipeline's own redaction
// still keeps it out of the run's logs, errors and the GraphQL result.
export default async () => {
  const apiKey = await tailor.secretmanager.getSecret("partner", "api-key");
  if (apiKey === undefined) throw new Error("the partner vault has no api-key");
  return { apiKey };
};
