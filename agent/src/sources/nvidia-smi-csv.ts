/**
 * Pure: `nvidia-smi --query-gpu=… --format=csv[,noheader][,nounits]` text → one row per GPU in
 * the agent's units (W, °C, fraction 0..1, bytes, MHz).
 *
 * nvidia-smi separates columns with `, ` and never quotes; values of the numeric fields read
 * here never contain a comma. Placeholders (`[N/A]`, `[Not Supported]`, …) and anything that
 * is not a plain number mean "absent": the field is left out, never 0.
 */
import { mibToBytes, percentToRatio } from '@stroom/protocol/wire';

/** Values nvidia-smi prints instead of a reading; each means the field is absent. */
export const ABSENT_VALUES: ReadonlySet<string> = new Set([
  '',
  'N/A',
  '[N/A]',
  '[Not Supported]',
  '[Unknown Error]',
  '[Function Not Found]',
  'Requested functionality has been deprecated',
  '[Requested functionality has been deprecated]',
]);

/** One GPU row of a `--query-gpu` CSV, in the agent's units; absent fields are omitted. */
export interface CsvGpuRow {
  readonly uuid: string;
  /**
   * The row's `timestamp` as the node's local wall clock read as if it were UTC, in ms. Only
   * differences between rows mean anything (nvidia-smi prints no time zone).
   */
  readonly localTsMs?: number;
  /** Board power in W: `power.draw.average`, else `power.draw`, else `power.draw.instant`, per row. */
  readonly powerW?: number;
  /** Which field `powerW` came from. */
  readonly powerField?: 'power.draw.average' | 'power.draw' | 'power.draw.instant';
  /** GPU core temperature in °C (`temperature.gpu`). */
  readonly tempC?: number;
  /** HBM temperature in °C (`temperature.memory`). */
  readonly memTempC?: number;
  /** GPU busy fraction 0..1 (`utilization.gpu` / 100). */
  readonly utilRatio?: number;
  /** Framebuffer memory in use in bytes (`memory.used`, MiB → bytes). */
  readonly memUsedBytes?: number;
  /** SM clock in MHz (`clocks.current.sm`). */
  readonly smClockMHz?: number;
}

/** Result of parsing a whole CSV text. */
export interface CsvParse {
  readonly rows: readonly CsvGpuRow[];
  /** Column names (canonical, units stripped) the rows were read with. */
  readonly columns: readonly string[];
  /** Lines that were neither a header nor a usable GPU row. */
  readonly garbage: readonly string[];
}

// Aliases that may be requested; the header always shows the canonical name.
const ALIASES: Readonly<Record<string, string>> = {
  gpu_uuid: 'uuid',
  'clocks.sm': 'clocks.current.sm',
  'gpu.power.draw.average': 'power.draw.average',
  'gpu.power.draw.instant': 'power.draw.instant',
};

/** Canonical name of a `--query-gpu` field as the CSV header prints it (units removed). */
export function canonicalField(name: string): string {
  const bare = name.trim().replace(/\s*\[[^\]]*\]$/, '');
  return ALIASES[bare] ?? bare;
}

/** The unit nvidia-smi appends to each numeric field's values when `nounits` is not given. */
const UNITS: Readonly<Record<string, string | undefined>> = {
  'power.draw.average': 'W',
  'power.draw': 'W',
  'power.draw.instant': 'W',
  'temperature.gpu': undefined,
  'temperature.memory': undefined,
  'utilization.gpu': '%',
  'memory.used': 'MiB',
  'clocks.current.sm': 'MHz',
};

const NUMBER = /^-?\d+(?:\.\d+)?$/;

// A value outside its field's physical range is a garbled line, not a reading: one power of
// 1e400 W (Infinity) would make the GPU's energy counter Infinity, and a utilisation above
// 100 % a ratio the wire refuses, stalling the node's whole stream.
const RANGES: Readonly<Record<string, readonly [number, number]>> = {
  'power.draw.average': [0, Number.MAX_VALUE],
  'power.draw': [0, Number.MAX_VALUE],
  'power.draw.instant': [0, Number.MAX_VALUE],
  'utilization.gpu': [0, 100],
  'memory.used': [0, Number.MAX_VALUE],
  'clocks.current.sm': [0, Number.MAX_VALUE],
};

/** A numeric value of `field`, with or without its unit; undefined when absent, not a finite number, or outside the field's range. */
export function parseNumeric(field: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  let v = raw.trim();
  if (ABSENT_VALUES.has(v)) return undefined;
  const unit = UNITS[field];
  if (unit !== undefined && v.endsWith(` ${unit}`)) v = v.slice(0, -unit.length - 1);
  if (!NUMBER.test(v)) return undefined;
  const n = Number(v);
  const [min, max] = RANGES[field] ?? [-Number.MAX_VALUE, Number.MAX_VALUE];
  return n >= min && n <= max ? n : undefined;
}

const TIMESTAMP = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})$/;

/** `YYYY/MM/DD HH:MM:SS.mmm` (node-local time) → ms, reading the local time as UTC; undefined if malformed. */
export function parseTimestamp(raw: string | undefined): number | undefined {
  const m = raw === undefined ? null : TIMESTAMP.exec(raw.trim());
  if (m === null) return undefined;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s, ms);
}

const HEADER_CELL = /^[A-Za-z][A-Za-z0-9_.]*(?: \[[^\]]+\])?$/;

