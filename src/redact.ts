import type { Readable } from 'node:stream'

/** Largest users response the proxy buffers to remove `authkey` fields. */
export const MAX_FILTERED_BODY_BYTES = 16 * 1024 * 1024

/**
 * Reads a MISP users response and removes what would hand the upstream key to the client:
 * every JSON property named `authkey` (MISP returns it in clear from users/view when its
 * advanced authkeys are off) and any occurrence of the upstream key's text.
 * Rejects when the body exceeds MAX_FILTERED_BODY_BYTES.
 */
export async function readWithoutAuthkeys (body: Readable, upstreamKey: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > MAX_FILTERED_BODY_BYTES) {
      body.destroy()
      throw new Error(`users response larger than ${MAX_FILTERED_BODY_BYTES} bytes`)
    }
    chunks.push(chunk as Buffer)
  }

  let text = Buffer.concat(chunks).toString('utf8')
  try {
    text = JSON.stringify(JSON.parse(text, (name, value: unknown) => name === 'authkey' ? undefined : value))
  } catch {
    // Not JSON: the plain replacement below still applies.
  }
  return Buffer.from(text.split(upstreamKey).join('[removed by misp-keygate]'), 'utf8')
}
