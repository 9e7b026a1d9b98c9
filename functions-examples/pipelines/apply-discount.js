// The "discount" step of the order-totals pipeline: runs only when a code was given (if).
// Discount codes live in a vault so they are not in the code: vault "promotions", secret "<CODE>"
// holding the percentage. input: { code, subtotalCents }  returns: { code, percent, discountCents }
export default async ({ code, subtotalCents }) => {
  const percent = Number(await tailor.secretmanager.getSecret("promotions", code));
  if (!Number.isFinite(percent)) return { code, percent: 0, discountCents: 0 };
  return { code, percent, discountCents: Math.round((subtotalCents * percent) / 100) };
};
