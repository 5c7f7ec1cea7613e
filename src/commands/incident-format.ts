import type { EventRecord } from '../usage/reader.js'
import { FOLLOW_UP, type Counts, type IncidentData } from './incident-data.js'
import type { ProxyReload, Revocation } from './incident-revoke.js'
import { TABLE_WIDTH, wrap } from './review-format.js'

/** Denials listed one by one in the text report; the JSON report lists them all. */
const MAX_LISTED_DENIALS = 50
const MAX_LISTED_ROUTES = 15

export interface IncidentContext {
  readonly data: IncidentData
  readonly revocation: Revocation | undefined
  readonly policyFile: string
  readonly usageDb: string
}

/** Renders the incident report as text: revocation, addresses, routes, denials, sensitive actions, follow-up. */
export function incidentText ({ data, revocation, policyFile, usageDb }: IncidentContext): string {
  const lines = [
    `Incident report for key "${data.keyId}"`,
    ...keyLines(data),
    `Window:        ${iso(data.since)} to ${iso(data.until)}`,
    `Policy:        ${policyFile}`,
    `Usage records: ${usageDb}`,
    ...(revocation === undefined ? [] : ['', 'Revocation', ...revocationLines(data, revocation)]),
    '', `Addresses (${data.addresses.length})`, ...addressLines(data),
    '', `Requests by route category (whole hours from ${iso(data.hourlySince)})`, ...categoryLines(data),
    '', `Denials (${data.denials.length})`, ...denialLines(data),
    '', `Sensitive actions (${data.sensitive.length})`, ...sensitiveLines(data.sensitive),
    '', 'Follow-up inside MISP for the window (the proxy sees only requests, not what they changed)', ...followUpLines(data)
  ]
  return lines.join('\n') + '\n'
}

function keyLines ({ key }: IncidentData): string[] {
  if (key === undefined) return ['Key:           not in the policy file; usage records only']
  const mode = key.upstreamKey === undefined ? 'pass-through (MISP knows this key)' : 'swap (MISP never saw this key)'
  return [
    `Owner:         ${key.owner}`,
    `Purpose:       ${key.purpose}`,
    `Account:       ${key.labels.account ?? '(no account label)'}; ${key.readOnly ? 'read-only' : 'read-write'}; ${mode}`
  ]
}

function revocationLines ({ key }: IncidentData, revocation: Revocation): string[] {
  const revoked = key?.revoked
  const what = revocation.status === 'already' ? 'already revoked' : 'revoked now'
  return [
    `  ${what} in ${revocation.file}: at ${iso(revoked?.at)}, reason: ${revoked?.reason ?? '-'}`,
    ...wrap(`running proxy: ${proxyText(revocation.proxy)}`, TABLE_WIDTH, '  ', '    ')
  ]
}

export function proxyText (proxy: ProxyReload): string {
  if (proxy.state === 'reloaded') return `reloaded (policy generation ${proxy.generation}, ${proxy.via}); the key is refused from now on`
  if (proxy.state === 'failed') return `RELOAD FAILED: ${proxy.detail}`
  return `reload pending: ${proxy.detail}`
}

function addressLines ({ addresses }: IncidentData): string[] {
  if (addresses.length === 0) return ['  none']
  return [
    row('  ADDRESS', 40, 'FIRST HOUR', 'LAST HOUR', 'ALLOWED', 'DENIED', 'ERRORS'),
    ...addresses.map((entry) => row(`  ${entry.address || '(undecided)'}${entry.isNew ? ' (new)' : ''}`, 40, hour(entry.firstHour), hour(entry.lastHour), ...counts(entry)))
  ]
}

