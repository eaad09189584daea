/**
 * How user attributes are normalised into `user_attributes(name, value, uid)` rows for audience
 * queries: one row per scalar attribute, and one per scalar element of a list attribute. Values
 * are tagged with their JSON type ('s:', 'n:', 'b:') so the string "1", the number 1 and true
 * never match each other. Objects, null and non-finite numbers are not indexed.
 */
export type AttributeScalar = string | number | boolean;

export function encodeAttributeValue(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return `s:${value}`;
    case 'number':
      return Number.isFinite(value) ? `n:${value}` : undefined;
    case 'boolean':
      return `b:${value}`;
    default:
      return undefined;
  }
}

/** The (name, value) rows an attributes object yields, without duplicates. */
export function attributeRows(attributes: Record<string, unknown>): Array<{ name: string; value: string }> {
  const rows = new Map<string, { name: string; value: string }>();
  for (const [name, raw] of Object.entries(attributes)) {
    for (const element of Array.isArray(raw) ? raw : [raw]) {
      const value = encodeAttributeValue(element);
      if (value !== undefined) rows.set(`${name}\u0000${value}`, { name, value });
    }
  }
  return [...rows.values()];
}
