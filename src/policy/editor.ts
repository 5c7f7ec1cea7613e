import { isMap, isScalar, isSeq, parseDocument, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml'
import { PolicyWriteError } from './write-error.js'
import { formatFlowList, formatFlowMapping, formatScalar } from './yaml-scalar.js'

export type ScalarValue = string | number | boolean
/** A value the editor writes: a scalar, a flow list of scalars or a mapping of scalars. */
export type FieldValue = ScalarValue | readonly ScalarValue[] | Readonly<Record<string, ScalarValue>>

/** A field the editor promised to write, checked against the written text afterwards. */
export interface ExpectedField {
  readonly keyId: string
  readonly field: string
  readonly value: FieldValue
}

interface Splice {
  readonly start: number
  readonly end: number
  readonly text: string
  readonly order: number
}

/** Fields whose mapping values are written in flow style, like the example policy's labels. */
const FLOW_MAPPING_FIELDS = new Set(['labels'])
const DEFAULT_DASH_COLUMN = 2

/**
 * Edits the text of a policy file in place. The yaml package's document gives the place
 * of every key and field in the source. Each edit replaces or inserts only the text of
 * the values it changes, so comments, blank lines, key order, quoting and flow or block
 * style stay byte for byte everywhere else.
 * Edits see the file as it was read: a key added in this edit cannot be changed in it.
 */
export class PolicyEditor {
  readonly file: string
  readonly #source: string
  readonly #keys: YAMLSeq | undefined
  readonly #keysPair: Pair
  readonly #entries = new Map<string, YAMLMap>()
  readonly #added = new Set<string>()
  readonly #touched = new Set<string>()
  readonly #splices: Splice[] = []
  readonly #expected: ExpectedField[] = []

  constructor (file: string, source: string) {
    this.file = file
    this.#source = source
    const document = parseDocument(source, { uniqueKeys: true })
    const error = document.errors[0]
    if (error !== undefined) {
      const place = error.linePos?.[0]
      const at = place === undefined ? '' : ` at line ${place.line}, column ${place.col}`
      throw new PolicyWriteError('unreadable', { file }, `invalid YAML${at}: ${describeYamlError(error.message)}. Fix the YAML syntax there, then run the command again`)
    }
    this.#keysPair = findKeysPair(document.contents, file)
    this.#keys = isSeq(this.#keysPair.value) ? this.#keysPair.value : undefined
    for (const item of this.#keys?.items ?? []) {
      const id = readId(item)
      if (id !== undefined && isMap(item) && !this.#entries.has(id)) this.#entries.set(id, item)
    }
  }

  /** Ids of the keys in the file as read, in file order. */
  ids (): string[] {
    return [...this.#entries.keys()]
  }

  has (id: string): boolean {
    return this.#entries.has(id) || this.#added.has(id)
  }

  /** Returns a key's fields as plain values, as read from the file. */
  read (id: string): Record<string, unknown> | undefined {
    return this.#entries.get(id)?.toJSON() as Record<string, unknown> | undefined
  }

  /** Appends a key at the end of `keys`, with its fields in the order given. */
  addKey (fields: Readonly<Record<string, FieldValue | undefined>>): void {
    const id = fields.id
    if (typeof id !== 'string') throw new TypeError('addKey needs a string id')
    if (this.has(id)) {
      throw new PolicyWriteError('key_exists', { file: this.file, keyId: id, field: 'id' }, 'a key with this id already exists. Choose another id, or rotate the existing key')
    }
    const defined = Object.entries(fields).filter((entry): entry is [string, FieldValue] => entry[1] !== undefined)
    this.#splices.push({ ...this.#placeNewEntry(defined), order: this.#splices.length })
    this.#added.add(id)
    for (const [field, value] of defined) this.#expected.push({ keyId: id, field, value })
  }

  /** Sets one field of an existing key: its value is replaced, or the field is added at the end of the key. */
  setField (id: string, field: string, value: FieldValue): void {
    const entry = this.#entries.get(id)
    if (entry === undefined) throw this.notFound(id)
    const touchedName = `${id}\u0000${field}`
    if (this.#touched.has(touchedName)) throw new Error(`field ${field} of key ${id} was already set in this edit`)
    this.#touched.add(touchedName)

    const pair = entry.items.find((item) => isScalar(item.key) && item.key.value === field)
    const splice = pair === undefined ? this.#placeNewField(entry, field, value) : this.#placeNewValue(pair, value)
    this.#splices.push({ ...splice, order: this.#splices.length })
    this.#expected.push({ keyId: id, field, value })
  }

  notFound (id: string): PolicyWriteError {
    const known = this.ids()
    const hint = known.length === 0 ? 'The policy has no keys' : `Run misp-keygate keys list to see the ${known.length} key ids`
    return new PolicyWriteError('key_not_found', { file: this.file, keyId: id }, `no key with this id. ${hint}`)
  }

  /** The edited text: the source with every edit applied. */
  text (): string {
    const ordered = [...this.#splices].sort((a, b) => b.start - a.start || b.order - a.order)
    let text = this.#source
    for (const splice of ordered) text = text.slice(0, splice.start) + splice.text + text.slice(splice.end)
    return text
  }

  /** Every field this edit wrote, with its value, for checking the result. */
  expectedFields (): readonly ExpectedField[] {
    return this.#expected
  }

  #placeNewEntry (fields: ReadonlyArray<[string, FieldValue]>): Omit<Splice, 'order'> {
    const keys = this.#keys
    const lines = fields.flatMap(([name, value]) => fieldLines(name, value))
    if (keys !== undefined && !keys.flow && keys.items.length > 0) {
      const dash = this.#column(keys.range?.[0] ?? 0)
      const first = keys.items[0] as Node
      const fieldColumn = Math.max(this.#column(first.range?.[0] ?? 0), dash + 2)
      const last = keys.items[keys.items.length - 1] as Node
      const at = this.#lineEnd(contentEnd(last))
      const gap = this.#blankLineBefore(keys) ? '\n' : ''
      return { start: at, end: at, text: '\n' + gap + entryText(lines, dash, fieldColumn) }
    }
    if (keys === undefined || (keys.flow && keys.items.length === 0)) return this.#replaceEmptyKeys(lines)
    throw new PolicyWriteError('unsupported_layout', { file: this.file, field: 'keys' }, 'is written as a flow list ([...]), which this command does not edit. Write it as a block list, one "- id:" entry per key')
  }

  /** Replaces `keys: []` (or an empty `keys:`) with a block list holding the new entry. */
  #replaceEmptyKeys (lines: readonly string[]): Omit<Splice, 'order'> {
    const value = this.#keysPair.value as Node | null
    const keyNode = this.#keysPair.key as Node
    const dash = this.#column(keyNode.range?.[0] ?? 0) + DEFAULT_DASH_COLUMN
    const valueEnd = value?.range?.[1] ?? keyNode.range?.[1] ?? 0
    let start = value?.range?.[0] ?? valueEnd
    while (start > 0 && this.#source[start - 1] === ' ') start--
    if (isScalar(value) && value.value !== null) {
      throw new PolicyWriteError('unsupported_layout', { file: this.file, field: 'keys' }, 'must be a list of keys. Fix the file so that it loads, then run the command again')
    }
    return { start, end: valueEnd, text: '\n' + entryText(lines, dash, dash + 2) }
  }

  #placeNewValue (pair: Pair, value: FieldValue): Omit<Splice, 'order'> {
    const range = (pair.value as Node | null)?.range
    const keyEnd = (pair.key as Node).range?.[1] ?? 0
    if (range == null || this.#source.slice(range[0], range[1]).trim() === '') {
      // An empty value, as in `expires:`: the new value goes right after the colon.
      const at = this.#source.indexOf(':', keyEnd) + 1
      return { start: at, end: at, text: ' ' + inlineValue(value) }
    }
    return { start: range[0], end: Math.max(range[0], this.#trimEnd(range[1])), text: inlineValue(value) }
  }

  #placeNewField (entry: YAMLMap, field: string, value: FieldValue): Omit<Splice, 'order'> {
    const firstKey = entry.items[0]?.key as Node | undefined
    if (entry.flow) {
      const close = this.#trimEnd(entry.range?.[1] ?? 0) - 1
      const separator = entry.items.length === 0 ? ' ' : ', '
      return { start: this.#trimEnd(close), end: this.#trimEnd(close), text: `${separator}${field}: ${inlineValue(value)}${entry.items.length === 0 ? ' ' : ''}` }
    }
    const column = this.#column(firstKey?.range?.[0] ?? 0)
    const at = this.#lineEnd(contentEnd(entry))
    const lines = fieldLines(field, value).map((line) => ' '.repeat(column) + line)
    return { start: at, end: at, text: '\n' + lines.join('\n') }
  }

  #column (offset: number): number {
    return offset - (this.#source.lastIndexOf('\n', offset - 1) + 1)
  }

  /** Returns the offset of the end of the line holding the last non-blank character before `offset`. */
  #lineEnd (offset: number): number {
    const end = this.#source.indexOf('\n', this.#trimEnd(offset))
    return end === -1 ? this.#source.length : end
  }

  #trimEnd (offset: number): number {
    let end = offset
    while (end > 0 && /\s/.test(this.#source[end - 1] ?? '')) end--
    return end
  }

  /** Whether the last entry of the list is set apart from the one before by a blank line. */
  #blankLineBefore (keys: YAMLSeq): boolean {
    if (keys.items.length < 2) return false
    const previous = keys.items[keys.items.length - 2] as Node
    const last = keys.items[keys.items.length - 1] as Node
    const between = this.#source.slice(this.#lineEnd(contentEnd(previous)), last.range?.[0] ?? 0)
    return /\n[ \t]*\n/.test(between)
  }
}

function findKeysPair (contents: unknown, file: string): Pair {
  if (!isMap(contents)) {
    throw new PolicyWriteError('unreadable', { file }, 'is not a mapping with version: 1 and keys. Fix the file so that it loads, then run the command again')
  }
  const pair = contents.items.find((item) => isScalar(item.key) && item.key.value === 'keys')
  if (pair === undefined) throw new PolicyWriteError('unreadable', { file, field: 'keys' }, 'is missing. Add keys: [] to the file, then run the command again')
  return pair
}

function readId (item: unknown): string | undefined {
  if (!isMap(item)) return undefined
  const id = item.get('id')
  return typeof id === 'string' ? id : undefined
}

/** Returns the offset just after the last value of a node, before trailing comments of its last line. */
function contentEnd (node: Node): number {
  if ((isMap(node) || isSeq(node)) && !node.flow && node.items.length > 0) {
    const last = node.items[node.items.length - 1]
    if (isMap(node)) {
      const pair = last as Pair
      const value = pair.value as Node | null
      return value?.range != null ? contentEnd(value) : (pair.key as Node).range?.[1] ?? 0
    }
    return contentEnd(last as Node)
  }
  return node.range?.[1] ?? 0
}

function isMappingValue (value: FieldValue): value is Readonly<Record<string, ScalarValue>> {
  return typeof value === 'object' && !Array.isArray(value)
}

/** Formats a value to follow `name: ` on the same line. */
function inlineValue (value: FieldValue): string {
  if (Array.isArray(value)) return formatFlowList(value)
  if (isMappingValue(value)) return formatFlowMapping(value)
  return formatScalar(value as ScalarValue)
}

/** Formats one field as lines without indentation. A block mapping's own fields are indented by two. */
function fieldLines (name: string, value: FieldValue): string[] {
  if (!isMappingValue(value) || FLOW_MAPPING_FIELDS.has(name) || Object.keys(value).length === 0) {
    return [`${formatScalar(name)}: ${inlineValue(value)}`]
  }
  return [`${formatScalar(name)}:`, ...Object.entries(value).map(([inner, scalar]) => `  ${formatScalar(inner)}: ${formatScalar(scalar)}`)]
}

function entryText (lines: readonly string[], dash: number, fieldColumn: number): string {
  return lines.map((line, index) => index === 0
    ? ' '.repeat(dash) + '-' + ' '.repeat(fieldColumn - dash - 1) + line
    : ' '.repeat(fieldColumn) + line).join('\n')
}

/** Returns the first line of a yaml package error without the place it ends with, which the caller gives once. */
function describeYamlError (message: string): string {
  return (message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '').replace(/[.:]$/, '')
}
