/**
 * Report periods: the text users type (`2025-01-01`, `2025-01-01T00:00:00Z`, epoch ms) to ms
 * on whole UTC hours. Reports are built from books kept by the UTC hour, so a bound inside an
 * hour would silently include or leave out part of it; it is refused instead.
 */
import { MS_PER_HOUR, isoTs } from '../accounting/time-series.js';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Epoch ms of a report bound. `name` labels errors (e.g. `--from`). A date is UTC midnight; a
 * date-time needs `Z` or an offset (a local time is ambiguous); the result must start a UTC hour.
 */
export function parseReportTime(text: string, name: string): number {
  const t = text.trim();
  let ts: number;
  if (/^\d+$/.test(t)) {
    ts = Number(t);
  } else {
    const d = DATE.exec(t);
    const m = d ?? ISO.exec(t);
    if (m === null) {
      throw new Error(`${name}: expected a date (2025-01-01), a date-time with Z or an offset (2025-01-01T00:00:00Z) or ms since the epoch, got "${text}"`);
    }
    const [y, mo, day, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
    const local = Date.UTC(y, mo - 1, day, h, mi, s, Number((m[7] ?? '').padEnd(3, '0')));
    const check = new Date(local);
    if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== day || h > 23 || mi > 59 || s > 59) {
      throw new Error(`${name}: "${text}" is not a valid date and time`);
    }
    const offset = d === null ? (m[8] as string) : 'Z';
    const offsetMin = offset === 'Z' ? 0 : (offset.startsWith('-') ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
    ts = local - offsetMin * 60_000;
  }
  if (!Number.isSafeInteger(ts) || ts < 0 || ts > 8.64e15) throw new Error(`${name}: "${text}" is out of range`);
  if (ts % MS_PER_HOUR !== 0) throw new Error(`${name}: ${isoTs(ts)} is not the start of a UTC hour (reports are kept by the UTC hour)`);
  return ts;
}

/** Both bounds, checked: [fromTs, toTs) with from before to. */
export function parseReportPeriod(from: string, to: string, names: readonly [string, string] = ['from', 'to']): { fromTs: number; toTs: number } {
  const fromTs = parseReportTime(from, names[0]);
  const toTs = parseReportTime(to, names[1]);
  if (toTs <= fromTs) throw new Error(`${names[1]}: ${isoTs(toTs)} is not after ${names[0]} ${isoTs(fromTs)}`);
  return { fromTs, toTs };
}
