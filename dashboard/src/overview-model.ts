/**
 * Pure texts of the operator overview's additions: grid headroom against the site's cap, the
 * footprint of today and this month, the factors in force and the nodes with problems. Every
 * number carries its unit.
 */
import type { LiveFactor, LivePeriod, LiveProblem } from '@stroom/protocol';
import { MISSING, formatEnergy, formatPercent, formatPower, sig3 } from './format.js';

/** Share of the grid cap at which the overview warns. */
export const HEADROOM_WARN_RATIO = 0.9;

export type HeadroomState = 'unconfigured' | 'ok' | 'warn' | 'over';

export interface Headroom {
  state: HeadroomState;
  /** Power / cap, null when no cap is configured. */
  ratio: number | null;
  value: string;
  unit: string;
  sub: string;
  /** A sentence for the alert region when warning or over, else null. */
  alert: string | null;
}

/** Cluster power against the grid-connection cap. */
export function headroom(powerW: number, capW: number | null): Headroom {
  if (capW === null || !(capW > 0)) {
    return { state: 'unconfigured', ratio: null, value: MISSING, unit: '', sub: 'grid cap not configured (--grid-cap-kw)', alert: null };
  }
  const ratio = powerW / capW;
  const state: HeadroomState = ratio >= 1 ? 'over' : ratio >= HEADROOM_WARN_RATIO ? 'warn' : 'ok';
  const left = capW - powerW;
  const sub = left >= 0 ? `${formatPower(left)} left of ${formatPower(capW)}` : `${formatPower(-left)} over ${formatPower(capW)}`;
  const alert =
    state === 'over'
      ? `Cluster power ${formatPower(powerW)} is over the grid-connection cap of ${formatPower(capW)} (${formatPercent(ratio)}).`
      : state === 'warn'
        ? `Cluster power ${formatPower(powerW)} is at ${formatPercent(ratio)} of the grid-connection cap (${formatPower(capW)}); the warning band starts at ${formatPercent(HEADROOM_WARN_RATIO)}.`
        : null;
  return { state, ratio, value: String(Math.round(ratio * 100)), unit: '% of cap', sub, alert };
}

/** CO2e from grams: g below 1 kg, kg below 1 t, t above. */
export function formatCo2e(g: number | null | undefined): string {
  if (typeof g !== 'number' || !Number.isFinite(g)) return MISSING;
  const a = Math.abs(g);
  if (a < 999.5) return `${sig3(g)} g CO2e`;
  if (a < 999_500) return `${sig3(g / 1e3)} kg CO2e`;
  return `${sig3(g / 1e6)} t CO2e`;
}

/** Euros: three significant digits below EUR 1 (a short job's cents still show), cents below EUR 1 000, whole euros above. */
export function formatEur(eur: number | null | undefined): string {
  if (typeof eur !== 'number' || !Number.isFinite(eur)) return MISSING;
  const a = Math.abs(eur);
  return a < 1 ? `EUR ${sig3(eur)}` : a < 1000 ? `EUR ${eur.toFixed(2)}` : `EUR ${sig3(eur)}`;
}

export interface PeriodTexts {
  energy: string;
  co2e: string;
  co2eMarket: string;
  cost: string;
}

/** Energy, CO2e (location-based, market-based) and cost of one period. */
export function periodTexts(p: LivePeriod): PeriodTexts {
  const f = p.footprint;
  return {
    energy: formatEnergy(p.energyJ),
    co2e: f === null ? MISSING : formatCo2e(f.co2eG.location),
    co2eMarket: f === null ? MISSING : formatCo2e(f.co2eG.market),
    cost: f === null ? MISSING : formatEur(f.costEur),
  };
}

const FACTOR_LABELS: Record<string, string> = {
  pue: 'PUE',
  gridIntensityLocation: 'Carbon intensity, location-based',
  gridIntensityMarket: 'Carbon intensity, market-based',
  priceEurPerKwh: 'Electricity price',
};

/** One line per factor in force: label, value with unit, quality and source. */
export function factorLines(factors: readonly LiveFactor[]): Array<{ label: string; value: string; quality: string; source: string }> {
  return factors.map((f) => ({
    label: FACTOR_LABELS[f.name] ?? f.name,
    value: f.unit === '1' ? sig3(f.value) : f.unit === 'EUR/kWh' ? `EUR ${f.value.toFixed(3)}/kWh` : `${sig3(f.value)} ${f.unit.replace('gCO2e', 'g CO2e')}`,
    quality: f.quality,
    source: f.source,
  }));
}

/** One line per node with a problem. */
export function problemLines(problems: readonly LiveProblem[]): Array<{ node: string; text: string; severity: 'down' | 'degraded' }> {
  return problems.map((p) => {
    const parts: string[] = [];
    if (!p.agentUp) parts.push('agent not reporting');
    for (const s of p.sources) parts.push(`${s.name} ${s.state}: ${s.reason}`);
    return { node: p.node, text: parts.join('; '), severity: p.agentUp ? 'degraded' : 'down' };
  });
}
