/**
 * Report rows from the store's aggregates: per group, each UTC hour's job energy goes through
 * the same footprint as a job's (`accounting/footprint.ts`: PUE, grid intensity and price of
 * that hour, embodied carbon per GPU model), then the hours are summed. Pure: the store's
 * `EnergyReportData` and factors in, an `EnergyReport` out.
 */
import type { EnergyReport, FactorUse, FacilityMeterPeriod, ReportColumn, ReportFigures, ReportGroupBy, ReportRow } from '@stroom/protocol';
import { jToKwh, mjToJ } from '@stroom/protocol';
import type { FootprintFactors } from '../accounting/factors.js';
import { FOOTPRINT_METHOD, FootprintTable, emptyFootprintSums, unmatchedWarnings } from '../accounting/footprint.js';
import type { FootprintSums } from '../accounting/footprint.js';
import { isoTs } from '../accounting/time-series.js';
import type { EnergyReportData, ReportSlice, SplitMj } from '../store/store.js';
import { reportCoverage } from './coverage.js';
import { eedReport } from './eed.js';
import type { IctEnergy } from './eed.js';

/** kg per g: footprint works in g, reports in kg. */
const KG_PER_G = 1e-3;
const S_PER_HOUR = 3600;

/** The columns of a row, in file order, with unit and meaning (the method an auditor reads). */
export const REPORT_COLUMNS: readonly ReportColumn[] = [
  { name: 'group', unit: '', description: "The job's account, user, id or partition, or the node, as --by says; empty where the scheduler did not say (energy of a job seen only in counters)." },
  { name: 'itEnergyKwh', unit: 'kWh', description: 'IT energy charged to the jobs: GPU energy from the GPUs\' energy counters (NVML) or integrated power, CPU package and DRAM energy from RAPL split by CPU time, plus the modelled base power of the nodes charged by GPU allocation (itOtherModelledKwh).' },
  { name: 'itOtherModelledKwh', unit: 'kWh', description: 'The modelled part of itEnergyKwh (fans, NICs, disks: --base-power), not measured.' },
  { name: 'facilityEnergyKwh', unit: 'kWh', description: 'Σ over UTC hours of IT energy × PUE of that hour.' },
  { name: 'co2eLocationKg', unit: 'kgCO2e', description: 'Σ over UTC hours of facility energy × location-based grid carbon intensity of that hour.' },
  { name: 'co2eMarketKg', unit: 'kgCO2e', description: 'Σ over UTC hours of facility energy × market-based (supplier) carbon intensity of that hour.' },
  { name: 'embodiedCo2eKg', unit: 'kgCO2e', description: 'Embodied (manufacturing) carbon of the GPU-hours, amortised per GPU model (SCI "M" term); not included in the two CO2e columns.' },
  { name: 'costEur', unit: 'EUR', description: 'Σ over UTC hours of facility energy × electricity price of that hour.' },
  { name: 'gpuHours', unit: 'h', description: 'GPU-hours allocated to the jobs (GPUs × time held), whether the GPUs were busy or not.' },
  { name: 'idleGpuHours', unit: 'h', description: 'Allocated GPU-hours whose reported utilisation was under 5 % (allocated but idle).' },
  { name: 'meanGpuUtil', unit: '1', description: 'Mean GPU utilisation 0..1: Σ (utilisation × GPU-seconds) / Σ GPU-seconds with utilisation reported; empty when no GPU reported it.' },
];

/** What a report says about its method, before the formulas of the footprint. */
export const REPORT_METHOD =
  'Figures come from the collector\'s books: per job, node and UTC hour, the energy of the devices the job held ' +
  '(counter differences, so a lost batch changes no total), the GPU-seconds it held, and its GPU utilisation. ' +
  'A report sums these over the UTC hours that start inside [from, to) for each group, and applies the footprint per hour: ' +
  `${FOOTPRINT_METHOD} ` +
  'Energy no job was charged with (idle devices and their modelled base power) is reported apart as "unallocated", with its footprint; ' +
  'jobs + unallocated = all the nodes drew. Embodied carbon is charged only to GPU-hours held by jobs.';

/** A footprint's figures for a report: kWh and kg, plus GPU time and utilisation. */
interface Sums {
  itJ: number;
  otherJ: number;
  facilityJ: number;
  location: number;
  market: number;
  embodied: number;
  cost: number;
  gpuS: number;
  idleS: number;
  utilS: number;
  utilKnownS: number;
}

const zero = (): Sums => ({ itJ: 0, otherJ: 0, facilityJ: 0, location: 0, market: 0, embodied: 0, cost: 0, gpuS: 0, idleS: 0, utilS: 0, utilKnownS: 0 });

function addFootprint(s: Sums, f: FootprintSums): void {
  s.itJ += f.itEnergyJ;
  s.facilityJ += f.facilityEnergyJ;
  s.location += f.locationG;
  s.market += f.marketG;
  s.embodied += f.embodiedCo2eG;
  s.cost += f.costEur;
}

function figures(s: Sums): ReportFigures {
  return {
    itEnergyKwh: jToKwh(s.itJ),
    itOtherModelledKwh: jToKwh(s.otherJ),
    facilityEnergyKwh: jToKwh(s.facilityJ),
    co2eLocationKg: s.location * KG_PER_G,
    co2eMarketKg: s.market * KG_PER_G,
    embodiedCo2eKg: s.embodied * KG_PER_G,
    costEur: s.cost,
    gpuHours: s.gpuS / S_PER_HOUR,
    idleGpuHours: s.idleS / S_PER_HOUR,
    // Summed floats can put the mean a hair outside 0..1.
    meanGpuUtil: s.utilKnownS > 0 ? Math.min(1, Math.max(0, s.utilS / s.utilKnownS)) : null,
  };
}

