import { createHash } from 'node:crypto'

/** Returns the policy form of a key's digest: `sha256:` and 64 lowercase hex digits. */
export function digestKey (key: string): string {
  return 'sha256:' + createHash('sha256').update(key, 'utf8').digest('hex')
}
