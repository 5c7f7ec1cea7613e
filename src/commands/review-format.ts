import { CHECKS, day, type CheckName, type CheckResult, type ReviewRow, type Severity } from './review-checks.js'

/** Width the table and the findings fit in: a 100-column terminal. */
export const TABLE_WIDTH = 100
const KEY_WIDTH = 20
const NO_BREAK = '\u00a0'
const MARK_WIDTH = 4

const HEADERS: Readonly<Record<CheckName, string>> = {
  documented: 'DOC',
  account: 'ACCT',
  read_only: 'RO',
  ephemeral: 'TTL',
  restricted: 'IPS',
  not_shared: 'SHRD',
  in_use: 'USED',
  rotation: 'ROT'
}

const LEGEND = [
  'DOC owner and purpose written; ACCT own MISP account label; RO read-only (rw: read-write);',
  'TTL expiry set, within the maximum, not close; IPS allowed_ips narrow; SHRD no address outside',
  'allowed_ips and few addresses; USED used recently; ROT predecessor idle after rotation.',
  'ok: passes, warn: warning, CRIT: critical, -: does not apply.'
]

export interface ReviewHeader {
  readonly policyFile: string
  readonly usageDb: string
  readonly recordsStart: number
  readonly now: number
}

/** Renders the review as a table, one row per key, then the findings and a summary. */
export function reviewTable (rows: readonly ReviewRow[], header: ReviewHeader): string {
  const lines = [
    `Policy:        ${header.policyFile}`,
    `Usage records: ${header.usageDb}`,
    `Reviewed at ${iso(header.now)}, with records since ${iso(header.recordsStart)}`,
    '',
    tableLine('KEY', 'LAST USED', 'ADDRS', 'EXPIRES', CHECKS.map((name) => HEADERS[name]), 'RESULT'),
    ...rows.map((row) => rowLine(row, header.now)),
    '',
    ...LEGEND
  ]
  const findings = rows.flatMap(findingLines)
  if (findings.length > 0) lines.push('', 'Findings:', ...findings)
  lines.push('', summary(rows))
  return lines.join('\n') + '\n'
}

function rowLine (row: ReviewRow, now: number): string {
  const lastUsed = row.usage?.lastAllowed === undefined ? 'never' : day(row.usage.lastAllowed)
  const marks = CHECKS.map((name) => mark(row, name, row.checks[name]))
  return tableLine(shorten(row.key.id, KEY_WIDTH), lastUsed, String(row.usage?.addresses ?? 0), expiresText(row, now), marks, resultText(row.severity))
}

function tableLine (key: string, lastUsed: string, addresses: string, expires: string, marks: readonly string[], result: string): string {
  return [key.padEnd(KEY_WIDTH), lastUsed.padEnd(10), addresses.padStart(5), expires.padEnd(8), ...marks.map((m) => m.padEnd(MARK_WIDTH)), result].join(' ').trimEnd()
}

function mark (row: ReviewRow, name: CheckName, check: CheckResult): string {
  if (check.severity === 'critical') return 'CRIT'
  if (check.severity === 'warning') return 'warn'
  if (name === 'read_only' && check.severity === 'ok') return 'ro'
  if (name === 'read_only' && check.message !== '') return 'rw'
  return check.severity === 'ok' ? 'ok' : '-'
}

function expiresText (row: ReviewRow, now: number): string {
  if (row.state === 'revoked' || row.state === 'expired') return row.state
  if (row.state === 'not yet valid') return 'pending'
  if (row.key.expires === undefined) return 'never'
  return `in ${Math.ceil((row.key.expires - now) / 86_400_000)}d`
}

function resultText (severity: Severity): string {
  if (severity === 'critical') return 'CRITICAL'
  if (severity === 'warning') return 'warning'
  return 'ok'
}

function findingLines (row: ReviewRow): string[] {
  return CHECKS.flatMap((name) => {
    const check = row.checks[name]
    if (check.severity !== 'warning' && check.severity !== 'critical') return []
    // A command at the end of a message stays on one line, so it can be copied whole.
    const text = `${row.key.id} [${name}, ${check.severity}]: ${check.message}`.replace(/misp-keygate .*$/, (command) => command.replaceAll(' ', NO_BREAK))
    return wrap(text, TABLE_WIDTH, '  ', '      ').map((line) => line.replaceAll(NO_BREAK, ' '))
  })
}

function summary (rows: readonly ReviewRow[]): string {
  const count = (severity: Severity): number => rows.filter((row) => row.severity === severity).length
  const passing = rows.length - count('warning') - count('critical')
  return `${rows.length} key(s): ${passing} ok, ${count('warning')} with warnings, ${count('critical')} critical`
}

/** Wraps text at spaces into lines of at most `width` columns, the first and the others indented. */
export function wrap (text: string, width: number, firstIndent: string, indent: string): string[] {
  const lines: string[] = []
  let line = firstIndent
  for (const word of text.split(' ')) {
    const prefix = line === firstIndent || line === indent ? '' : ' '
    if (line.length + prefix.length + word.length > width && line.trim() !== '') {
      lines.push(line)
      line = indent + word
    } else {
      line += prefix + word
    }
  }
  lines.push(line)
  return lines
}

function shorten (text: string, width: number): string {
  return text.length <= width ? text : text.slice(0, width - 1) + '…'
}

function iso (time: number): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Returns the review as JSON: every check with its severity and message. */
export function reviewJson (rows: readonly ReviewRow[], header: ReviewHeader): Record<string, unknown> {
  return {
    policy: header.policyFile,
    usage_db: header.usageDb,
    generated_at: new Date(header.now).toISOString(),
    records_since: new Date(header.recordsStart).toISOString(),
    keys: rows.map((row) => ({
      key_id: row.key.id,
      owner: row.key.owner,
      purpose: row.key.purpose,
      account: row.key.labels.account ?? null,
      read_only: row.key.readOnly,
      state: row.state,
      expires: row.key.expires === undefined ? null : new Date(row.key.expires).toISOString(),
      last_used: row.usage?.lastAllowed === undefined ? null : new Date(row.usage.lastAllowed).toISOString(),
      last_seen: row.usage === undefined ? null : new Date(row.usage.lastUsed).toISOString(),
      addresses: row.usage?.addresses ?? 0,
      requests: { allowed: row.usage?.allowed ?? 0, denied: row.usage?.denied ?? 0, errors: row.usage?.errors ?? 0 },
      severity: row.severity,
      checks: Object.fromEntries(CHECKS.map((name) => [name, { severity: row.checks[name].severity, message: row.checks[name].message }]))
    }))
  }
}
