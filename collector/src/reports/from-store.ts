/** A report straight from a store: its aggregates, the factors, and the facility meter's periods. */
import type { EnergyReport, ReportGroupBy } from '@stroom/protocol';
import { jToKwh, mjToJ } from '@stroom/protocol';
import type { FootprintFactors } from '../accounting/factors.js';
import type { Store } from '../store/store.js';
import { buildEnergyReport } from './build.js';
import type { FacilityMeter } from './facility-meter.js';

/** Builds the report for [fromTs, toTs) at `generatedTs` (default now). */
export function energyReportFromStore(o: {
  readonly store: Store;
  readonly factors: FootprintFactors;
  readonly by: ReportGroupBy;
  readonly fromTs: number;
  readonly toTs: number;
  readonly meter?: FacilityMeter | undefined;
  readonly generatedTs?: number;
}): EnergyReport {
  const { store } = o;
  const periods = o.meter?.periods() ?? [];
  return buildEnergyReport({
    by: o.by,
    fromTs: o.fromTs,
    toTs: o.toTs,
    generatedTs: o.generatedTs ?? Date.now(),
    data: store.energyReport(o.by, o.fromTs, o.toTs),
    factors: o.factors,
    ...(periods.length === 0 ? {} : {
      meter: {
        periods,
        // All nodes' energy, not only jobs': the facility meter sees idle nodes draw too.
        ictOf: (fromTs: number, toTs: number) => {
          let deviceMj = 0;
          let otherMj = 0;
          for (const n of store.nodeBalance(fromTs, toTs)) {
            deviceMj += n.deviceMj;
            otherMj += n.otherMj;
          }
          return { measuredKwh: jToKwh(mjToJ(deviceMj - otherMj)), modelledKwh: jToKwh(mjToJ(otherMj)) };
        },
      },
    }),
  });
}
