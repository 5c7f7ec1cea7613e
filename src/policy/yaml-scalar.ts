import { CORE_SCHEMA, load } from 'js-yaml'
import { parseDocument } from 'yaml'

/** Words that YAML 1.1 tools read as booleans or null: quoted so no reader guesses. */
const YAML_11_WORDS = /^(?:y|n|yes|no|on|off|true|false|null|~)$/i

/**
 * Formats a string, number or boolean as a YAML scalar that reads back as the same value
 * in block and in flow context, with js-yaml (the loader) and with the yaml package.
 * Strings stay plain where that is unambiguous and are double-quoted otherwise.
 */
export function formatScalar (value: string | number | boolean): string {
  if (typeof value !== 'string') return String(value)
  return readsBackPlain(value) ? value : JSON.stringify(value)
}

function readsBackPlain (text: string): boolean {
  if (text === '' || text.trim() !== text || YAML_11_WORDS.test(text) || /[\u0000-\u001f\u007f]/.test(text)) return false
  return readsBack(() => load(text, { schema: CORE_SCHEMA }), text) &&
    readsBack(() => (load(`[${text}]`, { schema: CORE_SCHEMA }) as unknown[])[0], text) &&
    readsBack(() => (parseDocument(`k: [${text}]`).toJS() as { k: unknown[] }).k[0], text)
}

function readsBack (read: () => unknown, expected: string): boolean {
  try {
    return read() === expected
  } catch {
    return false
  }
}

/** Formats a list of scalars as a flow sequence: `[a, b]`. */
export function formatFlowList (values: ReadonlyArray<string | number | boolean>): string {
  return `[${values.map(formatScalar).join(', ')}]`
}

/** Formats a mapping of scalars as a flow mapping: `{ a: b }`, or `{}` when empty. */
export function formatFlowMapping (values: Readonly<Record<string, string | number | boolean>>): string {
  const pairs = Object.entries(values).map(([name, value]) => `${formatScalar(name)}: ${formatScalar(value)}`)
  return pairs.length === 0 ? '{}' : `{ ${pairs.join(', ')} }`
}