/**
 * Whether `cells` are a header line: every cell a field name (optionally ` [unit]`) and one of
 * them `uuid`. A data row always has a cell no field name can be: the UUID (`GPU-…` has
 * dashes), a number with a space before its unit, or a bracketed placeholder.
 */
export function isHeader(cells: readonly string[]): boolean {
  return cells.every((c) => HEADER_CELL.test(c)) && cells.some((c) => canonicalField(c) === 'uuid');
}

/** Splits one CSV line into trimmed cells. */
export function splitCells(line: string): string[] {
  return line.split(',').map((c) => c.trim());
}

/** A GPU UUID as nvidia-smi prints it; at most 256 characters, the longest name the wire takes. */
const GPU_UUID = /^GPU-[0-9A-Za-z-]{1,252}$/;

/**
 * Why `line` is not a GPU row under `columns` (the same checks as `parseQueryGpuLine`), for a
 * warning that tells an operator what to look at; undefined when it is a row.
 */
export function whyNotRow(line: string, columns: readonly string[]): string | undefined {
  const cells = splitCells(line);
  if (cells.length !== columns.length) return `${cells.length} comma-separated cells where ${columns.length} columns were expected`;
  const i = columns.indexOf('uuid');
  if (i < 0) return `no uuid column among the ${columns.length} columns (no header line, and uuid was not queried)`;
  const uuid = cells[i] ?? '';
  if (!GPU_UUID.test(uuid)) return `the uuid cell ${JSON.stringify(uuid.slice(0, 60))} is not a GPU UUID (GPU-…, at most 256 characters)`;
  return undefined;
}

/**
 * One data line → a GPU row, reading cells by `columns` (canonical names, as requested or as
 * the header named them). Undefined when the line is not a usable row: wrong column count or
 * no GPU UUID.
 */
export function parseQueryGpuLine(line: string, columns: readonly string[]): CsvGpuRow | undefined {
  const cells = splitCells(line);
  if (cells.length !== columns.length) return undefined;
  const get = (f: string): string | undefined => {
    const i = columns.indexOf(f);
    return i < 0 ? undefined : cells[i];
  };
  const uuid = get('uuid');
  if (uuid === undefined || !GPU_UUID.test(uuid)) return undefined;
  const row: { -readonly [K in keyof CsvGpuRow]: CsvGpuRow[K] } = { uuid };
  const ts = parseTimestamp(get('timestamp'));
  if (ts !== undefined) row.localTsMs = ts;
  for (const f of ['power.draw.average', 'power.draw', 'power.draw.instant'] as const) {
    const w = parseNumeric(f, get(f));
    if (w !== undefined) {
      row.powerW = w;
      row.powerField = f;
      break;
    }
  }
  const tempC = parseNumeric('temperature.gpu', get('temperature.gpu'));
  if (tempC !== undefined) row.tempC = tempC;
  const memTempC = parseNumeric('temperature.memory', get('temperature.memory'));
  if (memTempC !== undefined) row.memTempC = memTempC;
  const util = parseNumeric('utilization.gpu', get('utilization.gpu'));
  if (util !== undefined) row.utilRatio = percentToRatio(util);
  const memMiB = parseNumeric('memory.used', get('memory.used'));
  if (memMiB !== undefined && Number.isFinite(mibToBytes(memMiB))) row.memUsedBytes = mibToBytes(memMiB);
  const sm = parseNumeric('clocks.current.sm', get('clocks.current.sm'));
  if (sm !== undefined) row.smClockMHz = sm;
  return row;
}

/**
 * Parses a whole `--query-gpu` CSV. `fields` is what was requested; a header line, when
 * present, names the columns instead (so captures taken with any field list parse), and a
 * later repeat of it is skipped.
 */
export function parseQueryGpuCsv(text: string, fields: readonly string[] = []): CsvParse {
  let columns = fields.map(canonicalField);
  const rows: CsvGpuRow[] = [];
  const garbage: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const cells = splitCells(line);
    if (isHeader(cells)) {
      columns = cells.map(canonicalField);
      continue;
    }
    const row = parseQueryGpuLine(line, columns);
    if (row === undefined) garbage.push(line);
    else rows.push(row);
  }
  return { rows, columns, garbage };
}

/**
 * Joins a stream of chunks into whole lines: feed each chunk, get the complete lines; a line
 * split across chunks comes out once it is whole. A partial line longer than `maxLineChars`
 * is dropped (a child writing without newlines must not grow memory without bound).
 */
export class LineSplitter {
  #rest = '';
  readonly #maxLineChars: number;
  /** Characters dropped because a line grew past the limit. */
  droppedChars = 0;

  /** `maxLineChars`: longest partial line kept, in UTF-16 code units (default 64 KiB). */
  constructor(maxLineChars = 65_536) {
    this.#maxLineChars = maxLineChars;
  }

  /** Adds a chunk; returns the lines it completed, without line terminators. */
  push(chunk: string): string[] {
    const parts = (this.#rest + chunk).split('\n');
    this.#rest = parts.pop() ?? '';
    if (this.#rest.length > this.#maxLineChars) {
      this.droppedChars += this.#rest.length;
      this.#rest = '';
    }
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }

  /** Forgets a partial line (the child that wrote it is gone). */
  reset(): void {
    this.#rest = '';
  }
}
