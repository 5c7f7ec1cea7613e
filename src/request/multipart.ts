import { Transform, type TransformCallback } from 'node:stream'
import { isMethodFieldName } from '../route/url-keys.js'

// Scans a multipart/form-data body the way PHP's rfc1867 parser (main/rfc1867.c, read in
// its PHP 5 and PHP 7 forms) splits it, and stops at the first part whose name PHP would
// register as `_method`:
// - Lines end at LF, and a CR before the LF is dropped.
// - PHP ends a part's contents at any LF followed by "--" + boundary, then skips lines
//   until one equals "--" + boundary, even past the closing delimiter. The scanner starts
//   a part at every line that begins with "--" + boundary, which covers both.
// - Header lines run to the first empty line. A line that starts with white space or has
//   no ':' is appended to the previous header's value with no separator.
// - PHP splits lines longer than its 5120-byte buffer, so the scanner rejects long lines
//   in part headers and the preamble, where a split would change what PHP reads.
// Part contents pass through as they arrive. Only the current header block is held back,
// and at the start of a content line, the bytes that may begin a delimiter. So the part
// that names `_method` never reaches MISP.

/** Maximum line length in the preamble and part headers, below PHP's 5120-byte buffer. */
export const MAX_HEADER_LINE = 4096
/** Maximum size of one part's header block, boundary line included. */
export const MAX_HEADER_BLOCK = 16_384

export type MultipartProblem = { reason: 'method_override' | 'malformed_form_body', message: string }

type State = 'preamble' | 'boundary-line' | 'headers' | 'body'

