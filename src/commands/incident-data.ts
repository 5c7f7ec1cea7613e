import type { KeyEntry } from '../policy/types.js'
import { SENSITIVE_CATEGORIES } from '../route/catalogue.js'
import { HOUR_MS } from '../usage/queries.js'
import type { EventRecord, HourlyRecord, UsageReader } from '../usage/reader.js'
import type { Outcome } from '../usage/records.js'

export interface Counts {
  allowed: number
  denied: number
  errors: number
}

export interface AddressInWindow extends Counts {
  readonly address: string
  /** Start of the first and of the last hour with a request from the address. */
  firstHour: number
  lastHour: number
  /** First seen with this key inside the window. */
  readonly isNew: boolean
}

export interface RouteCount extends Counts {
  readonly route: string
  readonly kind: string
}

/** Changes to check inside MISP after a key leaked, by sensitive category: the proxy sees requests, not their effects. */
export const FOLLOW_UP: Readonly<Record<string, string>> = {
  users: 'users created, changed or given a new role or organisation',
  auth_keys: 'API keys created, including for other users',
  sharing_groups: 'sharing groups created, or organisations and servers added to one',
  organisations: 'organisations created or changed',
  sync_servers: 'sync servers added or changed, and pulls or pushes started',
  settings: 'server settings changed',
  roles: 'roles created or given more permissions',
  workflows: 'workflows created, changed or enabled'
}

export interface IncidentData {
  readonly keyId: string
  readonly key: KeyEntry | undefined
  readonly since: number
  readonly until: number
  /** Start of the hour that `since` falls in: hourly counts begin there. */
  readonly hourlySince: number
  readonly addresses: AddressInWindow[]
  /** By route class: read, write, sensitive, and '' for requests denied before routing. */
  readonly kinds: Map<string, Counts>
  /** Sensitive requests by category, counted exactly from the events. */
  readonly sensitiveByCategory: Map<string, Counts>
  /** Routes with the most requests first. */
  readonly routes: RouteCount[]
  readonly denialsByReason: Map<string, number>
  readonly denials: EventRecord[]
  readonly sensitive: EventRecord[]
}

/** Reads everything the incident report shows for one key and the window [since, until). */
export function readIncidentData (reader: UsageReader, keyId: string, key: KeyEntry | undefined, since: number, until: number): IncidentData {
  const hourly = reader.hourly(keyId, since, until)
  const events = reader.events({ keyId, since, until, types: ['denial', 'sensitive', 'new_address'] })
  const sensitive = events.filter((event) => event.type === 'sensitive')
  const denials = events.filter((event) => event.type !== 'new_address' && event.outcome === 'denied')
  const newAddresses = new Set(events.filter((event) => event.type === 'new_address').map((event) => event.address))
  return {
    keyId,
    key,
    since,
    until,
    hourlySince: since - (since % HOUR_MS),
    addresses: groupAddresses(hourly, newAddresses),
    kinds: groupBy(hourly, (row) => row.kind),
    sensitiveByCategory: countSensitive(sensitive),
    routes: groupRoutes(hourly),
    denialsByReason: countReasons(denials),
    denials,
    sensitive
  }
}

function emptyCounts (): Counts {
  return { allowed: 0, denied: 0, errors: 0 }
}

function add (counts: Counts, outcome: Outcome | undefined, requests = 1): void {
  if (outcome === 'denied') counts.denied += requests
  else if (outcome === 'error') counts.errors += requests
  else counts.allowed += requests
}

function groupBy (rows: readonly HourlyRecord[], keyOf: (row: HourlyRecord) => string): Map<string, Counts> {
  const groups = new Map<string, Counts>()
  for (const row of rows) {
    const counts = groups.get(keyOf(row)) ?? emptyCounts()
    add(counts, row.outcome, row.requests)
    groups.set(keyOf(row), counts)
  }
  return groups
}

function groupAddresses (rows: readonly HourlyRecord[], newAddresses: ReadonlySet<string | undefined>): AddressInWindow[] {
  const byAddress = new Map<string, AddressInWindow>()
  for (const row of rows) {
    let entry = byAddress.get(row.address)
    if (entry === undefined) {
      entry = { address: row.address, firstHour: row.hour, lastHour: row.hour, isNew: newAddresses.has(row.address), ...emptyCounts() }
      byAddress.set(row.address, entry)
    }
    add(entry, row.outcome, row.requests)
    entry.firstHour = Math.min(entry.firstHour, row.hour)
    entry.lastHour = Math.max(entry.lastHour, row.hour)
  }
  return [...byAddress.values()].sort((a, b) => a.firstHour - b.firstHour || a.address.localeCompare(b.address))
}

function groupRoutes (rows: readonly HourlyRecord[]): RouteCount[] {
  const byRoute = new Map<string, RouteCount>()
  for (const row of rows) {
    const entry = byRoute.get(row.route) ?? { route: row.route, kind: row.kind, ...emptyCounts() }
    add(entry, row.outcome, row.requests)
    byRoute.set(row.route, entry)
  }
  const total = (route: RouteCount): number => route.allowed + route.denied + route.errors
  return [...byRoute.values()].sort((a, b) => total(b) - total(a) || a.route.localeCompare(b.route))
}

function countSensitive (events: readonly EventRecord[]): Map<string, Counts> {
  const counts = new Map(SENSITIVE_CATEGORIES.map((category) => [category as string, emptyCounts()]))
  for (const event of events) {
    const category = event.category ?? 'unknown'
    const entry = counts.get(category) ?? emptyCounts()
    add(entry, event.outcome)
    counts.set(category, entry)
  }
  return counts
}

function countReasons (denials: readonly EventRecord[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const event of denials) counts.set(event.reason ?? 'unknown', (counts.get(event.reason ?? 'unknown') ?? 0) + 1)
  return new Map([...counts].sort((a, b) => b[1] - a[1]))
}
