import { pipeline, type Readable, type Transform } from 'node:stream'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'

/** Largest users response the proxy buffers to remove `authkey` fields. */
export const MAX_FILTERED_BODY_BYTES = 16 * 1024 * 1024

/**
 * Reads a MISP users response and removes what would hand the upstream key to the client.
 * That is every JSON property named `authkey`, which MISP returns in clear from users/view
 * when its advanced authkeys are off, and any occurrence of the upstream key's text.
 * A body MISP compressed anyway (`contentEncoding` gzip, deflate or br) is decompressed
 * first. Rejects any other encoding, and a body that exceeds MAX_FILTERED_BODY_BYTES
 * after decompression.
 */
export async function readWithoutAuthkeys (body: Readable, upstreamKey: string, contentEncoding?: string): Promise<Buffer> {
  const decoded = decode(body, contentEncoding)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of decoded) {
    size += (chunk as Buffer).length
    if (size > MAX_FILTERED_BODY_BYTES) {
      decoded.destroy()
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

/** Decompressors for the Content-Encoding values MISP's web server may apply. */
const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress
}

/** Returns the body decompressed, or throws for an encoding the proxy cannot read. */
function decode (body: Readable, contentEncoding: string | undefined): Readable {
  const name = (contentEncoding ?? '').trim().toLowerCase()
  if (name === '' || name === 'identity') return body

  const decoder = DECODERS[name]
  if (decoder === undefined) {
    body.destroy()
    throw new Error(`users response has Content-Encoding '${name.slice(0, 64)}', which the proxy cannot decompress`)
  }
  // pipeline() destroys both streams on an error, so the reader above sees it.
  return pipeline(body, decoder(), () => {})
}
