/**
 * Pure reading of one job for its page: efficiency figures, the energy split, an everyday
 * equivalent with its source, and the chart columns (the books' 10 s series, then live points
 * appended from `job/<id>` messages). Tested in Node.
 */
import type { JobDetail, LiveJobTopic } from '@stroom/protocol';
import { J_PER_KWH } from '@stroom/protocol';
import { MISSING, formatEnergy, formatPercent, sig3 } from './format.js';

/**
 * Average CO2 of new passenger cars registered in the EU, Iceland and Norway in 2023, g/km
 * (WLTP type-approval, all fuels): European Environment Agency, provisional 2023 data,
 * published June 2024 ("CO2 emissions from new cars and vans continued to fall in 2023").
 */
export const CAR_G_CO2_PER_KM = 106.6;
export const CAR_SOURCE =
  'European Environment Agency, provisional 2023 data (published 2024): new passenger cars registered in the EU, Iceland and Norway averaged 106.6 g CO2/km (WLTP type-approval, all fuel types)';

/** The job's location-based CO2e as km driven by an average new European car. */
export function carEquivalent(co2eG: number): { text: string; source: string } {
  const km = co2eG / CAR_G_CO2_PER_KM;
  const kmText = km >= 10 ? sig3(Math.round(km)) : sig3(km);
  return { text: `≈ ${kmText} km driven by an average new car registered in Europe in 2023`, source: CAR_SOURCE };
}

/** What the JobDetail answer may carry beyond the schema this page was built against. */
type WithUse = JobDetail & { meanGpuUtilRatio?: number | null; idleGpuHours?: number };

export interface Efficiency {
  energyPerGpuHour: string;
  meanUtil: string;
  idleGpuHours: string;
  gpuHours: string;
}

export function efficiency(job: WithUse): Efficiency {
  const kwh = job.energyJ.total / J_PER_KWH;
  return {
    gpuHours: `${sig3(job.gpuHours)} GPU-h`,
    energyPerGpuHour: job.gpuHours > 0 ? `${sig3(kwh / job.gpuHours)} kWh/GPU-h` : MISSING,
    meanUtil: job.meanGpuUtilRatio === undefined || job.meanGpuUtilRatio === null ? MISSING : formatPercent(job.meanGpuUtilRatio),
    idleGpuHours: job.idleGpuHours === undefined ? MISSING : `${sig3(job.idleGpuHours)} GPU-h`,
  };
}

/** The energy split as rows with shares; `other` is modelled, and says so. */
export function energySplit(e: { total: number; gpu: number; cpu: number; other: number }): Array<{ key: 'gpu' | 'cpu' | 'other'; label: string; text: string; share: number }> {
  const share = (x: number): number => (e.total > 0 ? x / e.total : 0);
  return [
    { key: 'gpu', label: 'GPU (measured)', text: formatEnergy(e.gpu), share: share(e.gpu) },
    { key: 'cpu', label: 'CPU and DRAM (measured)', text: formatEnergy(e.cpu), share: share(e.cpu) },
    { key: 'other', label: 'Other: fans, NICs, disks (modelled, not measured)', text: formatEnergy(e.other), share: share(e.other) },
  ];
}

/** Named power series as uPlot columns: [tsUnixS[], W[] per name]. */
export interface NamedColumns {
  names: string[];
  columns: Array<Array<number | null>>;
}

/** The API's series answer without its `total` column (or with only it, `keepTotal`). */
export function fromApiSeries(body: { series: string[]; columns: Array<Array<number | null>> }, keepTotal: boolean): NamedColumns {
  const names: string[] = [];
  const columns: Array<Array<number | null>> = [body.columns[0] ?? []];
  body.series.forEach((name, i) => {
    if (name === 'total' && !keepTotal) return;
    names.push(name);
    columns.push(body.columns[i + 1] ?? []);
  });
  return { names, columns };
}

/** True when the series answer is per GPU (`<node>/<gpuIndex>` names), as `&by=gpu` gives. */
export function isPerGpu(body: { series: string[] }): boolean {
  return body.series.some((s) => s.includes('/'));
}

/**
 * Append one point at `tsS` (Unix s) with values by name; a new name becomes a new column
 * (null before), a name not given gets null. Points older than the last are ignored.
 */
export function appendNamed(c: NamedColumns, tsS: number, values: ReadonlyMap<string, number | null>): NamedColumns {
  const ts = c.columns[0] as number[];
  const last = ts[ts.length - 1];
  if (last !== undefined && tsS <= last) return c;
  for (const name of values.keys()) {
    if (c.names.includes(name)) continue;
    c.names.push(name);
    c.columns.push(new Array<number | null>(ts.length).fill(null));
  }
  ts.push(tsS);
  c.names.forEach((name, i) => (c.columns[i + 1] as Array<number | null>).push(values.get(name) ?? null));
  return c;
}

/** Per-GPU and per-node values of one live job message, named as the API names them. */
export function liveValues(m: LiveJobTopic): { gpus: Map<string, number | null>; nodes: Map<string, number | null> } {
  const gpus = new Map<string, number | null>();
  for (const g of m.gpus) gpus.set(`${g.node}/${g.index}`, g.powerW);
  const nodes = new Map<string, number | null>();
  if (m.powerW !== null) nodes.set('total', m.powerW);
  for (const n of m.nodes) nodes.set(n.name, n.powerW);
  return { gpus, nodes };
}
