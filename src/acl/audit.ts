import type { Decision } from '../decide.js'
import type { Metrics } from '../metrics.js'
import { canonicalize } from '../route/canonical.js'
import { classifyRoute } from '../route/catalogue.js'
import type { SensitiveCategory } from '../route/types.js'

export interface SensitiveRoute {
  readonly route: string
  readonly category: SensitiveCategory
}

/** One sensitive request as the audit line and counter record it. Never contains key material. */
export interface SensitiveEvent extends SensitiveRoute {
  readonly keyId: string
  readonly client: string | undefined
  readonly method: string
  readonly status: number
  readonly outcome: 'allowed' | 'denied' | 'error'
  readonly reason: string | undefined
  /** Milliseconds since the epoch when the request arrived. */
  readonly time: number
}

export interface AuditLogger {
  warn (fields: Record<string, unknown>, message: string): void
}

/**
 * Returns the sensitive route of a request made with a known key, or undefined. Requests
 * denied before routing (revoked or expired key, address not allowed) are classified here,
 * so an attempt with a leaked key is audited even when it was stopped earlier.
 */
export function findSensitiveRoute (decision: Decision, method: string, target: string): SensitiveRoute | undefined {
  if (decision.key === undefined) return undefined
  if (decision.routeClass !== undefined) {
    const { route, routeClass } = decision
    return routeClass.kind === 'sensitive' && route !== undefined ? { route: route.route, category: routeClass.category } : undefined
  }
  if (decision.route !== undefined) return undefined

  const canonical = canonicalize(method, target)
  if (!canonical.ok) return undefined
  const routeClass = classifyRoute(canonical.route)
  return routeClass.kind === 'sensitive' ? { route: canonical.route.route, category: routeClass.category } : undefined
}

/** Writes the audit line (warn, `audit: true`) and counts the request by key, category and outcome. */
export function auditSensitive (log: AuditLogger, metrics: Metrics, event: SensitiveEvent): void {
  metrics.sensitiveRequests.inc({ key_id: event.keyId, category: event.category, outcome: event.outcome })
  log.warn({
    audit: true,
    key_id: event.keyId,
    client: event.client,
    method: event.method,
    route: event.route,
    category: event.category,
    status: event.status,
    outcome: event.outcome,
    reason: event.reason,
    request_time: new Date(event.time).toISOString()
  }, 'sensitive action')
}
