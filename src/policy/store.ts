import type { Policy } from './types.js'

/**
 * Holds the policy in force. A request reads `current` once and decides entirely under
 * that object; a reload replaces the reference, so in-flight requests keep theirs.
 */
export class PolicyStore {
  #current: Policy
  #generation = 1

  constructor (policy: Policy) {
    this.#current = policy
  }

  get current (): Policy {
    return this.#current
  }

  /** Counts the policies applied since start, the first one included. */
  get generation (): number {
    return this.#generation
  }

  replace (policy: Policy): void {
    this.#current = policy
    this.#generation++
  }
}
