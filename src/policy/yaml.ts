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
    return { ok: false, message: describeYamlError(error) }
  }
}

function describeYamlError (error: unknown): string {
  if (!(error instanceof YAMLException)) return `the YAML parser failed: ${String(error)}`
  const mark = error.mark
  const place = mark === undefined ? '' : ` at line ${mark.line + 1}, column ${mark.column + 1}`
  return `invalid YAML${place}: ${error.reason}. Fix the YAML syntax there`
}
