/**
 * A /proc file kept open and re-read from offset 0 each tick. /proc files are generated on
 * read (seq_file), so a positional read from 0 gives fresh contents: one syscall per tick
 * instead of open, fstat, read and close.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** One re-readable /proc (or sysfs) file. */
export class ProcFile {
  readonly #path: string;
  #fd: number | undefined;
  #buf = Buffer.allocUnsafe(16 * 1024);

  constructor(path: string) {
    this.#path = path;
  }

  /** The file's current contents; throws like `readFileSync` when it cannot be read. */
  read(): string {
    this.#fd ??= openSync(this.#path, 'r');
    for (;;) {
      const n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
      // A full buffer may mean a cut-off file (a many-core /proc/stat): grow and read again.
      if (n < this.#buf.length) return this.#buf.toString('utf8', 0, n);
      this.#buf = Buffer.allocUnsafe(this.#buf.length * 2);
    }
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