function categoryLines ({ kinds, sensitiveByCategory, routes }: IncidentData): string[] {
  const lines = [row('  CATEGORY', 40, '', '', 'ALLOWED', 'DENIED', 'ERRORS')]
  for (const [kind, label] of [['read', 'read'], ['write', 'write'], ['sensitive', 'sensitive'], ['', 'not routed (denied first)']] as const) {
    const entry = kinds.get(kind)
    if (entry !== undefined) lines.push(row(`  ${label}`, 40, '', '', ...counts(entry)))
    if (kind !== 'sensitive') continue
    for (const [category, exact] of sensitiveByCategory) {
      if (exact.allowed + exact.denied + exact.errors > 0) lines.push(row(`    ${category} (exact window)`, 40, '', '', ...counts(exact)))
    }
  }
  if (routes.length === 0) return ['  none']
  lines.push('  Routes, most requests first:')
  for (const route of routes.slice(0, MAX_LISTED_ROUTES)) lines.push(row(`    ${route.route || '(not routed)'}`, 40, route.kind, '', ...counts(route)))
  if (routes.length > MAX_LISTED_ROUTES) lines.push(`    and ${routes.length - MAX_LISTED_ROUTES} more routes (--format json lists all)`)
  return lines
}

function denialLines ({ denials, denialsByReason }: IncidentData): string[] {
  if (denials.length === 0) return ['  none']
  const lines = [...denialsByReason].map(([reason, count]) => `  ${reason}: ${count}`)
  lines.push(...denials.slice(0, MAX_LISTED_DENIALS).flatMap((event) => wrap(`${eventLine(event)} ${event.reason ?? ''}`, TABLE_WIDTH, '    ', '      ')))
  if (denials.length > MAX_LISTED_DENIALS) lines.push(`    and ${denials.length - MAX_LISTED_DENIALS} more (--format json lists all)`)
  return lines
}

function sensitiveLines (events: readonly EventRecord[]): string[] {
  if (events.length === 0) return ['  none']
  return events.flatMap((event) => {
    const outcome = event.reason === undefined ? event.outcome ?? '' : `${event.outcome ?? ''}: ${event.reason}`
    return wrap(`${eventLine(event)} ${outcome}`, TABLE_WIDTH, '  ', '    ')
  })
}

function eventLine (event: EventRecord): string {
  return `${iso(event.time)} ${(event.address ?? '-').padEnd(15)} ${(event.method ?? '-').padEnd(6)} ${(event.route ?? '-').padEnd(24)} ${event.status ?? '-'}`
}

function followUpLines ({ key, sensitiveByCategory }: IncidentData): string[] {
  const lines = Object.entries(FOLLOW_UP).flatMap(([category, what]) => {
    const seen = sensitiveByCategory.get(category)
    const through = seen === undefined || seen.allowed + seen.errors === 0 ? '' : ` - ${seen.allowed + seen.errors} forwarded through the proxy with this key`
    const tried = seen === undefined || seen.denied === 0 ? '' : ` - ${seen.denied} denied`
    return wrap(`[${through === '' ? ' ' : 'x'}] ${category}: ${what}${through}${tried}`, TABLE_WIDTH, '  ', '      ')
  })
  if (key?.upstreamKey === undefined) {
    lines.push(...wrap('[ ] the key itself: the proxy passes it through, so MISP knows it. Delete it in MISP too, or anyone who reaches MISP directly can still use it', TABLE_WIDTH, '  ', '      '))
  }
  lines.push(...wrap('[x] marks a category that had requests through the proxy with this key; check the others in MISP\'s audit log too, because other keys and the web interface bypass this record', TABLE_WIDTH, '  ', '  '))
  return lines
}

function counts (entry: Counts): [string, string, string] {
  return [String(entry.allowed), String(entry.denied), String(entry.errors)]
}

function row (label: string, width: number, first: string, second: string, allowed: string, denied: string, errors: string): string {
  return `${label.padEnd(width)} ${first.padEnd(16)} ${second.padEnd(16)} ${allowed.padStart(7)} ${denied.padStart(7)} ${errors.padStart(7)}`.trimEnd()
}

function hour (time: number): string {
  return new Date(time).toISOString().slice(0, 13) + 'h'
}

/** Formats a time to the second: the JSON report keeps the milliseconds. */
function iso (time: number | undefined): string {
  return time === undefined ? '-' : new Date(time).toISOString().slice(0, 19) + 'Z'
}
