import { AddressSet, parseCidr, type IpRange } from '../net/address.js'
import { accept, appendAll, describeValue, isMapping, reject, type Check, type Checked, type Issue } from './fields.js'
import { parseTimestamp } from './timestamp.js'

/** Returns a check for a string with at least one non-space character. `hint` describes the expected value. */
export function nonEmptyText (hint: string): Check<string> {
  return (value, field) => {
    if (typeof value === 'string' && value.trim() !== '') return accept(value)
    return reject(field, `must be a non-empty string, got ${describeValue(value)}. Write ${hint}`)
  }
}

/** Returns a check for a string matching `pattern`. Secret-like values are not quoted back. */
export function matching (pattern: RegExp, rule: string, options: { quoteValue: boolean }): Check<string> {
  return (value, field) => {
    if (typeof value === 'string' && pattern.test(value)) return accept(value)
    const got = typeof value === 'string' && !options.quoteValue
      ? `a string of ${value.length} characters (not shown because it may be secret)`
      : describeValue(value)
    return reject(field, `must be ${rule}, got ${got}`)
  }
}

export function exactly<T extends number | string> (expected: T, rule: string): Check<T> {
  return (value, field) => value === expected ? accept(expected) : reject(field, `must be ${rule}, got ${describeValue(value)}`)
}

/** Accepts only the YAML 1.2 core booleans, so `yes`, `on` and `"true"` are errors. */
export const booleanValue: Check<boolean> = (value, field) => {
  if (typeof value === 'boolean') return accept(value)
  return reject(field, `must be true or false, got ${describeValue(value)}. YAML 1.2 reads only true and false as booleans`)
}

/** Checks an RFC 3339 timestamp with an offset and converts it to milliseconds since the epoch. */
export const timestampValue: Check<number> = (value, field) => {
  if (typeof value !== 'string') return reject(field, `must be an RFC 3339 timestamp such as 2027-01-31T00:00:00Z, got ${describeValue(value)}`)
  const parsed = parseTimestamp(value)
  return parsed.ok ? accept(parsed.time) : reject(field, parsed.message)
}

/** Checks a non-empty list of allowlist entries, reporting every invalid entry. */
export const addressListValue: Check<AddressSet> = (value, field) => {
  if (!Array.isArray(value)) return reject(field, `must be a list of addresses or CIDR ranges, such as [192.0.2.10, 198.51.100.0/24], got ${describeValue(value)}`)
  if (value.length === 0) return reject(field, 'must list at least one address or CIDR range. To allow any address, write [0.0.0.0/0, ::/0]')

  const ranges: IpRange[] = []
  const issues: Issue[] = []
  for (const [index, entry] of value.entries()) {
    const checked = checkAddressEntry(entry, `${field}[${index}]`)
    if (checked.ok) ranges.push(checked.value)
    else appendAll(issues, checked.issues)
  }
  return issues.length === 0 ? accept(AddressSet.fromRanges(ranges)) : { ok: false, issues }
}

function checkAddressEntry (entry: unknown, field: string): Checked<IpRange> {
  if (typeof entry !== 'string') return reject(field, `must be an address or CIDR range written as text, such as 10.0.0.0/8, got ${describeValue(entry)}`)
  const parsed = parseCidr(entry)
  return parsed.ok ? accept(parsed.range) : reject(field, parsed.message)
}

/** Checks a mapping whose values are all strings. */
export const stringMappingValue: Check<Readonly<Record<string, string>>> = (value, field) => {
  if (!isMapping(value)) return reject(field, `must be a mapping of names to strings, such as { account: svc-siem }, got ${describeValue(value)}`)

  const issues: Issue[] = []
  for (const [name, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      issues.push({ field: `${field}.${name}`, message: `must be a string, got ${describeValue(entry)}. Quote the value if it looks like a number or boolean` })
    }
  }
  return issues.length === 0 ? accept(Object.freeze({ ...value }) as Record<string, string>) : { ok: false, issues }
}
