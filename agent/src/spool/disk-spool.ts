/**
 * Durable spool: batches are appended as JSON lines to segment files in a directory and
 * replayed, oldest first, after an agent restart. Is: durable across agent restarts and
 * crashes (a torn last record is cut off with a warning), bounded by bytes (oldest segments
 * dropped and counted), and alive on a full disk (a batch the disk refuses is dropped and
 * counted, with one warning per episode and a note when writes succeed again). Is not: fsync'd per batch — after a power cut the last second or so
 * may be missing, which costs resolution only, because counters are cumulative.
 */
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch } from '@stroom/protocol';
import { encode } from '@stroom/protocol/wire';
import type { Logger } from 'pino';
import type { Spool, SpooledBatch, SpoolStats } from './spool.js';

/** Options of the disk spool. */
export interface DiskSpoolOptions {
  readonly dir: string;
  readonly log: Logger;
  /** Most bytes held, on disk and in memory (default 64 MiB). */
  readonly maxBytes?: number;
  /** Start a new segment file past this size (default 1 MiB). */
  readonly segmentBytes?: number;
}

interface Segment {
  readonly file: string;
  readonly items: SpooledBatch[];
  bytes: number;
}

const SEGMENT = /^seg-(\d{16})\.jsonl$/;

/** Spool in segment files under a directory. */
export class DiskSpool implements Spool {
  readonly #o: DiskSpoolOptions;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  #segments: Segment[] = [];
  #bytes = 0;
  #dropped = 0;
  /** Open descriptor of the newest segment: one write syscall per batch, not open+write+close. */
  #fd: { file: string; fd: number } | undefined;
  /** The disk's refusal while writes fail, so it is logged once per episode. */
  #writeError: string | undefined;

  constructor(options: DiskSpoolOptions) {
    this.#o = options;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#segmentBytes = options.segmentBytes ?? 1024 * 1024;
    mkdirSync(options.dir, { recursive: true });
    this.#load();
  }

  /** Highest seq held, or 0. */
  get lastSeq(): number {
    const seg = this.#segments[this.#segments.length - 1];
    return seg?.items[seg.items.length - 1]?.seq ?? 0;
  }

