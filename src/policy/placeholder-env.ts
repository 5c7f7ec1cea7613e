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

const PLACEHOLDER_PREFIX = 'unset-environment-variable-'

/** The placeholder that withPlaceholderEnv returns for an unset variable. */
export function placeholderKey (name: string): string {
  return PLACEHOLDER_PREFIX + name
}

/** Returns the variable name of a placeholder key, or undefined for any other key. */
export function unsetVariableName (key: string | undefined): string | undefined {
  return key?.startsWith(PLACEHOLDER_PREFIX) === true ? key.slice(PLACEHOLDER_PREFIX.length) : undefined
}
