/**
 * Report rows per hour into `ReportSlice`s (one per group and GPU model, hours ascending), for
 * stores that sum hours one by one: InfluxStore's mirror, and SQLite by job and by node.
 */
import type { ReportHour, ReportSlice, SplitMj } from './store.js';

/**
 * Order of ids and node names as SQLite's BINARY collation (UTF-8 bytes, i.e. code points)
 * sorts them, so InfluxStore's listings and report slices match EmbeddedStore's; plain `<` on UTF-16 differs above U+D7FF.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

interface Open {
  group: string;
  gpuModel: string;
  energyMj: SplitMj;
  gpuSeconds: number;
  utilSeconds: number;
  utilKnownSeconds: number;
  idleGpuSeconds: number;
  hourTs: number[];
  hourEnergyMj: number[];
  hourGpuSeconds: number[];
}

/** Slices of `rows`; rows of one group, model and hour are summed. */
export function sliceReportHours(rows: Iterable<ReportHour>): ReportSlice[] {
  const slices = new Map<string, Open>();
  for (const r of rows) {
    const key = `${r.group}\u0000${r.gpuModel}`;
    let s = slices.get(key);
    if (s === undefined) {
      s = {
        group: r.group, gpuModel: r.gpuModel, energyMj: { gpuMj: 0, cpuMj: 0, otherMj: 0 }, gpuSeconds: 0, utilSeconds: 0, utilKnownSeconds: 0,
        idleGpuSeconds: 0, hourTs: [], hourEnergyMj: [], hourGpuSeconds: [],
      };
      slices.set(key, s);
    }
    s.energyMj.gpuMj += r.energyMj.gpuMj;
    s.energyMj.cpuMj += r.energyMj.cpuMj;
    s.energyMj.otherMj += r.energyMj.otherMj;
    s.gpuSeconds += r.gpuSeconds;
    s.utilSeconds += r.utilSeconds;
    s.utilKnownSeconds += r.utilKnownSeconds;
    s.idleGpuSeconds += r.idleGpuSeconds;
    s.hourTs.push(r.hourTs);
    s.hourEnergyMj.push(r.energyMj.gpuMj + r.energyMj.cpuMj + r.energyMj.otherMj);
    s.hourGpuSeconds.push(r.gpuSeconds);
  }
  const out = [...slices.values()].sort((a, b) => compareCodePoints(a.group, b.group) || compareCodePoints(a.gpuModel, b.gpuModel));
  for (const s of out) sortHours(s);
  return out;
}

/** Put a slice's hours in order (merging repeats), unless they already are. */
export function sortHours(s: { hourTs: number[]; hourEnergyMj: number[]; hourGpuSeconds: number[] }): void {
  if (s.hourTs.every((t, i) => i === 0 || t > (s.hourTs[i - 1] as number))) return;
  const byHour = new Map<number, [number, number]>();
  s.hourTs.forEach((t, i) => {
    const v = byHour.get(t) ?? [0, 0];
    byHour.set(t, [v[0] + (s.hourEnergyMj[i] as number), v[1] + (s.hourGpuSeconds[i] as number)]);
  });
  const hours = [...byHour].sort((a, b) => a[0] - b[0]);
  s.hourTs = hours.map(([t]) => t);
  s.hourEnergyMj = hours.map(([, [e]]) => e);
  s.hourGpuSeconds = hours.map(([, [, g]]) => g);
}
