/**
 * EU Energy Efficiency Directive KPIs (Directive (EU) 2023/1791, Article 12) as Commission
 * Delegated Regulation (EU) 2024/1364 defines the data centre sustainability indicators:
 *
 *   PUE = total data centre energy consumption / ICT equipment energy consumption    (EN 50600-4-2)
 *   REF = renewable energy consumption / total data centre energy consumption         (EN 50600-4-3)
 *   ERF = reused energy / total data centre energy consumption                         (EN 50600-4-6)
 *   WUE = total water input in litres / ICT equipment energy consumption in kWh        (EN 50600-4-9)
 *
 * Pure: figures in, KPIs with their inputs out. The facility figures come from the operator's
 * meters; ICT energy is what stroom measured (GPU, CPU/DRAM) plus its modelled base power of
 * the nodes (fans, NICs, disks), over the same meter periods.
 */
import type { EedKpi, EedReport, FacilityMeterPeriod } from '@stroom/protocol';

/** Litres in a cubic metre: meters and invoices give m3, WUE is in L/kWh. */
export const L_PER_M3 = 1000;

export const EED_REGULATION =
  'Commission Delegated Regulation (EU) 2024/1364 of 14 March 2024 (first phase of a common Union rating scheme for data centres, ' +
  'under Directive (EU) 2023/1791 Art. 12): data centre sustainability indicators PUE, WUE, ERF and REF';

/** The inputs of the four KPIs, over one set of periods. Energy in kWh, water in litres. */
export interface EedInputs {
  readonly totalFacilityKwh: number;
  readonly ictKwh: number;
  readonly renewableKwh: number;
  readonly reusedKwh: number;
  readonly waterL: number;
}

function ratio(a: number, b: number): number | null {
  return b === 0 ? null : a / b;
}

/** PUE, REF, ERF and WUE from their inputs; a KPI whose denominator is 0 is null. */
export function eedKpis(i: EedInputs): EedKpi[] {
  const total = { name: 'total data centre energy consumption', value: i.totalFacilityKwh, unit: 'kWh' };
  const ict = { name: 'ICT equipment energy consumption', value: i.ictKwh, unit: 'kWh' };
  return [
    { name: 'PUE', title: 'power usage effectiveness', value: ratio(i.totalFacilityKwh, i.ictKwh), unit: '1', formula: 'PUE = E_DC / E_ICT', numerator: total, denominator: ict },
    { name: 'REF', title: 'renewable energy factor', value: ratio(i.renewableKwh, i.totalFacilityKwh), unit: '1', formula: 'REF = E_renewable / E_DC', numerator: { name: 'renewable energy consumption', value: i.renewableKwh, unit: 'kWh' }, denominator: total },
    { name: 'ERF', title: 'energy reuse factor', value: ratio(i.reusedKwh, i.totalFacilityKwh), unit: '1', formula: 'ERF = E_reused / E_DC', numerator: { name: 'reused energy', value: i.reusedKwh, unit: 'kWh' }, denominator: total },
    { name: 'WUE', title: 'water usage effectiveness', value: ratio(i.waterL, i.ictKwh), unit: 'L/kWh', formula: 'WUE = W_in [L] / E_ICT [kWh]', numerator: { name: 'total water input', value: i.waterL, unit: 'L' }, denominator: ict },
  ];
}

/** ICT energy of one period, kWh: measured (GPU, CPU, DRAM) and modelled (base power of the nodes). */
export interface IctEnergy {
  readonly measuredKwh: number;
  readonly modelledKwh: number;
}

/**
 * The EED section of a report over [fromTs, toTs): meter periods wholly inside it are summed
 * (one that only overlaps is listed as excluded, never pro-rated: a meter reading says nothing
 * about how its energy was spread); null when no period overlaps.
 */
export function eedReport(periods: readonly FacilityMeterPeriod[], fromTs: number, toTs: number, ictOf: (fromTs: number, toTs: number) => IctEnergy): EedReport | null {
  const overlapping = periods.filter((p) => p.fromTs < toTs && p.toTs > fromTs).sort((a, b) => a.fromTs - b.fromTs);
  if (overlapping.length === 0) return null;
  const used = overlapping.filter((p) => p.fromTs >= fromTs && p.toTs <= toTs);
  const excluded = overlapping.filter((p) => !used.includes(p));
  let measured = 0;
  let modelled = 0;
  let total = 0;
  let renewable = 0;
  let reused = 0;
  let waterM3 = 0;
  for (const p of used) {
    const ict = ictOf(p.fromTs, p.toTs);
    measured += ict.measuredKwh;
    modelled += ict.modelledKwh;
    total += p.totalFacilityKwh;
    renewable += p.renewableKwh;
    reused += p.reusedKwh;
    waterM3 += p.waterM3;
  }
  const notes = [
    'ICT energy is the IT energy stroom measured on the nodes (GPU and CPU/DRAM counters) plus the modelled base power of the nodes ' +
      '(fans, NICs, disks; configured with --base-power) over the same meter periods; equipment stroom does not see (storage, network, ' +
      'login nodes) is not in it, which makes PUE high and WUE high compared with a meter on all ICT equipment.',
    `Water input is supplied in m3 and converted at ${L_PER_M3} L/m3.`,
    'Facility energy, renewable energy, reused energy and water are as supplied by the operator (see each period\'s source).',
  ];
  if (excluded.length > 0) notes.push(`${excluded.length} meter period(s) overlap the report period only in part and are left out (not pro-rated).`);
  if (used.length === 0) notes.push('No meter period lies wholly inside the report period: no KPI is computed.');
  return {
    regulation: EED_REGULATION,
    periods: used,
    excluded,
    ictMeasuredKwh: measured,
    ictModelledKwh: modelled,
    kpis: used.length === 0 ? [] : eedKpis({ totalFacilityKwh: total, ictKwh: measured + modelled, renewableKwh: renewable, reusedKwh: reused, waterL: waterM3 * L_PER_M3 }),
    notes,
  };
}
