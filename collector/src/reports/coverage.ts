/**
 * Data coverage of a report: how much of the node-time in the period has measurements, and
 * where the holes are. Pure: the store's measured runs per node in, counts and gaps out.
 */
import type { CoverageGap, ReportCoverage } from '@stroom/protocol';
import { MS_PER_HOUR, hourStartMs } from '../accounting/time-series.js';
import type { NodeCoverage } from '../store/store.js';

/** How coverage is counted, as the report states it. */
export const COVERAGE_METHOD =
  'A node-hour is measured when the collector committed at least one batch from that node in that UTC hour. ' +
  "A node is expected from the later of the period start and the first hour it was seen (energy books or inventory) " +
  'until the earlier of the period end and the end of the hour the report was made in; a node that left the cluster ' +
  'therefore shows as a gap until the period end. Energy counters are cumulative, so a short gap inside one agent run ' +
  "loses no energy (it is counted in the hour of the next batch); a gap across an agent or node restart loses the energy of the gap.";

/** Coverage of [fromTs, toTs) (whole UTC hours) for the nodes given, as seen at `generatedTs`. */
export function reportCoverage(nodes: readonly NodeCoverage[], fromTs: number, toTs: number, generatedTs: number): ReportCoverage {
  const end = Math.min(toTs, hourStartMs(generatedTs) + MS_PER_HOUR);
  let expected = 0;
  let measured = 0;
  const gaps: CoverageGap[] = [];
  for (const n of nodes) {
    const start = Math.max(fromTs, n.firstSeenTs ?? fromTs);
    if (start >= end) continue;
    expected += (end - start) / MS_PER_HOUR;
    let at = start;
    const gap = (toTs: number): void => {
      if (toTs > at) gaps.push({ node: n.node, fromTs: at, toTs, hours: (toTs - at) / MS_PER_HOUR });
    };
    for (const run of [...n.measured].sort((a, b) => a.fromTs - b.fromTs)) {
      const runFrom = Math.max(run.fromTs, start);
      const runTo = Math.min(run.toTs, end);
      if (runTo <= runFrom) continue;
      gap(runFrom);
      measured += (runTo - runFrom) / MS_PER_HOUR;
      at = Math.max(at, runTo);
    }
    gap(end);
  }
  return {
    nodes: nodes.length,
    expectedNodeHours: expected,
    measuredNodeHours: measured,
    share: expected === 0 ? null : measured / expected,
    gaps,
    method: COVERAGE_METHOD,
  };
}
