import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { canonicalize } from '../src/route/canonical.js'
import { classifyRoute } from '../src/route/catalogue.js'

// MISP's own OpenAPI description (app/webroot/doc/openapi.yaml, MISP 2.5.1, AGPL-3.0).
const spec = parse(readFileSync(new URL('fixtures/misp-openapi.yaml', import.meta.url), 'utf8'))
const METHODS = ['get', 'put', 'post', 'delete', 'head', 'patch']
const SAMPLE_UUID = 'c99506a6-1255-4b71-afa5-7b8ba48c3b1b'

interface Schema {
  $ref?: string
  oneOf?: Schema[]
  anyOf?: Schema[]
  enum?: unknown[]
  type?: string
  format?: string
  pattern?: string
  example?: unknown
}
interface Parameter { $ref?: string, name: string, in: string, schema: Schema }

function resolve<T> (value: T & { $ref?: string }): T {
  if (value.$ref === undefined) return value
  const path = value.$ref.replace(/^#\//, '').split('/')
  return resolve(path.reduce((node: any, key) => node[key], spec))
}

/** Sample path values for a schema: a numeric id, a UUID, each enum member... */
function samples (schema: Schema): string[] {
  const resolved = resolve(schema)
  const alternatives = resolved.oneOf ?? resolved.anyOf
  if (alternatives !== undefined) return alternatives.flatMap(samples)
  if (resolved.enum !== undefined) return resolved.enum.map(String)
  if (resolved.format === 'uuid') return [SAMPLE_UUID]
  if (resolved.type === 'boolean') return ['0', '1']
  if (resolved.type === 'integer' || resolved.pattern?.startsWith('^\\d+$') === true) return ['12']
  return [encodeURIComponent(String(resolved.example ?? 'sample'))]
}

/** Returns every concrete path for a template, one per combination of parameter samples. */
function fill (template: string, parameters: Parameter[]): string[] {
  let paths = [template]
  for (const parameter of parameters.filter((p) => p.in === 'path')) {
    paths = paths.flatMap((path) => samples(parameter.schema).map((value) => {
      return path.replace(`{${parameter.name}}`, value)
    }))
  }
  return paths
}

const operations: Array<[string, string]> = []
for (const [template, item] of Object.entries<any>(spec.paths)) {
  for (const method of METHODS.filter((m) => item[m] !== undefined)) {
    const parameters = [...(item.parameters ?? []), ...(item[method].parameters ?? [])].map(resolve)
    for (const path of fill(template, parameters)) operations.push([method.toUpperCase(), path])
  }
}

t.test('the fixture has every MISP path', async (t) => {
  t.equal(Object.keys(spec.paths).length, 143, 'paths in openapi.yaml')
  t.ok(operations.length > 200, `operations with filled templates (${operations.length})`)
  t.notOk(operations.some(([, path]) => path.includes('{')), 'no template left unfilled')
})

t.test('every MISP API operation reaches a known route', async (t) => {
  for (const [method, path] of operations) {
    const result = canonicalize(method, path)
    t.ok(result.ok, `${method} ${path} is accepted`)
    if (!result.ok) {
      t.comment(result.message)
      continue
    }
    const routeClass = classifyRoute(result.route)
    t.ok(routeClass.known, `${method} ${path} -> ${result.route.route} is in the catalogue`)
  }
})

t.test('OpenAPI search operations are search reads', async (t) => {
  const searches = ['POST /events/restSearch', 'POST /attributes/restSearch', 'POST /objects/restsearch',
    'POST /events/index', 'POST /galaxies', 'POST /warninglists', 'POST /warninglists/checkValue',
    'POST /user_settings', 'POST /admin/logs']
  for (const operation of searches) {
    const [method = '', path = ''] = operation.split(' ')
    const result = canonicalize(method, path)
    t.ok(result.ok, `${operation} is accepted`)
    if (result.ok) t.same(classifyRoute(result.route), { kind: 'read', searchBody: true, known: true }, operation)
  }
})
