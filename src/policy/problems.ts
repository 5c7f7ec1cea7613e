/** One problem found while loading a policy file. */
export interface PolicyProblem {
  readonly file: string
  /** Id of the key, when the key's own id is valid. */
  readonly keyId?: string
  /** Position of the key in the `keys` list. */
  readonly index?: number
  /** Field path inside the key or file, such as `allowed_ips[1]` or `revoked.at`. */
  readonly field?: string
  /** Full text naming the file, the key and the field, the rule broken and the fix. */
  readonly message: string
}

/** Maximum number of problems listed in a PolicyLoadError message. */
const MAX_LISTED_PROBLEMS = 20
/** Maximum number of problems a PolicyLoadError keeps; `problemCount` counts them all. */
export const MAX_KEPT_PROBLEMS = 1000

/** A policy file that cannot be used. `problems` lists the first problems found, at most MAX_KEPT_PROBLEMS. */
export class PolicyLoadError extends Error {
  readonly problems: readonly PolicyProblem[]
  /** Number of problems found, including those not kept. */
  readonly problemCount: number

  /** `problemCount` defaults to the length of `problems`; a worker thread passes the count it found. */
  constructor (file: string, problems: readonly PolicyProblem[], problemCount = problems.length) {
    super(summarizeProblems(file, problems, problemCount))
    this.name = 'PolicyLoadError'
    this.problems = problems.slice(0, MAX_KEPT_PROBLEMS)
    this.problemCount = problemCount
  }
}

/** Builds a problem whose message starts with its place: file, key and field. */
export function makeProblem (place: Omit<PolicyProblem, 'message'>, detail: string): PolicyProblem {
  const parts = [place.file]
  if (place.index !== undefined) {
    parts.push(place.keyId === undefined ? `keys[${place.index}]` : `key "${place.keyId}" (keys[${place.index}])`)
  }
  if (place.field !== undefined) parts.push(`field "${place.field}"`)
  return { ...place, message: `${parts.join(', ')}: ${detail}` }
}

function summarizeProblems (file: string, problems: readonly PolicyProblem[], problemCount: number): string {
  const count = problemCount === 1 ? '1 problem' : `${problemCount} problems`
  const lines = problems.slice(0, MAX_LISTED_PROBLEMS).map((problem) => `  - ${problem.message}`)
  if (problemCount > MAX_LISTED_PROBLEMS) lines.push(`  ... and ${problemCount - MAX_LISTED_PROBLEMS} more problems`)
  return [`policy file ${file} cannot be loaded (${count}):`, ...lines].join('\n')
}
