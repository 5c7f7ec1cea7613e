// Rows of the usage database as the readers return them. Times are milliseconds since the epoch.

/** Route class as the catalogue gives it; '' when the request was denied before routing. */
export type RouteKind = 'read' | 'write' | 'sensitive' | ''

/** Forwarded ('allowed'), refused by the proxy ('denied'), or forwarded and failed upstream ('error'). */
export type Outcome = 'allowed' | 'denied' | 'error'

export type EventType = 'first_use' | 'new_address' | 'denial' | 'sensitive' | 'revocation'

export interface KeyUsageRecord {
  readonly keyId: string
  /** First and last request that presented the key, denied ones included. */
  readonly firstUsed: number
  readonly lastUsed: number
  /** Last request forwarded to MISP; undefined when none was. */
  readonly lastAllowed: number | undefined
  /** Last forwarded request on a route that is not a read route. */
  readonly lastWrite: number | undefined
  readonly allowed: number
  readonly denied: number
  readonly errors: number
  /** Distinct source addresses recorded. */
  readonly addresses: number
}

export interface AddressRecord {
  readonly keyId: string
  readonly address: string
  readonly firstSeen: number
  readonly lastSeen: number
  /** Forwarded requests, those that failed upstream included. */
  readonly allowed: number
  readonly denied: number
}

export interface HourlyRecord {
  readonly keyId: string
  /** Start of the hour. */
  readonly hour: number
  readonly address: string
  readonly route: string
  readonly kind: RouteKind
  readonly outcome: Outcome
  readonly requests: number
}

export interface EventRecord {
  readonly time: number
  readonly type: EventType
  readonly keyId: string
  readonly address: string | undefined
  readonly method: string | undefined
  readonly route: string | undefined
  readonly status: number | undefined
  readonly requestId: string | undefined
  readonly outcome: Outcome | undefined
  readonly reason: string | undefined
  /** Sensitive category, such as `auth_keys`, for sensitive events. */
  readonly category: string | undefined
}

export interface EventQuery {
  readonly keyId?: string
  /** Inclusive lower and exclusive upper bound of the event time. */
  readonly since?: number
  readonly until?: number
  readonly types?: readonly EventType[]
  /** Most recent first when set; oldest first otherwise. */
  readonly newestFirst?: boolean
  readonly limit?: number
}
