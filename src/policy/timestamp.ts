export type TimestampResult = { ok: true, time: number } | { ok: false, message: string }

// RFC 3339 section 5.6 date-time. ABNF is case-insensitive, so `t` and `z` are valid too.
const DATE_TIME_PATTERN = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/
const NO_OFFSET_PATTERN = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?$/
const DATE_ONLY_PATTERN = /^\d{4}-\d{2}-\d{2}$/
const EXAMPLE = 'such as 2027-01-31T00:00:00Z or 2027-01-31T01:00:00+01:00'
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * Parses an RFC 3339 date-time with a required offset into milliseconds since the epoch.
 * Fractional seconds beyond milliseconds are truncated. Leap seconds (`:60`) are rejected.
 */
export function parseTimestamp (text: string): TimestampResult {
  const match = DATE_TIME_PATTERN.exec(text)
  if (match === null) return invalid(describeBadFormat(text))

  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const rangeProblem = findRangeProblem(year, month, day, hour, minute, second)
  if (rangeProblem !== undefined) return invalid(`${JSON.stringify(text)} is not a valid timestamp: ${rangeProblem}`)

  const offsetMinutes = parseOffset(match[8], match[9], match[10])
  if (offsetMinutes === undefined) return invalid(`${JSON.stringify(text)} has an offset out of range. Use hours 00-23 and minutes 00-59, ${EXAMPLE}`)

  const milliseconds = Number((match[7] ?? '').slice(0, 3).padEnd(3, '0'))
  const date = new Date(0)
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute - offsetMinutes, second, milliseconds)
  return { ok: true, time: date.getTime() }
}

function describeBadFormat (text: string): string {
  const quoted = JSON.stringify(text)
  if (DATE_ONLY_PATTERN.test(text)) return `${quoted} is a date without a time. Write a full timestamp, ${EXAMPLE}`
  if (NO_OFFSET_PATTERN.test(text)) return `${quoted} has no offset. Add Z for UTC or an offset such as +01:00`
  return `${quoted} is not an RFC 3339 timestamp. Write it ${EXAMPLE}`
}

function findRangeProblem (year: number, month: number, day: number, hour: number, minute: number, second: number): string | undefined {
  if (month < 1 || month > 12) return `month ${month} does not exist`
  const lastDay = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1] ?? 31
  if (day < 1 || day > lastDay) return `day ${day} does not exist in ${year}-${String(month).padStart(2, '0')}, which has ${lastDay} days`
  if (hour > 23) return `hour ${hour} is out of range 00-23`
  if (minute > 59) return `minute ${minute} is out of range 00-59`
  if (second > 59) return `second ${second} is out of range 00-59 (leap seconds are not accepted)`
  return undefined
}

function parseOffset (sign: string | undefined, hours: string | undefined, minutes: string | undefined): number | undefined {
  if (sign === undefined) return 0
  const hourCount = Number(hours)
  const minuteCount = Number(minutes)
  if (hourCount > 23 || minuteCount > 59) return undefined
  return (sign === '-' ? -1 : 1) * (hourCount * 60 + minuteCount)
}

function isLeapYear (year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
}

function invalid (message: string): TimestampResult {
  return { ok: false, message }
}
