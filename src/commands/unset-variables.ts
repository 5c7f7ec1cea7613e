import { unsetVariableName } from '../policy/placeholder-env.js'
import type { Policy } from '../policy/types.js'
import type { CommandIo } from './command-io.js'

/**
 * Prints a warning on stderr for each `env:` upstream key variable of a written policy
 * that this command's environment does not set. A proxy reads its environment once, at
 * start, so it cannot load such a file until it is restarted with the variable set.
 */
export function warnUnsetVariables (policy: Policy, io: Pick<CommandIo, 'stderr'>): void {
  const names = new Set<string>()
  for (const key of policy.keys) {
    const name = key.revoked === undefined ? unsetVariableName(key.upstreamKey) : undefined
    if (name !== undefined) names.add(name)
  }
  for (const name of names) {
    io.stderr.write(`Warning: ${name} is not set here. If the running proxy lacks it too, the proxy needs ${name} set, and a restart, to load this file. Until then it applies only the file's revocations and removals.\n`)
  }
}
