import { AddressSet } from '../net/address.js'

/**
 * A loaded policy value in a form that postMessage can copy between threads. Structured
 * cloning drops class prototypes and private fields, so an AddressSet travels as its
 * entries and is parsed again on arrival, and frozen objects are frozen again.
 */
export type Transferable =
  | string | number | boolean | bigint | null | undefined
  | { readonly $: 'array', readonly frozen: boolean, readonly items: Transferable[] }
  | { readonly $: 'object', readonly frozen: boolean, readonly fields: Record<string, Transferable> }
  | { readonly $: 'map', readonly frozen: boolean, readonly entries: Array<[Transferable, Transferable]> }
  | { readonly $: 'set', readonly frozen: boolean, readonly values: Transferable[] }
  | { readonly $: 'address-set', readonly entries: readonly string[] }
  | { readonly $: 'regexp', readonly source: string, readonly flags: string }

type Container = Exclude<Transferable, string | number | boolean | bigint | null | undefined>

/**
 * Converts a policy value for transfer. Objects shared inside one value stay shared.
 * Throws TypeError for a class instance it does not know, naming its path, so a new
 * kind of policy value fails loudly instead of arriving broken.
 */
export function encodeForTransfer (value: unknown, path = 'policy', seen = new Map<object, Transferable>()): Transferable {
  if (value === null || typeof value !== 'object') return encodePrimitive(value, path)
  const known = seen.get(value)
  if (known !== undefined) return known

  const frozen = Object.isFrozen(value)
  let encoded: Container
  if (Array.isArray(value)) encoded = { $: 'array', frozen, items: [] }
  else if (value instanceof Map) encoded = { $: 'map', frozen, entries: [] }
  else if (value instanceof Set) encoded = { $: 'set', frozen, values: [] }
  else if (value instanceof AddressSet) encoded = { $: 'address-set', entries: [...value.entries] }
  else if (value instanceof RegExp) encoded = { $: 'regexp', source: value.source, flags: value.flags }
  else if (isPlainObject(value)) encoded = { $: 'object', frozen, fields: {} }
  else throw new TypeError(`${path} is a ${value.constructor?.name ?? 'class instance'}, which encodeForTransfer cannot copy between threads`)
  seen.set(value, encoded)
  fillContainer(encoded, value, path, seen)
  return encoded
}

function encodePrimitive (value: unknown, path: string): Transferable {
  if (typeof value === 'function' || typeof value === 'symbol') throw new TypeError(`${path} is a ${typeof value}, which cannot be copied between threads`)
  return value as Transferable
}

function fillContainer (encoded: Container, value: object, path: string, seen: Map<object, Transferable>): void {
  if (encoded.$ === 'array') {
    for (const [index, item] of (value as unknown[]).entries()) encoded.items.push(encodeForTransfer(item, `${path}[${index}]`, seen))
  } else if (encoded.$ === 'map') {
    for (const [key, item] of value as Map<unknown, unknown>) encoded.entries.push([encodeForTransfer(key, `${path} key`, seen), encodeForTransfer(item, `${path}.${String(key)}`, seen)])
  } else if (encoded.$ === 'set') {
    for (const item of value as Set<unknown>) encoded.values.push(encodeForTransfer(item, `${path} item`, seen))
  } else if (encoded.$ === 'object') {
    for (const [name, item] of Object.entries(value)) encoded.fields[name] = encodeForTransfer(item, `${path}.${name}`, seen)
  }
}

function isPlainObject (value: object): boolean {
  const prototype = Object.getPrototypeOf(value) as unknown
  return prototype === Object.prototype || prototype === null
}

/** Rebuilds a value encoded by encodeForTransfer, after it crossed threads. */
export function decodeTransfer (value: Transferable, seen = new Map<object, unknown>()): unknown {
  if (value === null || typeof value !== 'object') return value
  const known = seen.get(value)
  if (known !== undefined) return known

  switch (value.$) {
    case 'array': return finish(value.frozen, seen, value, [], (array: unknown[]) => { for (const item of value.items) array.push(decodeTransfer(item, seen)) })
    case 'map': return finish(value.frozen, seen, value, new Map(), (map: Map<unknown, unknown>) => { for (const [key, item] of value.entries) map.set(decodeTransfer(key, seen), decodeTransfer(item, seen)) })
    case 'set': return finish(value.frozen, seen, value, new Set(), (set: Set<unknown>) => { for (const item of value.values) set.add(decodeTransfer(item, seen)) })
    case 'object': return finish(value.frozen, seen, value, {}, (object: Record<string, unknown>) => { for (const [name, item] of Object.entries(value.fields)) object[name] = decodeTransfer(item, seen) })
    case 'address-set': return remember(seen, value, parseAddressSet(value.entries))
    case 'regexp': return remember(seen, value, new RegExp(value.source, value.flags))
  }
}

function finish<T extends object> (frozen: boolean, seen: Map<object, unknown>, encoded: object, target: T, fill: (target: T) => void): T {
  seen.set(encoded, target)
  fill(target)
  return frozen ? Object.freeze(target) : target
}

function remember<T> (seen: Map<object, unknown>, encoded: object, decoded: T): T {
  seen.set(encoded, decoded)
  return decoded
}

function parseAddressSet (entries: readonly string[]): AddressSet {
  const parsed = AddressSet.parse(entries)
  // The entries are the canonical text of ranges that already parsed once, on the other thread.
  if (!parsed.ok) throw new Error(`address entry ${entries[parsed.index] ?? ''} no longer parses: ${parsed.message}`)
  return parsed.set
}
