import { CORE_SCHEMA, load, YAMLException } from 'js-yaml'

export type YamlResult = { ok: true, document: unknown } | { ok: false, message: string }

/**
 * Parses one YAML document with the YAML 1.2 core schema, which keeps timestamps as
 * strings and reads only true and false as booleans. Duplicate mapping keys are errors
 * (`json: false`).
 * Messages give the line and column but no source text.
 */
export function parseYaml (text: string): YamlResult {
  if (text.trim() === '') return { ok: false, message: 'the file is empty. Write a mapping with version: 1 and keys' }
  try {
    return { ok: true, document: load(text, { schema: CORE_SCHEMA, json: false }) }
  } catch (error) {
    return { ok: false, message: describeYamlError(error, text) }
  }
}

function describeYamlError (error: unknown, text: string): string {
  if (!(error instanceof YAMLException)) return `the YAML parser failed: ${String(error)}`
  return `invalid YAML${describePlace(error, text)}: ${error.reason}. Fix the YAML syntax there`
}

/** js-yaml 4 marks a complex mapping key (`? [a, b]`) at the start of the file, so its place is searched for instead. */
const COMPLEX_KEY_REASON = /complex keys/
const COMPLEX_KEY_LINE = /^[ \t-]*\?(?:[ \t]|$)/

function describePlace (error: YAMLException, text: string): string {
  const mark = error.mark
  if (mark === undefined) return ''
  if (!COMPLEX_KEY_REASON.test(error.reason)) return ` at line ${mark.line + 1}, column ${mark.column + 1}`
  const index = text.split('\n').findIndex((line) => COMPLEX_KEY_LINE.test(line))
  return index === -1 ? '' : ` at line ${index + 1}`
}
