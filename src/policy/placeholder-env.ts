/**
 * Returns an environment in which every variable that `env` lacks reads as a placeholder
 * key, unique per name. Commands validate policies with it: the proxy reads `env:NAME`
 * upstream keys from its own environment, which the command's shell need not share.
 */
export function withPlaceholderEnv (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return new Proxy(env, {
    get: (target, name) => {
      if (typeof name !== 'string') return undefined
      const value = target[name]
      return value === undefined || value === '' ? placeholderKey(name) : value
    }
  })
}

/** The placeholder that withPlaceholderEnv returns for an unset variable. */
export function placeholderKey (name: string): string {
  return `unset-environment-variable-${name}`
}

/** Lists the variables among `names` that `env` does not set (or sets empty). */
export function findUnsetVariables (names: Iterable<string>, env: NodeJS.ProcessEnv): string[] {
  return [...new Set(names)].filter((name) => env[name] === undefined || env[name] === '')
}
