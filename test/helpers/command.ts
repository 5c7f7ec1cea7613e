import { Readable, Writable } from 'node:stream'
import type { CommandIo } from '../../src/commands/command-io.js'

export interface CommandRun {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

/** Collects what a stream receives as text. */
class TextSink extends Writable {
  text = ''

  override _write (chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString()
    callback()
  }
}

/**
 * Runs a command function in-process with `stdin` as its input, a fixed clock and an
 * environment of its own. Errors are thrown, as the CLI's entry point receives them.
 */
export async function runCommand (
  command: (args: string[], io: CommandIo) => Promise<number>,
  args: string[],
  options: { stdin?: string, now: number, env?: NodeJS.ProcessEnv }
): Promise<CommandRun> {
  const stdout = new TextSink()
  const stderr = new TextSink()
  const io: CommandIo = { stdin: Readable.from([Buffer.from(options.stdin ?? '')]), stdout, stderr, env: options.env ?? {}, now: () => options.now }
  const status = await command(args, io)
  return { status, stdout: stdout.text, stderr: stderr.text }
}
