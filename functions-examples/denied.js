// Shows what a function sees when its workspace holds no grant on a vault (or the vault does not
// exist: the two look the same): the read rejects with an Error, which the function can catch.
// The refused read is audited as "secret.read" with outcome "denied".
// args (optional): { vault, name }; a function called without args receives null.
export default async (args) => {
  const { vault = "payroll", name = "bank-token" } = args ?? {};
  try {
    await tailor.secretmanager.getSecret(vault, name);
    return { denied: false };
  } catch (err) {
    console.warn(`could not read ${vault}/${name}: ${err.message}`);
    return { denied: true, error: err.message };
  }
};
