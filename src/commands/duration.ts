import { UsageError } from '../config.js'

const UNIT_MS: Readonly<Record<string, number>> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000
}

/**
 * Parses a duration such as `90m`, `24h`, `30d` or `2w` (whole numbers; m, h, d, w) into
 * milliseconds. Throws UsageError naming the option, the value and the expected form.
 */
export function parseDuration (text: string, option: string): number {
  const match = /^([1-9][0-9]{0,5})([mhdw])$/.exec(text)
  const unit = match === null ? undefined : UNIT_MS[match[2] as string]
  if (match === null || unit === undefined) {
    throw new UsageError(`${option} "${text}" is not a duration. Write a whole number and a unit, m (minutes), h (hours), d (days) or w (weeks), such as 24h or 30d`)
  }
  return Number(match[1]) * unit
}

/** Formats milliseconds as the largest whole unit among d, h and m, such as 30d or 36h. */
export function formatDuration (milliseconds: number): string {
  for (const unit of ['d', 'h', 'm']) {
    const size = UNIT_MS[unit] as number
    if (milliseconds % size === 0) return `${milliseconds / size}${unit}`
  }
  return `${Math.round(milliseconds / 60_000)}m`
}
