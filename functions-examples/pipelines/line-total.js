// The "price" step of the order-totals pipeline, run once per order line (forEach).
// input: one line { sku, quantity, unitCents }  returns: { sku, totalCents }
export default async (line) => {
  if (!Number.isInteger(line?.quantity) || line.quantity < 1) throw new Error(`line ${line?.sku}: quantity must be a positive integer`);
  return { sku: line.sku, totalCents: line.quantity * line.unitCents };
};
