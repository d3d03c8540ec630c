/** A short, printable rendering of a bad value for an error message; long strings are cut so a stray secret or blob is not logged whole. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}…` : JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return value === null ? 'null' : typeof value
}
