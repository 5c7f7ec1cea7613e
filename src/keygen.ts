import { randomBytes } from 'node:crypto'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** The largest multiple of 62 below 256: bytes at or above it are dropped, so no letter is favoured. */
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length)

/** Generates a key in MISP's format: 40 characters of [A-Za-z0-9] from the system CSPRNG. */
export function generateMispKey (): string {
  let key = ''
  while (key.length < 40) {
    for (const byte of randomBytes(64)) {
      if (byte < UNBIASED_LIMIT && key.length < 40) key += ALPHABET[byte % ALPHABET.length]
    }
  }
  return key
}
