import { phpFieldName, urldecodeLenient } from './php-url.js'

/**
 * Query fields that carry a key in other tools' conventions; MISP reads none of them.
 * PHP turns `api.key` and `api key` into `api_key`.
 */
const KEY_FIELDS = new Set(['apikey', 'api_key', 'key', 'authkey'])
/** CakePHP's named parameter that MISP reads a key from (Security.allow_unsafe_apikey_named_param). */
const KEY_NAMED_PARAMETER = 'apikey'
const METHOD_FIELD = '_method'

/**
 * Returns where a key sits in the URL, or undefined when none. It looks for an `apikey:`
 * named parameter in any path segment after PHP urldecode, and for a query field that PHP
 * reads as apikey, api_key, key or authkey, both in any case. Query fields are split on
 * ';' as well as '&', as in hasMethodOverrideField. Never returns the key value itself.
 */
export function findKeyInUrl (rawTarget: string): string | undefined {
  const { path, query } = splitTarget(rawTarget)
  const segments = urldecodeLenient(path).split('/')
  const segment = segments.findIndex(isKeyNamedParameter)
  if (segment !== -1) return `named parameter '${KEY_NAMED_PARAMETER}:' in path segment ${segment}`

  const field = fieldNames(query).find((name) => KEY_FIELDS.has(name))
  return field === undefined ? undefined : `query parameter '${field}'`
}

/**
 * True when the query has a field PHP would read as `_method` after its name rewriting:
 * `_method`, `.method`, ` _method`, `%5fmethod`, `_method[]` and the like, any case.
 */
export function hasMethodOverrideInQuery (rawTarget: string): boolean {
  const { query } = splitTarget(rawTarget)
  return query !== undefined && hasMethodOverrideField(query)
}

/**
 * True when URL-encoded form fields (a query string or an
 * application/x-www-form-urlencoded body) hold a field PHP would read as `_method`.
 * Fields are split on ';' as well as '&', because php.ini's arg_separator.input may
 * list both.
 */
export function hasMethodOverrideField (fields: string): boolean {
  return fields.split(/[&;]/).some((pair) => isMethodFieldName(pair.split('=', 1)[0] ?? ''))
}

/**
 * True when the raw field name, read as PHP reads it, is `_method` before its first '['
 * (in any case), whatever the brackets contain. PHP keeps a multipart name such as
 * `_method[a b]` whole and makes `$_POST['_method']` an array.
 */
export function isMethodFieldName (rawName: string): boolean {
  const decoded = urldecodeLenient(rawName).split('\0', 1)[0] ?? ''
  const base = decoded.replace(/^ +/, '').split('[', 1)[0] ?? ''
  return base.replace(/[ .]/g, '_').toLowerCase() === METHOD_FIELD
}

function isKeyNamedParameter (segment: string): boolean {
  const colon = segment.indexOf(':')
  if (colon === -1) return false

  // A named key `apikey[x]` fills named['apikey'] (CakeRoute::_parseArgs).
  const name = segment.slice(0, colon).split('[', 1)[0] ?? ''
  return name.trim().toLowerCase() === KEY_NAMED_PARAMETER
}

function fieldNames (query: string | undefined): string[] {
  if (query === undefined) return []
  return query.split(/[&;]/).map((pair) => phpFieldName(pair.split('=', 1)[0] ?? '').toLowerCase())
}

function splitTarget (rawTarget: string): { path: string, query: string | undefined } {
  const queryAt = rawTarget.indexOf('?')
  if (queryAt === -1) return { path: rawTarget, query: undefined }
  return { path: rawTarget.slice(0, queryAt), query: rawTarget.slice(queryAt + 1) }
}
