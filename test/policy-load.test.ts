import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { digestKey } from '../src/digest.js'
import { parseIpAddress } from '../src/net/address.js'
import { loadPolicy, parsePolicy, PolicyLoadError, type LoadOptions, type PolicyProblem } from '../src/policy/load.js'

type Tap = Pick<typeof t, 'ok' | 'equal' | 'match' | 'notMatch'>

const NOW = Date.parse('2026-12-10T12:00:00Z')
const OPTIONS: LoadOptions = { now: NOW, env: {} }
const FILE = 'policy.yaml'
const HASH_A = digestKey('example-key-a')
const HASH_B = digestKey('example-key-b')
const HASH_C = digestKey('example-key-c')

/** Required fields of a valid key, as YAML text per field. */
const BASE_KEY: Record<string, string> = {
  id: 'key-a',
  owner: 'soc@example.org',
  purpose: 'Hourly indicator pull',
  hash: HASH_A,
  allowed_ips: '[192.0.2.10]'
}

/** Writes one key as a YAML list item. A field set to undefined is left out. */
function keyYaml (fields: Record<string, string | undefined> = {}): string {
  const lines = Object.entries({ ...BASE_KEY, ...fields })
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}: ${value ?? ''}`)
  return lines.map((line, index) => (index === 0 ? '  - ' : '    ') + line).join('\n')
}

function policyYaml (...keys: string[]): string {
  return ['version: 1', 'keys:', ...keys].join('\n') + '\n'
}

/** Parses text that must be rejected and returns the problems, each checked for its place. */
async function rejectedProblems (t: Tap, text: string, options = OPTIONS, file = FILE): Promise<PolicyProblem[]> {
  try {
    await parsePolicy(text, file, options)
  } catch (error) {
    if (!(error instanceof PolicyLoadError)) throw error
    for (const problem of error.problems) {
      t.ok(problem.message.startsWith(`${file}`), `message names the file: ${problem.message}`)
      if (problem.field !== undefined) t.match(problem.message, `field "${problem.field}"`, 'message names the field')
      if (problem.keyId !== undefined) t.match(problem.message, `key "${problem.keyId}"`, 'message names the key id')
      if (problem.index !== undefined) t.match(problem.message, `keys[${problem.index}]`, 'message names the key index')
    }
    return [...error.problems]
  }
  throw new Error('the policy loaded, but problems were expected')
}

/** Asserts that exactly one problem is reported, at `field`, with a message matching `pattern`. */
async function expectOneProblem (t: Tap, text: string, field: string | undefined, pattern: RegExp | string, options = OPTIONS): Promise<PolicyProblem | undefined> {
  const problems = await rejectedProblems(t, text, options)
  t.equal(problems.length, 1, `one problem: ${problems.map((problem) => problem.message).join(' | ')}`)
  const problem = problems[0]
  t.equal(problem?.field, field, 'field')
  t.match(problem?.message, pattern, 'message')
  return problem
}

t.test('full key loads with every field', async (t) => {
  const text = policyYaml(keyYaml({
    id: 'siem-pull',
    allowed_ips: '[203.0.113.10, 198.51.100.0/24, "2001:db8::/48"]',
    expires: '2027-01-31T00:00:00Z',
    not_before: '2026-12-01T00:00:00Z',
    read_only: 'false',
    upstream_key: 'env:MISP_KEY_SIEM',
    revoked: '{ at: 2026-12-02T10:00:00Z, reason: leaked in CI log }',
    labels: '{ account: svc-siem, ticket: "1042" }'
  }))
  const policy = await parsePolicy(text, FILE, { now: NOW, env: { MISP_KEY_SIEM: 'UpstreamKeyForTheSiem0000000000000000000' } })

  t.equal(policy.version, 1)
  t.equal(policy.file, FILE)
  t.equal(policy.keys.length, 1)
  const key = policy.keys[0]
  t.equal(key?.id, 'siem-pull')
  t.equal(key?.owner, 'soc@example.org')
  t.equal(key?.purpose, 'Hourly indicator pull')
  t.equal(key?.hash, HASH_A)
  t.same(key?.allowedIps.entries, ['203.0.113.10/32', '198.51.100.0/24', '2001:db8::/48'])
  t.equal(key?.expires, Date.parse('2027-01-31T00:00:00Z'))
  t.equal(key?.notBefore, Date.parse('2026-12-01T00:00:00Z'))
  t.equal(key?.readOnly, false)
  t.equal(key?.upstreamKey, 'UpstreamKeyForTheSiem0000000000000000000')
  t.same(key?.revoked, { at: Date.parse('2026-12-02T10:00:00Z'), reason: 'leaked in CI log' })
  t.same(key?.labels, { account: 'svc-siem', ticket: '1042' })
  t.equal(policy.byDigest.get(HASH_A), key, 'byDigest finds the key by hash')
  t.ok(Object.isFrozen(key), 'key entries are frozen')
})

t.test('optional fields take their defaults', async (t) => {
  const policy = await parsePolicy(policyYaml(keyYaml()), FILE, OPTIONS)
  const key = policy.keys[0]
  t.equal(key?.readOnly, true, 'read_only defaults to true')
  t.equal(key?.expires, undefined)
  t.equal(key?.notBefore, undefined)
  t.equal(key?.upstreamKey, undefined)
  t.equal(key?.revoked, undefined)
  t.same(key?.labels, {})
})

t.test('empty key list loads', async (t) => {
  const policy = await parsePolicy('version: 1\nkeys: []\n', FILE, OPTIONS)
  t.equal(policy.keys.length, 0)
  t.equal(policy.byDigest.size, 0)
})

t.test('example policy in config loads', async (t) => {
  const policy = await loadPolicy('config/policy.example.yaml', { now: NOW, env: { MISP_KEY_INGEST: 'ExampleUpstreamKeyForTheIngestConnector0' } })
  t.ok(policy.keys.length > 0, 'the example has keys')
  t.equal(new Set(policy.keys.map((key) => key.id)).size, policy.keys.length, 'ids are unique')
})

t.test('allowed_ips contains the listed clients only', async (t) => {
  const policy = await parsePolicy(policyYaml(keyYaml({ allowed_ips: '[10.0.0.0/8, "2001:db8::/48"]' })), FILE, OPTIONS)
  const set = policy.keys[0]?.allowedIps
  const address = (text: string): NonNullable<ReturnType<typeof parseIpAddress>> => {
    const parsed = parseIpAddress(text)
    if (parsed === undefined) throw new Error(`test address ${text} did not parse`)
    return parsed
  }
  t.equal(set?.has(address('::ffff:10.1.2.3')), true, 'IPv4-mapped client inside 10.0.0.0/8')
  t.equal(set?.has(address('11.0.0.1')), false)
  t.equal(set?.has(address('2001:db8::1')), true)
  t.equal(set?.has(address('2001:db9::1')), false)
})

t.test('anywhere must be written out and is valid', async (t) => {
  const policy = await parsePolicy(policyYaml(keyYaml({ allowed_ips: '[0.0.0.0/0, "::/0"]' })), FILE, OPTIONS)
  t.equal(policy.keys[0]?.allowedIps.anywhere, true)
})

t.test('unknown fields are rejected at every level', async (t) => {
  await expectOneProblem(t, policyYaml(keyYaml()) + 'settings: {}\n', 'settings', /unknown field "settings" in the policy file.*Remove it\. The fields of the policy file are: version, keys, profiles/)
  await expectOneProblem(t, policyYaml(keyYaml({ role: 'reader' })), 'role', /unknown field "role" in a key, which only accepts fields that misp-keygate enforces/)
  await expectOneProblem(t, policyYaml(keyYaml({ sensitive: 'true' })), 'sensitive', /unknown field "sensitive"/)
  await expectOneProblem(t, policyYaml(keyYaml({ rate_limit: '10' })), 'rate_limit', /unknown field "rate_limit"/)
  await expectOneProblem(t, policyYaml(keyYaml({ revoked: '{ at: 2026-12-02T10:00:00Z, reason: leaked, by: admin }' })), 'revoked.by', /unknown field "by" in revoked/)
})

t.test('__proto__ is an unknown field', async (t) => {
  const text = policyYaml(keyYaml()) + '    __proto__: { read_only: false }\n'
  await expectOneProblem(t, text, '__proto__', /unknown field "__proto__" in a key/)
})

t.test('misspelt fields get a suggestion', async (t) => {
  const cases: Array<[string, string]> = [
    ['alowed_ips', 'allowed_ips'],
    ['allowed_ip', 'allowed_ips'],
    ['readOnly', 'read_only'],
    ['read-only', 'read_only'],
    ['notBefore', 'not_before'],
    ['expire', 'expires'],
    ['upstream', 'upstream_key'],
    ['lables', 'labels'],
    ['Owner', 'owner']
  ]
  for (const [misspelt, known] of cases) {
    const text = policyYaml(keyYaml({ [misspelt]: known === 'allowed_ips' ? '[192.0.2.10]' : 'x' }))
    const problems = await rejectedProblems(t, text)
    const problem = problems.find((candidate) => candidate.field === misspelt)
    t.match(problem?.message, `Did you mean "${known}"?`, `${misspelt} suggests ${known}`)
  }
  await expectOneProblem(t, 'version: 1\nkey: []\nkeys: []\n', 'key', /unknown field "key" in the policy file.*Did you mean "keys"\?/)
})

t.test('misspelt revoked field reports both problems', async (t) => {
  const problems = await rejectedProblems(t, policyYaml(keyYaml({ revoked: '{ at: 2026-12-02T10:00:00Z, reasn: leaked }' })))
  t.same(problems.map((problem) => problem.field), ['revoked.reasn', 'revoked.reason'])
  t.match(problems[0]?.message, 'Did you mean "reason"?')
  t.match(problems[1]?.message, 'required field "reason" is missing')
})

t.test('missing required fields are named', async (t) => {
  for (const field of ['id', 'owner', 'purpose', 'hash', 'allowed_ips']) {
    await expectOneProblem(t, policyYaml(keyYaml({ [field]: undefined })), field, new RegExp(`required field "${field}" is missing\\. Add it, for example: ${field}: `))
  }
  await expectOneProblem(t, policyYaml(keyYaml({ revoked: '{ reason: leaked }' })), 'revoked.at', /required field "at" is missing\. Add it, for example: at: 2026-12-02T10:00:00Z/)
  await expectOneProblem(t, policyYaml(keyYaml({ revoked: '{ at: 2026-12-02T10:00:00Z }' })), 'revoked.reason', /required field "reason" is missing/)
  await expectOneProblem(t, 'keys: []\n', 'version', /required field "version" is missing\. Add it, for example: version: 1/)
  await expectOneProblem(t, 'version: 1\n', 'keys', /required field "keys" is missing/)
})

t.test('missing id uses the key index', async (t) => {
  const problem = await expectOneProblem(t, policyYaml(keyYaml({ id: undefined })), 'id', /policy\.yaml, keys\[0\], field "id": required field "id" is missing/)
  t.equal(problem?.keyId, undefined)
  t.equal(problem?.index, 0)
})

t.test('wrong types are rejected', async (t) => {
  const cases: Array<[Record<string, string>, string, RegExp]> = [
    [{ read_only: '"yes"' }, 'read_only', /must be true or false, got the string "yes"\. YAML 1\.2 reads only true and false as booleans/],
    [{ read_only: 'yes' }, 'read_only', /got the string "yes"/],
    [{ read_only: 'on' }, 'read_only', /got the string "on"/],
    [{ read_only: 'no' }, 'read_only', /got the string "no"/],
    [{ read_only: '"true"' }, 'read_only', /got the string "true"/],
    [{ read_only: '1' }, 'read_only', /got the number 1/],
    [{ read_only: '' }, 'read_only', /got an empty value/],
    [{ owner: '123' }, 'owner', /must be a non-empty string, got the number 123\. Write who is responsible for the key/],
    [{ owner: '""' }, 'owner', /must be a non-empty string, got the string ""/],
    [{ owner: '"  "' }, 'owner', /must be a non-empty string/],
    [{ owner: '' }, 'owner', /got an empty value/],
    [{ purpose: '[a, b]' }, 'purpose', /must be a non-empty string, got a list\. Write what the key is used for/],
    [{ purpose: 'true' }, 'purpose', /got the boolean true/],
    [{ id: '42' }, 'id', /must be a lowercase letter or digit followed by up to 63/],
    [{ labels: '[a, b]' }, 'labels', /must be a mapping of names to strings/],
    [{ labels: '{ account: 42 }' }, 'labels.account', /must be a string, got the number 42\. Quote the value/],
    [{ labels: '{ enabled: true }' }, 'labels.enabled', /got the boolean true/],
    [{ revoked: 'true' }, 'revoked', /revoked must be a mapping of fields, got the boolean true/],
    [{ revoked: '{ at: 2026-12-02T10:00:00Z, reason: 7 }' }, 'revoked.reason', /must be a non-empty string, got the number 7/],
    [{ allowed_ips: '10.0.0.0/8' }, 'allowed_ips', /must be a list of addresses or CIDR ranges.*got the string "10\.0\.0\.0\/8"/],
    [{ expires: '1798675200' }, 'expires', /must be an RFC 3339 timestamp such as 2027-01-31T00:00:00Z, got the number 1798675200/]
  ]
  for (const [fields, field, pattern] of cases) {
    await expectOneProblem(t, policyYaml(keyYaml(fields)), field, pattern)
  }
})

t.test('version other than 1 is rejected', async (t) => {
  for (const version of ['2', '"1"', '1.0.0', '0']) {
    await expectOneProblem(t, `version: ${version}\nkeys: []\n`, 'version', /must be 1, the only policy format version this misp-keygate reads/)
  }
})

t.test('keys that are not a list or mapping', async (t) => {
  await expectOneProblem(t, 'version: 1\nkeys: { id: a }\n', 'keys', /must be a list of keys, each starting with "- id:", or \[\] for none, got a mapping/)
})

t.test('non-mapping key names its index', async (t) => {
  const problems = await rejectedProblems(t, 'version: 1\nkeys:\n  - just-a-name\n')
  t.equal(problems.length, 1)
  t.equal(problems[0]?.index, 0)
  t.equal(problems[0]?.field, undefined)
  t.match(problems[0]?.message, 'policy.yaml, keys[0]: a key must be a mapping of fields, got the string "just-a-name"')
})

t.test('file that is not a mapping', async (t) => {
  await expectOneProblem(t, '- id: a\n', undefined, /policy\.yaml: the policy file must be a mapping of fields, got a list/)
  await expectOneProblem(t, 'just text\n', undefined, /got the string "just text"/)
  await expectOneProblem(t, '', undefined, /the file is empty\. Write a mapping with version: 1 and keys/)
  await expectOneProblem(t, '# only a comment\n', undefined, /invalid YAML/)
})

t.test('YAML errors name the line', async (t) => {
  await expectOneProblem(t, 'version: 1\nversion: 1\nkeys: []\n', undefined, /policy\.yaml: invalid YAML at line 2, column 1: duplicated mapping key/)
  const duplicateInKey = policyYaml(keyYaml()) + '    owner: other@example.org\n'
  await expectOneProblem(t, duplicateInKey, undefined, /invalid YAML at line 8, column 5: duplicated mapping key/)
  await expectOneProblem(t, 'version: 1\nkeys: [\n', undefined, /invalid YAML at line 3/)
  await expectOneProblem(t, 'version: 1\nkeys: []\n---\nversion: 1\n', undefined, /invalid YAML.*single document/)
  await expectOneProblem(t, policyYaml(keyYaml({ expires: '!!timestamp 2027-01-31' })), undefined, /invalid YAML at line 8, column 14: unknown scalar tag/)
})

t.test('YAML error messages contain no source text', async (t) => {
  const problem = await expectOneProblem(t, 'version: 1\nkeys: [\n  { upstream_key: "SecretLookingValue\n', undefined, /invalid YAML/)
  t.notMatch(problem?.message, 'SecretLookingValue')
})

t.test('valid timestamps are accepted', async (t) => {
  const cases: Array<[string, string]> = [
    ['2027-01-31T00:00:00Z', '2027-01-31T00:00:00.000Z'],
    ['"2027-01-31T00:00:00Z"', '2027-01-31T00:00:00.000Z'],
    ['2027-01-31T01:00:00+01:00', '2027-01-31T00:00:00.000Z'],
    ['2027-01-30T19:30:00-04:30', '2027-01-31T00:00:00.000Z'],
    ['2027-01-31T00:00:00-00:00', '2027-01-31T00:00:00.000Z'],
    ['2027-01-31t00:00:00z', '2027-01-31T00:00:00.000Z'],
    ['2027-01-31T00:00:00.5Z', '2027-01-31T00:00:00.500Z'],
    ['2027-01-31T00:00:00.123456789Z', '2027-01-31T00:00:00.123Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
    ['2027-12-31T23:59:59Z', '2027-12-31T23:59:59.000Z']
  ]
  for (const [text, expected] of cases) {
    const policy = await parsePolicy(policyYaml(keyYaml({ expires: text })), FILE, OPTIONS)
    const expires = policy.keys[0]?.expires
    t.equal(expires === undefined ? undefined : new Date(expires).toISOString(), expected, text)
  }
})

t.test('invalid timestamps are rejected', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['2027-01-31T00:00:00', /has no offset\. Add Z for UTC or an offset such as \+01:00/],
    ['2027-01-31T00:00:00.250', /has no offset/],
    ['2027-01-31', /is a date without a time\. Write a full timestamp/],
    ['2026-02-30T00:00:00Z', /day 30 does not exist in 2026-02, which has 28 days/],
    ['2025-02-29T00:00:00Z', /day 29 does not exist in 2025-02, which has 28 days/],
    ['1900-02-29T00:00:00Z', /day 29 does not exist in 1900-02/],
    ['2027-04-31T00:00:00Z', /day 31 does not exist in 2027-04, which has 30 days/],
    ['2027-01-00T00:00:00Z', /day 0 does not exist/],
    ['2027-13-01T00:00:00Z', /month 13 does not exist/],
    ['2027-00-01T00:00:00Z', /month 0 does not exist/],
    ['2027-01-31T24:00:00Z', /hour 24 is out of range 00-23/],
    ['2027-01-31T00:60:00Z', /minute 60 is out of range 00-59/],
    ['2026-12-31T23:59:60Z', /second 60 is out of range 00-59 \(leap seconds are not accepted\)/],
    ['2027-01-31T00:00:00+24:00', /has an offset out of range/],
    ['2027-01-31T00:00:00+01:60', /has an offset out of range/],
    ['2027-01-31 00:00:00Z', /is not an RFC 3339 timestamp/],
    ['2027-01-31T00:00Z', /is not an RFC 3339 timestamp/],
    ['2027-01-31T00:00:00+0100', /is not an RFC 3339 timestamp/],
    ['2027-01-31T00:00:00+01', /is not an RFC 3339 timestamp/],
    ['2027-01-31T00:00:00.Z', /is not an RFC 3339 timestamp/],
    ['27-01-31T00:00:00Z', /is not an RFC 3339 timestamp/],
    ['"2027-1-31T00:00:00Z"', /is not an RFC 3339 timestamp/],
    ['tomorrow', /"tomorrow" is not an RFC 3339 timestamp\. Write it such as 2027-01-31T00:00:00Z/],
    ['"2027-01-31T00:00:00Z "', /is not an RFC 3339 timestamp/]
  ]
  for (const [text, pattern] of cases) {
    await expectOneProblem(t, policyYaml(keyYaml({ expires: text })), 'expires', pattern)
  }
  await expectOneProblem(t, policyYaml(keyYaml({ not_before: '2027-01-31' })), 'not_before', /is a date without a time/)
  await expectOneProblem(t, policyYaml(keyYaml({ revoked: '{ at: 2026-12-02, reason: leaked }' })), 'revoked.at', /is a date without a time/)
})

t.test('not_before must be before expires', async (t) => {
  await expectOneProblem(t, policyYaml(keyYaml({ not_before: '2027-01-31T00:00:00Z', expires: '2027-01-31T00:00:00Z' })), 'not_before',
    /must be earlier than expires \(not_before is 2027-01-31T00:00:00\.000Z, expires is 2027-01-31T00:00:00\.000Z\), or the key is never valid/)
  await expectOneProblem(t, policyYaml(keyYaml({ not_before: '2027-02-01T00:00:00+01:00', expires: '2027-01-31T00:00:00Z' })), 'not_before', /must be earlier than expires/)
  const policy = await parsePolicy(policyYaml(keyYaml({ not_before: '2027-01-31T00:00:00Z', expires: '2027-01-31T00:00:00.001Z' })), FILE, OPTIONS)
  t.equal(policy.keys.length, 1, 'one millisecond apart is valid')
})

t.test('revoked.at may not be in the future', async (t) => {
  await expectOneProblem(t, policyYaml(keyYaml({ revoked: '{ at: 2026-12-10T12:00:01Z, reason: leaked }' })), 'revoked.at',
    /is in the future \(2026-12-10T12:00:01\.000Z, the load time is 2026-12-10T12:00:00\.000Z\)\. Set it to the time the key was revoked/)
  const policy = await parsePolicy(policyYaml(keyYaml({ revoked: '{ at: 2026-12-10T12:00:00Z, reason: leaked }' })), FILE, OPTIONS)
  t.equal(policy.keys[0]?.revoked?.at, NOW, 'revoked exactly at load time is valid')
})

t.test('allowed_ips rejects odd notation entries', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['010.0.0.0/8', /"010\.0\.0\.0\/8" is not a valid IPv4 address: write four decimal parts 0-255 without leading zeros/],
    ['10.1/16', /"10\.1\/16" is not a valid IPv4 address/],
    ['0x0a.0.0.0/8', /"0x0a\.0\.0\.0\/8" is not a valid IPv4 address/],
    ['10.0.0.0/33', /prefix length 33, which is out of range for IPv4/],
    ['10.0.0.0/8.0', /prefix length "8\.0", which is not a whole number/],
    ['10.1.2.3/8', /10\.1\.2\.3\/8 has host bits set; write 10\.0\.0\.0\/8/],
    ['"fe80::1%eth0"', /has a zone id/],
    ['"[2001:db8::1]"', /because of the brackets/]
  ]
  for (const [entry, pattern] of cases) {
    await expectOneProblem(t, policyYaml(keyYaml({ allowed_ips: `[192.0.2.10, ${entry}]` })), 'allowed_ips[1]', pattern)
  }
  await expectOneProblem(t, policyYaml(keyYaml({ allowed_ips: '[167772161]' })), 'allowed_ips[0]', /must be an address or CIDR range written as text.*got the number 167772161/)
  await expectOneProblem(t, policyYaml(keyYaml({ allowed_ips: '[]' })), 'allowed_ips', /must list at least one address or CIDR range\. To allow any address, write \[0\.0\.0\.0\/0, ::\/0\]/)
})

t.test('every bad allowed_ips entry is reported', async (t) => {
  const problems = await rejectedProblems(t, policyYaml(keyYaml({ allowed_ips: '[010.0.0.0/8, 192.0.2.10, 10.1/16, 10.0.0.0/33]' })))
  t.same(problems.map((problem) => problem.field), ['allowed_ips[0]', 'allowed_ips[2]', 'allowed_ips[3]'])
})

t.test('hash must be sha256 and lowercase hex', async (t) => {
  const cases = [HASH_A.toUpperCase(), HASH_A.slice('sha256:'.length), HASH_A.slice(0, -1), `${HASH_A}0`, `md5:${'0'.repeat(32)}`, `sha256:${'g'.repeat(64)}`, `"${HASH_A} "`]
  for (const hash of cases) {
    await expectOneProblem(t, policyYaml(keyYaml({ hash })), 'hash', /must be "sha256:" and the 64 lowercase hex digits of the SHA-256 of the key, got a string of \d+ characters \(not shown because it may be secret\)/)
  }
  await expectOneProblem(t, policyYaml(keyYaml({ hash: '12345' })), 'hash', /got the number 12345/)
})

t.test('key pasted as hash is not echoed', async (t) => {
  const rawKey = 'PastedMispKeyInsteadOfItsHash00000000000'
  const problem = await expectOneProblem(t, policyYaml(keyYaml({ hash: rawKey })), 'hash', /not shown because it may be secret/)
  t.notMatch(problem?.message, rawKey)
})

t.test('id must match the id pattern', async (t) => {
  for (const id of ['Siem', '-siem', '.siem', 'siem pull', '"siem/pull"', 'a'.repeat(65), '""']) {
    const problem = await expectOneProblem(t, policyYaml(keyYaml({ id })), 'id', /must be a lowercase letter or digit followed by up to 63 of a-z, 0-9, "\.", "_" and "-"/)
    t.equal(problem?.keyId, undefined, `${id}: no key id for an invalid id`)
    t.equal(problem?.index, 0, `${id}: the index names the key`)
  }
  const policy = await parsePolicy(policyYaml(keyYaml({ id: `0${'a._-'.repeat(15)}abc` })), FILE, OPTIONS)
  t.equal(policy.keys[0]?.id.length, 64, 'a 64-character id is valid')
})

t.test('duplicate ids are rejected', async (t) => {
  const text = policyYaml(keyYaml({ id: 'siem' }), keyYaml({ id: 'other', hash: HASH_B }), keyYaml({ id: 'siem', hash: HASH_C }))
  const problem = await expectOneProblem(t, text, 'id', /key "siem" \(keys\[2\]\), field "id": is also the id of keys\[0\]\. Give each key its own id/)
  t.equal(problem?.keyId, 'siem')
  t.equal(problem?.index, 2)
})

t.test('duplicate hashes name both ids', async (t) => {
  const text = policyYaml(keyYaml({ id: 'first' }), keyYaml({ id: 'second', hash: HASH_B }), keyYaml({ id: 'third' }))
  const problem = await expectOneProblem(t, text, 'hash',
    /key "third" \(keys\[2\]\), field "hash": is the same as the hash of key "first" \(keys\[0\]\), so key "first" \(keys\[0\]\) and key "third" \(keys\[2\]\) would share one key/)
  t.equal(problem?.keyId, 'third')
})

t.test('duplicates are found in a large policy', async (t) => {
  const keys = Array.from({ length: 2000 }, (_, index) => keyYaml({ id: `key-${index}`, hash: digestKey(`key-${index}`) }))
  keys.push(keyYaml({ id: 'key-7', hash: digestKey('key-7') }))
  const problems = await rejectedProblems(t, policyYaml(...keys))
  t.same(problems.map((problem) => `${problem.index ?? ''} ${problem.field ?? ''}`), ['2000 id', '2000 hash'])
})

t.test('every problem of every key is collected', async (t) => {
  const text = policyYaml(
    keyYaml({ owner: '42', read_only: 'yes' }),
    keyYaml({ id: 'Bad Id', hash: HASH_B, allowed_ips: '[]' }),
    keyYaml({ id: 'key-c', hash: HASH_C, expires: '2027-01-31', alowed: 'x' })
  ).replace('version: 1', 'version: 2')
  const problems = await rejectedProblems(t, text)
  t.same(problems.map((problem) => [problem.index, problem.keyId, problem.field]), [
    [undefined, undefined, 'version'],
    [0, 'key-a', 'owner'],
    [0, 'key-a', 'read_only'],
    [1, undefined, 'id'],
    [1, undefined, 'allowed_ips'],
    [2, 'key-c', 'alowed'],
    [2, 'key-c', 'expires']
  ])
})

t.test('error message lists problems with a cap', async (t) => {
  const keys = Array.from({ length: 30 }, (_, index) => keyYaml({ id: `key-${index}`, hash: digestKey(`key-${index}`), owner: '1' }))
  try {
    await parsePolicy(policyYaml(...keys), FILE, OPTIONS)
    t.fail('the policy must not load')
  } catch (error) {
    t.type(error, PolicyLoadError)
    const message = (error as PolicyLoadError).message
    t.match(message, /^policy file policy\.yaml cannot be loaded \(30 problems\):\n/)
    t.match(message, '  - policy.yaml, key "key-19" (keys[19]), field "owner": must be a non-empty string')
    t.notMatch(message, 'key "key-20"')
    t.match(message, /\n {2}\.\.\. and 10 more problems$/)
    t.equal((error as PolicyLoadError).problems.length, 30, 'problems keeps every problem')
  }
})

t.test('upstream_key from the environment', async (t) => {
  const text = policyYaml(keyYaml({ upstream_key: 'env:MISP_KEY_SIEM' }))
  const policy = await parsePolicy(text, FILE, { now: NOW, env: { MISP_KEY_SIEM: 'EnvironmentUpstreamKey000000000000000000' } })
  t.equal(policy.keys[0]?.upstreamKey, 'EnvironmentUpstreamKey000000000000000000')

  await expectOneProblem(t, text, 'upstream_key', /environment variable MISP_KEY_SIEM is not set\. Set it to the MISP key before starting misp-keygate/)
  await expectOneProblem(t, text, 'upstream_key', /environment variable MISP_KEY_SIEM is empty/, { now: NOW, env: { MISP_KEY_SIEM: '' } })
  await expectOneProblem(t, text, 'upstream_key', /environment variable MISP_KEY_SIEM contains a space, comma or non-printable character/,
    { now: NOW, env: { MISP_KEY_SIEM: 'two keys,joined' } })
})

t.test('upstream_key must be env or file', async (t) => {
  const cases = ['env:', 'env:1ABC', 'env:MISP-KEY', 'env:A B', 'file:', 'vault:secret/misp', 'MISP_KEY_SIEM', 'ENV:MISP_KEY']
  for (const value of cases) {
    await expectOneProblem(t, policyYaml(keyYaml({ upstream_key: JSON.stringify(value) })), 'upstream_key',
      /must be env:NAME \(an environment variable\) or file:PATH \(a file that contains the key\), got a string that is neither \(not shown because it may be a key\)\. Never write the key itself into the policy/)
  }
  await expectOneProblem(t, policyYaml(keyYaml({ upstream_key: '12' })), 'upstream_key', /got the number 12/)
})

t.test('upstream_key from a file', async (t) => {
  const dir = t.testdir({
    'relative.key': 'FileUpstreamKeyRelative00000000000000000\n',
    'crlf.key': 'FileUpstreamKeyWithCrLf00000000000000000\r\n',
    secrets: { 'nested.key': 'FileUpstreamKeyNested0000000000000000000' }
  })
  const file = join(dir, 'policy.yaml')
  const text = policyYaml(
    keyYaml({ id: 'relative', upstream_key: 'file:relative.key' }),
    keyYaml({ id: 'crlf', hash: HASH_B, upstream_key: 'file:crlf.key' }),
    keyYaml({ id: 'absolute', hash: HASH_C, upstream_key: `"file:${join(dir, 'secrets', 'nested.key')}"` }),
    keyYaml({ id: 'shared', hash: digestKey('shared'), upstream_key: 'file:./relative.key' })
  )
  const policy = await parsePolicy(text, file, OPTIONS)
  t.same(policy.keys.map((key) => key.upstreamKey), [
    'FileUpstreamKeyRelative00000000000000000',
    'FileUpstreamKeyWithCrLf00000000000000000',
    'FileUpstreamKeyNested0000000000000000000',
    'FileUpstreamKeyRelative00000000000000000'
  ])
})

t.test('upstream key file problems are rejected', async (t) => {
  const dir = t.testdir({
    'empty.key': '\n',
    'spaced.key': 'FileUpstream Key\n',
    'large.key': 'x'.repeat(5000),
    'folder.key': {}
  })
  const file = join(dir, 'policy.yaml')
  const cases: Array<[string, RegExp]> = [
    ['missing.key', /upstream key file ".*missing\.key" was not found\. Create it with the MISP key, or fix the path/],
    ['empty.key', /upstream key file ".*empty\.key" is empty\. Write the MISP key into it/],
    ['spaced.key', /upstream key file ".*spaced\.key" contains a space, comma or non-printable character/],
    ['large.key', /upstream key file ".*large\.key" is larger than 4096 bytes/],
    ['folder.key', /upstream key file ".*folder\.key" is not a regular file/]
  ]
  for (const [name, pattern] of cases) {
    const problems = await rejectedProblems(t, policyYaml(keyYaml({ upstream_key: `file:${name}` })), OPTIONS, file)
    t.equal(problems.length, 1, name)
    t.equal(problems[0]?.field, 'upstream_key', name)
    t.match(problems[0]?.message, pattern, name)
    t.match(problems[0]?.message, JSON.stringify(join(dir, name)), `${name}: path resolved against the policy directory`)
  }
})

t.test('unreadable upstream key path is rejected', async (t) => {
  const dir = t.testdir({ 'plain.key': 'FileUpstreamKeyPlain00000000000000000000' })
  const problems = await rejectedProblems(t, policyYaml(keyYaml({ upstream_key: 'file:plain.key/inner.key' })), OPTIONS, join(dir, 'policy.yaml'))
  t.equal(problems.length, 1)
  t.equal(problems[0]?.field, 'upstream_key')
  t.match(problems[0]?.message, /upstream key file ".*plain\.key\/inner\.key" cannot be read \(ENOTDIR\)/)
  t.notMatch(problems[0]?.message, 'FileUpstreamKeyPlain')
})

t.test('no upstream key value appears in any error', async (t) => {
  const secrets = {
    env: 'SecretFromTheEnvironment0000000000000000',
    file: 'SecretFromTheKeyFile00000000000000000000',
    spaced: 'Secret From A Spaced File',
    inline: 'SecretWrittenInlineByMistake000000000000',
    badEnv: 'Secret,WithComma'
  }
  const dir = t.testdir({ 'good.key': secrets.file + '\n', 'spaced.key': secrets.spaced + '\n' })
  const text = policyYaml(
    keyYaml({ id: 'env-key', owner: '1', upstream_key: 'env:GOOD' }),
    keyYaml({ id: 'file-key', hash: HASH_B, read_only: 'yes', upstream_key: 'file:good.key' }),
    keyYaml({ id: 'spaced-key', hash: HASH_C, upstream_key: 'file:spaced.key' }),
    keyYaml({ id: 'inline-key', hash: digestKey('d'), upstream_key: secrets.inline }),
    keyYaml({ id: 'bad-env-key', hash: digestKey('e'), upstream_key: 'env:BAD' }),
    keyYaml({ id: 'hash-key', hash: secrets.inline })
  )
  try {
    await parsePolicy(text, join(dir, 'policy.yaml'), { now: NOW, env: { GOOD: secrets.env, BAD: secrets.badEnv } })
    t.fail('the policy must not load')
  } catch (error) {
    t.type(error, PolicyLoadError)
    const everything = JSON.stringify((error as PolicyLoadError).problems) + (error as PolicyLoadError).message + String((error as Error).stack)
    for (const [name, secret] of Object.entries(secrets)) t.notMatch(everything, secret, `${name} secret not in the error`)
    t.equal((error as PolicyLoadError).problems.length, 6, 'every problem is reported')
  }
})

t.test('loadPolicy reads the file', async (t) => {
  const dir = t.testdir({ 'policy.yaml': policyYaml(keyYaml()) })
  const policy = await loadPolicy(join(dir, 'policy.yaml'), OPTIONS)
  t.equal(policy.keys[0]?.id, 'key-a')
  t.equal(policy.file, join(dir, 'policy.yaml'))
})

t.test('loadPolicy explains a missing file', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'absent.yaml')
  try {
    await loadPolicy(file, OPTIONS)
    t.fail('a missing file must not load')
  } catch (error) {
    t.type(error, PolicyLoadError)
    const problems = (error as PolicyLoadError).problems
    t.equal(problems.length, 1)
    t.equal(problems[0]?.file, file)
    t.match(problems[0]?.message, `${file}: policy file not found. Create it (config/policy.example.yaml in the misp-keygate source is a commented example)`)
  }
})

t.test('loadPolicy rejects a directory and bad UTF-8', async (t) => {
  const dir = t.testdir({ folder: {} })
  await writeFile(join(dir, 'latin1.yaml'), Buffer.from('version: 1\nkeys: []\n# caf\xe9\n', 'latin1'))
  for (const [name, pattern] of [['folder', /folder: is a directory\. Give the path of the policy file itself/], ['latin1.yaml', /latin1\.yaml: is not valid UTF-8 text/]] as const) {
    try {
      await loadPolicy(join(dir, name), OPTIONS)
      t.fail(`${name} must not load`)
    } catch (error) {
      t.type(error, PolicyLoadError, name)
      t.match((error as PolicyLoadError).problems[0]?.message, pattern, name)
    }
  }
})