  append(batch: Batch): void {
    if (batch.seq <= this.lastSeq) throw new Error(`spool: seq ${batch.seq} is not after ${this.lastSeq}`);
    const frame = encode(batch);
    let seg = this.#segments[this.#segments.length - 1];
    const fresh = seg === undefined || seg.bytes >= this.#segmentBytes;
    if (seg === undefined || fresh) seg = { file: join(this.#o.dir, `seg-${String(batch.seq).padStart(16, '0')}.jsonl`), items: [], bytes: 0 };
    const line = frame + '\n';
    if (!this.#write(seg.file, line, batch.seq, fresh)) return;
    if (fresh) this.#segments.push(seg);
    seg.items.push({ seq: batch.seq, frame });
    seg.bytes += line.length;
    this.#bytes += line.length;
    while (this.#bytes > this.#maxBytes && this.#segments.length > 1) {
      const oldest = this.#segments.shift() as Segment;
      if (this.#fd?.file === oldest.file) this.#closeFd();
      this.#dropped += oldest.items.length;
      this.#bytes -= oldest.bytes;
      rmSync(oldest.file, { force: true });
    }
  }

  /**
   * Append `line` to `file`; false when the disk refused it (full, read-only, quota). The
   * batch is then dropped and counted like one over the byte cap: counters are cumulative, so
   * the next batch that gets through carries its energy. A partly written line is cut off
   * again, so the file stays readable after a restart.
   */
  #write(file: string, line: string, seq: number, fresh: boolean): boolean {
    try {
      if (this.#fd?.file !== file) {
        this.#closeFd();
        this.#fd = { file, fd: openSync(file, 'a') };
      }
      const bytes = Buffer.byteLength(line);
      const written = writeSync(this.#fd.fd, line);
      if (written !== bytes) {
        // A full disk takes what fits and says so only on the next write: cut the torn line now.
        ftruncateSync(this.#fd.fd, fstatSync(this.#fd.fd).size - written);
        throw new Error(`short write (${written} of ${bytes} bytes): no space left on device?`);
      }
    } catch (err) {
      if (fresh) {
        this.#closeFd();
        rmSync(file, { force: true });
      }
      this.#dropped += 1;
      if (this.#writeError === undefined) {
        this.#writeError = (err as Error).message;
        this.#o.log.warn({ dir: this.#o.dir, seq }, `spool: cannot write to disk (${this.#writeError}); batches are dropped and counted until it can, and the next batch kept carries their energy`);
      }
      return false;
    }
    if (this.#writeError !== undefined) {
      this.#o.log.info({ dir: this.#o.dir, seq }, `spool: writing to disk again after: ${this.#writeError}`);
      this.#writeError = undefined;
    }
    return true;
  }

  next(afterSeq: number): SpooledBatch | undefined {
    for (const seg of this.#segments) {
      const last = seg.items[seg.items.length - 1];
      if (last === undefined || last.seq <= afterSeq) continue;
      let lo = 0;
      let hi = seg.items.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((seg.items[mid]?.seq ?? Infinity) <= afterSeq) lo = mid + 1;
        else hi = mid;
      }
      return seg.items[lo];
    }
    return undefined;
  }

  ack(uptoSeq: number): void {
    // Whole segments go when all their batches are acked; a partly acked segment keeps its
    // file until then, but its acked batches leave memory and the count at once.
    while (this.#segments.length > 0) {
      const seg = this.#segments[0] as Segment;
      const last = seg.items[seg.items.length - 1];
      if (last !== undefined && last.seq <= uptoSeq && seg !== this.#segments[this.#segments.length - 1]) {
        this.#segments.shift();
        this.#bytes -= seg.bytes;
        rmSync(seg.file, { force: true });
        continue;
      }
      let cut = 0;
      while (cut < seg.items.length && (seg.items[cut]?.seq ?? Infinity) <= uptoSeq) cut++;
      if (cut > 0) {
        const removed = seg.items.splice(0, cut);
        const freed = removed.reduce((n, i) => n + i.frame.length + 1, 0);
        seg.bytes -= freed;
        this.#bytes -= freed;
      }
      if (seg.items.length === 0) {
        this.#segments.shift();
        if (this.#fd?.file === seg.file) this.#closeFd();
        rmSync(seg.file, { force: true });
        continue;
      }
      break;
    }
  }

  get stats(): SpoolStats {
    let batches = 0;
    for (const seg of this.#segments) batches += seg.items.length;
    return { batches, bytes: this.#bytes, dropped: this.#dropped };
  }

  close(): void {
    this.#closeFd();
    this.#segments = [];
  }

  #closeFd(): void {
    if (this.#fd !== undefined) closeSync(this.#fd.fd);
    this.#fd = undefined;
  }

  /** Read every segment back in order; cut a torn or corrupt tail with one warning. */
  #load(): void {
    const files = readdirSync(this.#o.dir).filter((f) => SEGMENT.test(f)).sort();
    let lastSeq = 0;
    for (const name of files) {
      const file = join(this.#o.dir, name);
      const text = readFileSync(file, 'utf8');
      const seg: Segment = { file, items: [], bytes: 0 };
      let offset = 0;
      while (offset < text.length) {
        const end = text.indexOf('\n', offset);
        const line = end === -1 ? text.slice(offset) : text.slice(offset, end);
        const seq = end === -1 ? undefined : this.#seqOf(line);
        if (seq === undefined || seq <= lastSeq) {
          this.#o.log.warn({ file, offset }, `spool: cut a torn or corrupt record at byte ${offset} of ${name}; the batches after it are kept only if they are in later segments`);
          truncateSync(file, Buffer.byteLength(text.slice(0, offset)));
          break;
        }
        seg.items.push({ seq, frame: line });
        seg.bytes += line.length + 1;
        lastSeq = seq;
        offset = end + 1;
      }
      if (seg.items.length === 0) {
        rmSync(file, { force: true });
        continue;
      }
      this.#segments.push(seg);
      this.#bytes += seg.bytes;
    }
  }

  #seqOf(line: string): number | undefined {
    try {
      const parsed = JSON.parse(line) as { seq?: unknown };
      return typeof parsed.seq === 'number' ? parsed.seq : undefined;
    } catch {
      return undefined;
    }
  }
}
