/**
 * Every reason the proxy gives for not forwarding a request, with its status and the
 * short title that goes in the `name` field of MISP's error shape.
 */
export const DENIALS = {
  malformed_request: { status: 400, title: 'Malformed request' },
  malformed_key_header: { status: 400, title: 'Malformed API key header' },
  key_in_url: { status: 400, title: 'API key in the URL' },
  missing_key: { status: 401, title: 'Authentication failed: no API key' },
  unknown_key: { status: 401, title: 'Authentication failed: unknown API key' },
  revoked_key: { status: 401, title: 'Authentication failed: the API key is revoked' },
  key_not_yet_valid: { status: 401, title: 'Authentication failed: the API key is not valid yet' },
  expired_key: { status: 401, title: 'Authentication failed: the API key is expired' },
  ip_not_allowed: { status: 403, title: 'Client address not allowed for this API key' },
  ambiguous_path: { status: 400, title: 'Ambiguous request target' },
  method_override: { status: 400, title: 'Method override not allowed' },
  method_not_allowed: { status: 405, title: 'HTTP method not allowed' },
  read_only: { status: 403, title: 'Read-only API key' },
  profile_denied: { status: 403, title: 'Not allowed by the API key\'s profile' },
  sensitive_action: { status: 403, title: 'Sensitive action not allowed for this API key' },
  body_too_large: { status: 413, title: 'Form body too large' },
  body_timeout: { status: 408, title: 'Form body too slow' },
  encoded_form_body: { status: 400, title: 'Compressed form body' },
  malformed_form_body: { status: 400, title: 'Malformed form body' },
  upstream_unavailable: { status: 502, title: 'MISP is unavailable' },
  upstream_timeout: { status: 504, title: 'MISP did not respond in time' },
  internal_error: { status: 500, title: 'Internal proxy error' }
} as const satisfies Record<string, { status: number, title: string }>

export type DenialReason = keyof typeof DENIALS

/** A request the proxy responds to itself instead of forwarding it. */
export interface Denial {
  readonly reason: DenialReason
  /** Description of the problem and its fix. Never contains key material. */
  readonly message: string
}

export function deny (reason: DenialReason, message: string): Denial {
  return { reason, message }
}

/** Runs of letters and digits as long as a MISP key (40 characters) or longer. */
const KEY_LIKE_RUN = /[A-Za-z0-9]{40,}/g

/** Replaces every run of 40 or more letters and digits, which may be a key, with `[redacted]`. */
export function redactKeyLike (text: string): string {
  return text.replace(KEY_LIKE_RUN, '[redacted]')
}

/**
 * Builds MISP's error body (`name`, `message`, `url`), plus the stable reason code and
 * request id. The message and url may quote client input, so key-like runs are redacted.
 */
export function denialBody (denial: Denial, url: string, requestId: string): Record<string, string> {
  return {
    name: DENIALS[denial.reason].title,
    message: redactKeyLike(denial.message),
    url: redactKeyLike(url),
    reason: denial.reason,
    request_id: requestId
  }
}
