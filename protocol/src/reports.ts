/**
 * Energy reports (`GET /api/v1/reports/energy`, `stroom report`): rows per group with the
 * metadata an auditor needs to trace every figure (period, method, factors with source and
 * validity, data coverage) and, when facility meter data was supplied, the EU Energy
 * Efficiency Directive KPIs. Units are in the names: kWh, kg (CO2e), EUR, hours, ratio 0..1.
 */
import { REPORT_FORMATS, REPORT_GROUP_BY } from './constants.js';
import { z } from 'zod';
import { FactorUseSchema } from './messages.js';

/** Milliseconds since the Unix epoch, UTC. */
const tsMs = z.number().int().nonnegative();

/** What a report's rows are grouped by. */
export const ReportGroupBySchema = z.enum(REPORT_GROUP_BY);
export type ReportGroupBy = z.infer<typeof ReportGroupBySchema>;

/** Report file formats. */
export const ReportFormatSchema = z.enum(REPORT_FORMATS);
export type ReportFormat = z.infer<typeof ReportFormatSchema>;

/** Figures of one row (or total). Energy in kWh, CO2e in kg, cost in EUR. */
export const ReportFiguresSchema = z.object({
  /** IT energy: measured GPU + CPU energy plus modelled base power (`itOtherModelledKwh`). */
  itEnergyKwh: z.number(),
  /** The modelled part of `itEnergyKwh` (fans, NICs, disks), not measured. */
  itOtherModelledKwh: z.number(),
  /** IT energy x PUE, hour by hour. */
  facilityEnergyKwh: z.number(),
  co2eLocationKg: z.number(),
  co2eMarketKg: z.number(),
  /** Embodied (manufacturing) carbon of the GPU-hours, amortised; not included in the CO2e columns. */
  embodiedCo2eKg: z.number(),
  costEur: z.number(),
  /** GPU-hours allocated to jobs. */
  gpuHours: z.number(),
  /** Allocated GPU-hours with utilisation under 5 % (of the GPU-hours where utilisation was reported). */
  idleGpuHours: z.number(),
  /** Mean GPU utilisation, 0..1, weighted by GPU-seconds; null when no GPU reported utilisation. */
  meanGpuUtil: z.number().min(0).max(1).nullable(),
});
export type ReportFigures = z.infer<typeof ReportFiguresSchema>;

/** One row: a group (account, user, job, node or partition) and its figures. `group` '' means not known. */
export const ReportRowSchema = ReportFiguresSchema.extend({ group: z.string() });
export type ReportRow = z.infer<typeof ReportRowSchema>;

/** A column of the rows, as the method describes it. */
export const ReportColumnSchema = z.object({ name: z.string(), unit: z.string(), description: z.string() });
export type ReportColumn = z.infer<typeof ReportColumnSchema>;

/** A run of hours without data on one node, [fromTs, toTs). */
export const CoverageGapSchema = z.object({ node: z.string(), fromTs: tsMs, toTs: tsMs, hours: z.number().int().positive() });
export type CoverageGap = z.infer<typeof CoverageGapSchema>;

/** How much of the period the measurements cover. */
export const ReportCoverageSchema = z.object({
  /** Nodes known to the collector (inventory or energy books). */
  nodes: z.number().int().nonnegative(),
  /** Node-hours expected: per node, from the later of the period start and its first report, to the earlier of the period end and the report time. */
  expectedNodeHours: z.number().int().nonnegative(),
  /** Node-hours with at least one measured batch. */
  measuredNodeHours: z.number().int().nonnegative(),
  /** measured / expected, 0..1; null when nothing was expected. */
  share: z.number().min(0).max(1).nullable(),
  /** Every run of node-hours with no data, by node, then time. */
  gaps: z.array(CoverageGapSchema),
  /** How coverage is counted, in words. */
  method: z.string(),
});
export type ReportCoverage = z.infer<typeof ReportCoverageSchema>;

/** A meter reading period of the facility, as supplied (CSV or API). Energy in kWh, water in m3. */
export const FacilityMeterPeriodSchema = z.object({
  fromTs: tsMs,
  toTs: tsMs,
  /** Total energy consumption of the data centre (facility meter), kWh. */
  totalFacilityKwh: z.number().nonnegative(),
  /** Renewable energy consumed, kWh (guarantees of origin, PPAs, on-site generation). */
  renewableKwh: z.number().nonnegative(),
  /** Energy reused outside the data centre (e.g. waste heat delivered to a heat network), kWh. */
  reusedKwh: z.number().nonnegative(),
  /** Total water input, cubic metres (m3). */
  waterM3: z.number().nonnegative(),
  /** Where the figures come from (meter, invoice, supplier statement). */
  source: z.string().min(1),
});
export type FacilityMeterPeriod = z.infer<typeof FacilityMeterPeriodSchema>;

/** A quantity shown next to a KPI. */
export const KpiInputSchema = z.object({ name: z.string(), value: z.number(), unit: z.string() });
export type KpiInput = z.infer<typeof KpiInputSchema>;

/** One EED indicator with its formula and the inputs it was computed from. */
export const EedKpiSchema = z.object({
  name: z.enum(['PUE', 'REF', 'ERF', 'WUE']),
  title: z.string(),
  /** null when the denominator is 0. */
  value: z.number().nullable(),
  unit: z.string(),
  formula: z.string(),
  numerator: KpiInputSchema,
  denominator: KpiInputSchema,
});
export type EedKpi = z.infer<typeof EedKpiSchema>;

/** EU Energy Efficiency Directive KPIs over the meter periods that lie in the report period. */
export const EedReportSchema = z.object({
  regulation: z.string(),
  /** Meter periods used (wholly inside the report period). */
  periods: z.array(FacilityMeterPeriodSchema),
  /** Meter periods that overlap the report period only in part: left out, not pro-rated. */
  excluded: z.array(FacilityMeterPeriodSchema),
  /** ICT energy over the periods used: measured IT energy (`ictMeasuredKwh`) plus modelled other (`ictModelledKwh`). */
  ictMeasuredKwh: z.number(),
  ictModelledKwh: z.number(),
  kpis: z.array(EedKpiSchema),
  notes: z.array(z.string()),
});
export type EedReport = z.infer<typeof EedReportSchema>;

/** `GET /api/v1/reports/energy?format=json` and `stroom report --format json`. */
export const EnergyReportSchema = z.object({
  kind: z.literal('stroom-energy-report'),
  /** Report schema version. */
  version: z.literal(1),
  title: z.string(),
  /** [fromTs, toTs) in ms, on whole UTC hours. */
  period: z.object({ fromTs: tsMs, toTs: tsMs }),
  by: ReportGroupBySchema,
  generatedTs: tsMs,
  rows: z.array(ReportRowSchema),
  totals: z.object({
    /** Sum over the rows. */
    jobs: ReportFiguresSchema,
    /** Energy no job was charged with (idle devices and their modelled share), with its footprint. */
    unallocated: ReportFiguresSchema,
    /** jobs + unallocated: everything the nodes drew. */
    cluster: ReportFiguresSchema,
  }),
  method: z.object({ summary: z.string(), columns: z.array(ReportColumnSchema) }),
  factors: z.array(FactorUseSchema),
  coverage: ReportCoverageSchema,
  /** null when no facility meter data covers the period. */
  eed: EedReportSchema.nullable(),
  warnings: z.array(z.string()),
});
export type EnergyReport = z.infer<typeof EnergyReportSchema>;