function sumInto(a: Sums, b: Sums): void {
  for (const k of Object.keys(a) as Array<keyof Sums>) a[k] += b[k];
}

const splitJ = (e: SplitMj): number => mjToJ(e.gpuMj + e.cpuMj + e.otherMj);

/** Everything a report is built from. */
export interface ReportInput {
  readonly by: ReportGroupBy;
  readonly fromTs: number;
  readonly toTs: number;
  readonly generatedTs: number;
  readonly data: EnergyReportData;
  readonly factors: FootprintFactors;
  /** Facility meter periods and the ICT energy of a period, for the EED KPIs. */
  readonly meter?: { readonly periods: readonly FacilityMeterPeriod[]; readonly ictOf: (fromTs: number, toTs: number) => IctEnergy };
  /** Called after each group, for progress on long reports. */
  readonly onGroup?: (done: number, total: number) => void;
}

function factorWarnings(factors: readonly FactorUse[]): string[] {
  const out: string[] = [];
  for (const f of factors) {
    if (f.quality === 'unconfigured' || f.quality === 'indicative') out.push(`factor ${f.name} is ${f.quality} (${f.source}): configure the site's own value before publishing these figures`);
    if (f.outsideValidity) {
      const v = `${f.validity.fromTs === null ? '…' : isoTs(f.validity.fromTs)} to ${f.validity.toTs === null ? '…' : isoTs(f.validity.toTs)}`;
      out.push(`factor ${f.name} (valid ${v}) was applied to hours outside its validity`);
    }
  }
  return out;
}

/** The report: rows by group (largest IT energy first), totals, method, factors, coverage and EED KPIs. */
export function buildEnergyReport(input: ReportInput): EnergyReport {
  const { data, factors } = input;
  // The store orders its slices by group, so each group's slices (one per GPU model) are adjacent.
  const groups: Array<{ group: string; slices: ReportSlice[] }> = [];
  for (const slice of data.slices) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last.group === slice.group) last.slices.push(slice);
    else groups.push({ group: slice.group, slices: [slice] });
  }
  // One table for all groups and the unallocated energy: each hour's factors are looked up once.
  const table = new FootprintTable(factors);
  const warnings = new Set<string>();
  const jobs = zero();
  const record = { hourTs: 0, itEnergyJ: 0, gpuSeconds: 0, gpuModel: '' };
  const rows: ReportRow[] = groups.map(({ group, slices }, i) => {
    const f = emptyFootprintSums();
    const s = zero();
    for (const slice of slices) {
      record.gpuModel = slice.gpuModel;
      for (let k = 0; k < slice.hourTs.length; k++) {
        record.hourTs = slice.hourTs[k] as number;
        record.itEnergyJ = mjToJ(slice.hourEnergyMj[k] as number);
        record.gpuSeconds = slice.hourGpuSeconds[k] as number;
        table.add(f, record, k);
      }
      s.otherJ += mjToJ(slice.energyMj.otherMj);
      s.gpuS += slice.gpuSeconds;
      s.idleS += slice.idleGpuSeconds;
      s.utilS += slice.utilSeconds;
      s.utilKnownS += slice.utilKnownSeconds;
    }
    for (const w of unmatchedWarnings(f)) warnings.add(`${input.by} ${group === '' ? '(not known)' : group}: ${w}`);
    addFootprint(s, f);
    sumInto(jobs, s);
    input.onGroup?.(i + 1, groups.length);
    return { group, ...figures(s) };
  });
  rows.sort((a, b) => b.itEnergyKwh - a.itEnergyKwh || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));

  const unallocated = zero();
  const idle = emptyFootprintSums();
  data.unallocated.forEach((u, k) => table.add(idle, { hourTs: u.hourTs, itEnergyJ: splitJ(u.energyMj), gpuSeconds: 0, gpuModel: '' }, k));
  addFootprint(unallocated, idle);
  for (const u of data.unallocated) unallocated.otherJ += mjToJ(u.energyMj.otherMj);
  const cluster = zero();
  sumInto(cluster, jobs);
  sumInto(cluster, unallocated);

  const usedFactors = table.factorUses().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const coverage = reportCoverage(data.nodes, input.fromTs, input.toTs, input.generatedTs);
  if (coverage.share !== null && coverage.share < 1) {
    warnings.add(`data coverage is ${(coverage.share * 100).toFixed(2)} % of node-hours: ${coverage.gaps.length} gap(s) listed under coverage`);
  }
  for (const w of factorWarnings(usedFactors)) warnings.add(w);
  const eed = input.meter === undefined ? null : eedReport(input.meter.periods, input.fromTs, input.toTs, input.meter.ictOf);
  return {
    kind: 'stroom-energy-report',
    version: 1,
    title: `Energy report by ${input.by}, ${isoTs(input.fromTs)} to ${isoTs(input.toTs)}`,
    period: { fromTs: input.fromTs, toTs: input.toTs },
    by: input.by,
    generatedTs: input.generatedTs,
    rows,
    totals: { jobs: figures(jobs), unallocated: figures(unallocated), cluster: figures(cluster) },
    method: { summary: REPORT_METHOD, columns: [...REPORT_COLUMNS] },
    factors: usedFactors.map((u) => ({ ...u, value: typeof u.value === 'number' ? u.value : { ...u.value }, validity: { ...u.validity } })),
    coverage,
    eed,
    warnings: [...warnings],
  };
}
