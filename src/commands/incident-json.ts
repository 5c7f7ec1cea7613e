import { eventJson, isoTime } from '../usage/json.js'
import { FOLLOW_UP } from './incident-data.js'
import type { IncidentContext } from './incident-format.js'

/** Returns the incident report as JSON, with every denial and sensitive action of the window. */
export function incidentJson ({ data, revocation, policyFile, usageDb }: IncidentContext): Record<string, unknown> {
  const key = data.key
  return {
    key_id: data.keyId,
    key: key === undefined
      ? null
      : { owner: key.owner, purpose: key.purpose, account: key.labels.account ?? null, read_only: key.readOnly, mode: key.upstreamKey === undefined ? 'pass-through' : 'swap', revoked: key.revoked === undefined ? null : { at: isoTime(key.revoked.at), reason: key.revoked.reason } },
    since: isoTime(data.since),
    until: isoTime(data.until),
    hourly_since: isoTime(data.hourlySince),
    policy: policyFile,
    usage_db: usageDb,
    revocation: revocation === undefined
      ? null
      : { status: revocation.status, file: revocation.file, proxy: revocation.proxy.state === 'reloaded' ? { ...revocation.proxy, loadedAt: undefined, loaded_at: isoTime(revocation.proxy.loadedAt) } : revocation.proxy },
    addresses: data.addresses.map((entry) => ({ address: entry.address, first_hour: isoTime(entry.firstHour), last_hour: isoTime(entry.lastHour), new: entry.isNew, allowed: entry.allowed, denied: entry.denied, errors: entry.errors })),
    route_kinds: Object.fromEntries([...data.kinds].map(([kind, counts]) => [kind === '' ? 'not_routed' : kind, counts])),
    sensitive_categories: Object.fromEntries(data.sensitiveByCategory),
    routes: data.routes.map((route) => ({ route: route.route, kind: route.kind, allowed: route.allowed, denied: route.denied, errors: route.errors })),
    denials_by_reason: Object.fromEntries(data.denialsByReason),
    denials: data.denials.map(eventJson),
    sensitive_actions: data.sensitive.map(eventJson),
    follow_up: Object.entries(FOLLOW_UP).map(([category, check]) => {
      const seen = data.sensitiveByCategory.get(category)
      return { category, check, forwarded: (seen?.allowed ?? 0) + (seen?.errors ?? 0), denied: seen?.denied ?? 0 }
    })
  }
}
