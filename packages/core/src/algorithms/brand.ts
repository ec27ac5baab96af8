/**
 * Algorithm values made by the factories (and by withLimit/compound) are remembered here, so a
 * store or limiter that receives one can trust its fields with one WeakSet lookup instead of
 * validating every number again (issue 14 item 5). Hand-made objects are validated field by field.
 */
const made = new WeakSet<object>()

/** Marks a frozen algorithm value as made (and validated) by a factory. */
export function brand<T extends object>(value: T): T {
  made.add(value)
  return value
}

/** Whether a value came from a factory, so its fields are known to be valid. */
export function isBranded(value: unknown): boolean {
  return typeof value === 'object' && value !== null && made.has(value)
}
