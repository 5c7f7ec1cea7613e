/** A listening address given as HOST:PORT or [IPv6]:PORT. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
}

/** Parses HOST:PORT; throws an Error naming the value and the expected form. */
export function parseListenAddress (text: string, option: string): ListenAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text)
  const port = Number(match?.[3])
  if (match === null || port > 65_535) {
    throw new UsageError(`${option} "${text}" is not HOST:PORT; write for example 127.0.0.1:8080 or [::1]:8080.`)
  }
  return { host: (match[1] ?? match[2]) as string, port }
}

/** Parses MISP's URL: http or https, an origin without path, query or credentials. */
export function parseUpstreamUrl (text: string, option: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`${option} "${text}" is not a URL; write for example https://misp.example.org.`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${option} "${text}" must use http or https.`)
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.pathname !== '/') {
    throw new UsageError(`${option} "${text}" must be MISP's origin only, such as ${url.origin}; paths, queries and credentials are not supported.`)
  }
  return url
}

/** A mistake in how a command was called: printed without a stack, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}
