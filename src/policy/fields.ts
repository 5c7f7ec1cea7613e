import { findClosestName } from './suggest.js'

/** One problem found in a value, at a field path such as `allowed_ips[1]` or `revoked.at`. */
export interface Issue {
  readonly field: string
  readonly message: string
  /** Position in the `keys` list, for problems inside a key. */
  readonly index?: number
  /** Id of the key, when the key's own id is valid. */
  readonly keyId?: string
}

export type Checked<T> = { readonly ok: true, readonly value: T } | { readonly ok: false, readonly issues: readonly Issue[] }

/** Facts that checks read besides the value: the clock, the environment, prefetched files. */
export interface CheckContext {
  readonly now: number
  readonly env: NodeJS.ProcessEnv
  /** Upstream key files read before validation, keyed by absolute path. */
  readonly upstreamFiles: ReadonlyMap<string, FileRead>
  /** Directory that relative `file:` paths are resolved against. */
  readonly baseDirectory: string
}

export type FileRead = { readonly ok: true, readonly text: string } | { readonly ok: false, readonly message: string }

/** Validates one value found at `field` and converts it. */
export type Check<T> = (value: unknown, field: string, context: CheckContext) => Checked<T>

export type FieldRule<T> =
  | { readonly required: true, readonly check: Check<T>, readonly example: string }
  | { readonly required: false, readonly check: Check<T>, readonly absent: T }

/** The fields an object accepts: one rule per field, and no field without a rule. */
export type FieldTable<T> = { readonly [K in keyof T]-?: FieldRule<T[K]> }

/** Returns a rule for a field that must be present. `example` shows a valid line for it. */
export function required<T> (check: Check<T>, example: string): FieldRule<T> {
  return { required: true, check, example }
}

export function optional<T> (check: Check<T>): FieldRule<T | undefined> {
  return { required: false, check, absent: undefined }
}

export function withDefault<T> (check: Check<T>, absent: T): FieldRule<T> {
  return { required: false, check, absent }
}

/**
 * Appends items one at a time. `push(...items)` passes each item as an argument, which
 * exceeded the call stack between 100,000 and 125,000 items on Node.js 20.
 */
export function appendAll<T> (target: T[], items: Iterable<T>): void {
  for (const item of items) target.push(item)
}

export function accept<T> (value: T): Checked<T> {
  return { ok: true, value }
}

export function reject<T> (field: string, message: string): Checked<T> {
  return { ok: false, issues: [{ field, message }] }
}

/** Appends a field name to a path: `joinField('revoked', 'at')` is `revoked.at`. */
export function joinField (path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`
}

export function isMapping (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Describes a YAML value for a message: its type and, for short scalars, its text. */
export function describeValue (value: unknown): string {
  if (value === null) return 'an empty value'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'string') return `the string ${quoteName(value)}`
  return `the ${typeof value} ${String(value)}`
}

/** Quotes a name or short text for a message, cut to 80 characters. */
export function quoteName (text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text)
}

/**
 * Returns a check for a YAML mapping whose fields are given by `table`. Every problem is
 * collected: unknown fields (with a "did you mean" hint), missing required fields, and
 * each field's own problems. `refine` then checks rules between fields.
 */
export function mappingOf<T> (
  objectName: string,
  table: FieldTable<T>,
  refine?: (value: T, field: string, context: CheckContext) => Issue[]
): Check<T> {
  const names = Object.keys(table) as Array<keyof T & string>
  return (value, field, context) => {
    if (!isMapping(value)) return reject(field, `${objectName} must be a mapping of fields, got ${describeValue(value)}`)

    const issues = findUnknownFields(value, names, field, objectName)
    const result = {} as Record<keyof T, unknown>
    for (const name of names) {
      const checked = checkField(value, name, table[name], joinField(field, name), context)
      if (checked.ok) result[name] = checked.value
      else appendAll(issues, checked.issues)
    }
    if (issues.length === 0 && refine !== undefined) appendAll(issues, refine(result as T, field, context))
    return issues.length === 0 ? accept(result as T) : { ok: false, issues }
  }
}

function checkField<V> (mapping: Record<string, unknown>, name: string, rule: FieldRule<V>, path: string, context: CheckContext): Checked<V> {
  if (Object.hasOwn(mapping, name)) return rule.check(mapping[name], path, context)
  if (!rule.required) return accept(rule.absent)
  return reject(path, `required field ${quoteName(name)} is missing. Add it, for example: ${rule.example}`)
}

function findUnknownFields (mapping: Record<string, unknown>, names: readonly string[], field: string, objectName: string): Issue[] {
  const issues: Issue[] = []
  for (const name of Object.keys(mapping)) {
    if (names.includes(name)) continue
    const closest = findClosestName(name, names)
    const fix = closest === undefined
      ? `Remove it. The fields of ${objectName} are: ${names.join(', ')}`
      : `Did you mean ${quoteName(closest)}?`
    issues.push({ field: joinField(field, name), message: `unknown field ${quoteName(name)} in ${objectName}, which only accepts fields that misp-keygate enforces. ${fix}` })
  }
  return issues
}
