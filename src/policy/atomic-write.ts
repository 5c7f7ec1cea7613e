import { randomBytes } from 'node:crypto'
import type { Stats } from 'node:fs'
import { open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/**
 * Replaces `file` with `text` so that a reader sees the old or the new content, never a
 * mix. The text goes to a temporary file in the same directory, is flushed to disk and
 * is renamed over the file. The directory is then flushed, so the rename survives a
 * crash. The new file keeps the old one's mode, and its owner when running as root.
 */
export async function replaceFileAtomically (file: string, text: string, previous: Stats): Promise<void> {
  const directory = dirname(file)
  const temporary = join(directory, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(temporary, 'wx', previous.mode & 0o7777)
  try {
    await handle.writeFile(text)
    await handle.chmod(previous.mode & 0o7777)
    if (process.getuid?.() === 0) await handle.chown(previous.uid, previous.gid)
    await handle.sync()
    await handle.close()
    await rename(temporary, file)
  } catch (error) {
    await handle.close().catch(() => {})
    await unlink(temporary).catch(() => {})
    throw error
  }
  await syncDirectory(directory)
}

async function syncDirectory (directory: string): Promise<void> {
  const handle = await open(directory, 'r')
  try {
    await handle.sync()
  } catch (error) {
    // Some file systems cannot fsync a directory; the rename has still happened.
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL' && (error as NodeJS.ErrnoException).code !== 'EISDIR') throw error
  } finally {
    await handle.close()
  }
}
