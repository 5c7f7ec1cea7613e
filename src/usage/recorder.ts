/** One decided request, as the usage records see it. Never contains key material or a path. */
export interface UsageEvent {
  /** Milliseconds since the epoch. */
  readonly time: number
  readonly requestId: string
  /** Undefined when no key of the policy was presented. */
  readonly keyId: string | undefined
  /** Normalized client address, when it could be decided. */
  readonly address: string | undefined
  readonly method: string
  /** Canonical route, such as `events/restsearch`, when the target was read. */
  readonly route: string | undefined
  /** Sensitive category of the route, such as `auth_keys`; undefined for other routes. */
  readonly category: string | undefined
  /** Catalogue class of the route; undefined when the request was denied before routing. */
  readonly routeKind: 'read' | 'write' | 'sensitive' | undefined
  readonly status: number
  readonly reason: string | undefined
  readonly outcome: 'allowed' | 'denied'
}

/** Takes usage events on the request path: must return at once and never do I/O. */
export interface UsageRecorder {
  record (event: UsageEvent): void
}
