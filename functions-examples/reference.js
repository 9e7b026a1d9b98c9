export default async () => {
  console.log("start");
  // Get multiple secrets from a vault
  let secrets = await tailor.secretmanager.getSecrets("default", [
    "test-secret-1",
    "test-secret-2",
  ]);
  let jsonSecrets = JSON.stringify(secrets);
  console.log(`getSecrets: ${jsonSecrets}`);
  // output:
  // getSecrets: {"test-secret-1":"secret-value-1","test-secret-2":"secret-value-2"}
  // Get a single secret
  let secret = await tailor.secretmanager.getSecret("default", "test-secret-1");
  console.log(`getSecret with test-secret-1: ${secret}`);
  // output:
  // getSecret with test-secret-1: secret-value-1
  return {
    secrets: jsonSecrets,
  };
};
