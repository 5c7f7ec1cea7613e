/** Maximum edit distance for a "did you mean" suggestion. */
const MAX_SUGGESTION_DISTANCE = 2
/** Minimum length of a name suggested as the start of a longer field name (`upstream`). */
const MIN_PREFIX_LENGTH = 4

/**
 * Finds the candidate that `name` most likely misspells. That is the same name in another
 * case or with `_` or `-` added or dropped, else a longer name that starts with it, else
 * the closest name within two edits. Returns undefined when no candidate is that close.
 */
export function findClosestName (name: string, candidates: readonly string[]): string | undefined {
  const normalized = normalizeName(name)
  const sameLetters = candidates.find((candidate) => normalizeName(candidate) === normalized)
  if (sameLetters !== undefined) return sameLetters
  const extended = normalized.length >= MIN_PREFIX_LENGTH ? candidates.find((candidate) => normalizeName(candidate).startsWith(normalized)) : undefined
  if (extended !== undefined) return extended

  let closest: string | undefined
  let closestDistance = Math.min(MAX_SUGGESTION_DISTANCE, Math.floor(normalized.length / 2))
  for (const candidate of candidates) {
    const distance = editDistance(normalized, normalizeName(candidate))
    if (distance <= closestDistance && (closest === undefined || distance < closestDistance)) {
      closest = candidate
      closestDistance = distance
    }
  }
  return closest
}

function normalizeName (name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '')
}

/** Counts insertions, deletions, substitutions and swaps of neighbours (optimal string alignment). */
function editDistance (left: string, right: string): number {
  const rows: number[][] = []
  for (let i = 0; i <= left.length; i++) {
    const row: number[] = [i]
    for (let j = 1; j <= right.length; j++) row.push(i === 0 ? j : cellDistance(rows, row, left, right, i, j))
    rows.push(row)
  }
  return rows[left.length]?.[right.length] ?? Math.max(left.length, right.length)
}

function cellDistance (rows: number[][], row: number[], left: string, right: string, i: number, j: number): number {
  const previous = rows[i - 1] ?? []
  const cost = left[i - 1] === right[j - 1] ? 0 : 1
  let distance = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost)
  if (i > 1 && j > 1 && left[i - 1] === right[j - 2] && left[i - 2] === right[j - 1]) {
    distance = Math.min(distance, (rows[i - 2]?.[j - 2] ?? 0) + 1)
  }
  return distance
}