const LF = 0x0a
const NAME_PARAMETER = /name\s*=\s*["']?\s*([^"';\s]*)/gi

/**
 * Passes a multipart body through unchanged, or fails with a MultipartError when a part
 * would set `_method` or its headers cannot be read unambiguously.
 */
export class MultipartScanner extends Transform {
  readonly #delimiter: Buffer
  readonly #delimiterText: string
  #state: State = 'preamble'
  /** Held bytes: the current preamble line, or the header block read so far. */
  #held: Buffer[] = []
  #heldBytes = 0
  /** Bytes of the current, unfinished line at the end of #held. */
  #lineBytes = 0
  #headerLines: string[] = []
  /** In a part's contents: the start of the current line while it may be a delimiter. */
  #bodyLineStart: Buffer | undefined
  #failure: MultipartError | undefined

  constructor (boundary: string) {
    super()
    this.#delimiterText = `--${boundary}`
    this.#delimiter = Buffer.from(this.#delimiterText, 'latin1')
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let offset = 0
    while (offset < chunk.length && this.#failure === undefined) {
      offset = this.#state === 'body' ? this.#scanBody(chunk, offset) : this.#scanLine(chunk, offset)
    }
    callback(this.#failure)
  }

  override _flush (callback: TransformCallback): void {
    if (this.#state === 'headers' && this.#lineBytes > 0) {
      // PHP also reads a last header line that the end of the body cut off.
      this.#headerLines.push(stripCr(this.#currentLine(this.#lineBytes)))
    }
    if (this.#state === 'headers') this.#checkBlock()
    if (this.#failure !== undefined) return callback(this.#failure)

    this.#release()
    if (this.#bodyLineStart !== undefined) this.push(this.#bodyLineStart)
    callback()
  }

  /** Holds bytes up to the end of the line; returns the offset after them. */
  #scanLine (chunk: Buffer, offset: number): number {
    const newline = chunk.indexOf(LF, offset)
    const end = newline === -1 ? chunk.length : newline + 1
    this.#hold(chunk.subarray(offset, end))
    this.#lineBytes += end - offset
    if (this.#lineBytes > MAX_HEADER_LINE) {
      this.#fail('malformed_form_body', `A multipart header or preamble line is longer than ${MAX_HEADER_LINE} bytes.`)
    } else if (this.#heldBytes > MAX_HEADER_BLOCK) {
      this.#fail('malformed_form_body', `The headers of a multipart part are longer than ${MAX_HEADER_BLOCK} bytes.`)
    } else if (newline !== -1) {
      const line = stripCr(this.#currentLine(this.#lineBytes - 1))
      this.#lineBytes = 0
      this.#endLine(line)
    }
    return end
  }

  /** Handles one complete line of the preamble, a boundary line or a header line. */
  #endLine (line: string): void {
    if (this.#state === 'preamble' && !line.startsWith(this.#delimiterText)) {
      this.#release()
    } else if (this.#state === 'preamble' || this.#state === 'boundary-line') {
      this.#state = 'headers'
      this.#headerLines = []
    } else if (line !== '') {
      this.#headerLines.push(line)
    } else {
      this.#checkBlock()
      if (this.#failure !== undefined) return
      this.#release()
      this.#state = 'body'
      this.#bodyLineStart = Buffer.alloc(0)
    }
  }

  /** Passes part contents through, holding the start of each line while it may be a delimiter. */
  #scanBody (chunk: Buffer, offset: number): number {
    const lineStart = this.#bodyLineStart
    if (lineStart === undefined) {
      const newline = chunk.indexOf(LF, offset)
      const end = newline === -1 ? chunk.length : newline + 1
      this.push(chunk.subarray(offset, end))
      if (newline !== -1) this.#bodyLineStart = Buffer.alloc(0)
      return end
    }

    let position = offset
    let matched = lineStart.length
    while (position < chunk.length && matched < this.#delimiter.length && chunk[position] === this.#delimiter[matched]) {
      position++
      matched++
    }
    const prefix = Buffer.concat([lineStart, chunk.subarray(offset, position)])
    if (matched === this.#delimiter.length) {
      this.#bodyLineStart = undefined
      this.#state = 'boundary-line'
      this.#hold(prefix)
      this.#lineBytes = prefix.length
    } else if (position === chunk.length) {
      this.#bodyLineStart = prefix
    } else {
      // The byte at `position` differs from the delimiter: the rest of the line is contents.
      this.#bodyLineStart = undefined
      this.push(prefix)
    }
    return position
  }

  #checkBlock (): void {
    for (const value of dispositionValues(this.#headerLines)) {
      for (const match of value.matchAll(NAME_PARAMETER)) {
        if (!isMethodFieldName(match[1] ?? '')) continue
        this.#fail('method_override', 'A multipart form field named _method, or with a name PHP reads as _method, is not allowed: MISP would obey it. Send the request with the method you mean.')
        return
      }
    }
  }

  /** Returns the last `length` held bytes before the current line's end, as latin1 text. */
  #currentLine (length: number): string {
    const held = Buffer.concat(this.#held)
    this.#held = [held]
    const end = held.length - (this.#lineBytes - length)
    return held.subarray(end - length, end).toString('latin1')
  }

  #hold (bytes: Buffer): void {
    this.#held.push(bytes)
    this.#heldBytes += bytes.length
  }

  #release (): void {
    if (this.#heldBytes > 0) this.push(Buffer.concat(this.#held))
    this.#held = []
    this.#heldBytes = 0
    this.#lineBytes = 0
  }

  #fail (reason: MultipartProblem['reason'], message: string): void {
    this.#failure = new MultipartError({ reason, message })
  }
}

/** The error that stops a multipart body; `problem.reason` is the denial reason. */
export class MultipartError extends Error {
  readonly problem: MultipartProblem

  constructor (problem: MultipartProblem) {
    super(problem.message)
    this.name = 'MultipartError'
    this.problem = problem
  }
}

/** Joins continuation lines as PHP does and returns every Content-Disposition value. */
function dispositionValues (lines: readonly string[]): string[] {
  const headers: Array<{ name: string, value: string }> = []
  for (const line of lines) {
    const colon = /^\s/.test(line) ? -1 : line.indexOf(':')
    const previous = headers.at(-1)
    if (colon !== -1) headers.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) })
    else if (previous !== undefined) previous.value += line
  }
  return headers.filter((header) => header.name === 'content-disposition').map((header) => header.value)
}

function stripCr (line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line
}
