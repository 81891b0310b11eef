/**
 * Per-GPU gauge series in fixed buckets: sums and counts (so buckets merge exactly, whether
 * a late sample arrives or 10 s buckets are rolled up into minutes) and the maximum
 * temperature. One bucket holds all GPUs of one node, so a node costs one row per bucket,
 * not one per GPU.
 */
import type { Sample } from '@stroom/protocol';

/** What one node's GPUs showed over one bucket; arrays are by position in `uuids`. */
export interface GpuBucket {
  readonly node: string;
  readonly bucketTs: number;
  readonly bucketMs: number;
  readonly uuids: string[];
  readonly powerSumW: number[];
  readonly powerN: number[];
  readonly utilSum: number[];
  readonly utilN: number[];
  /** Highest temperature seen, °C; null when none was reported. */
  readonly tempMaxC: Array<number | null>;
}

/** An empty bucket. */
export function emptyGpuBucket(node: string, bucketTs: number, bucketMs: number): GpuBucket {
  return { node, bucketTs, bucketMs, uuids: [], powerSumW: [], powerN: [], utilSum: [], utilN: [], tempMaxC: [] };
}

function slot(b: GpuBucket, uuid: string): number {
  let i = b.uuids.indexOf(uuid);
  if (i < 0) {
    i = b.uuids.push(uuid) - 1;
    b.powerSumW.push(0);
    b.powerN.push(0);
    b.utilSum.push(0);
    b.utilN.push(0);
    b.tempMaxC.push(null);
  }
  return i;
}

/** Add one sample's GPU gauges to the bucket. */
export function addSample(b: GpuBucket, sample: Sample): void {
  for (const g of sample.gpus) {
    const i = slot(b, g.uuid);
    if (g.powerW !== undefined) {
      b.powerSumW[i] = (b.powerSumW[i] ?? 0) + g.powerW;
      b.powerN[i] = (b.powerN[i] ?? 0) + 1;
    }
    if (g.utilRatio !== undefined) {
      b.utilSum[i] = (b.utilSum[i] ?? 0) + g.utilRatio;
      b.utilN[i] = (b.utilN[i] ?? 0) + 1;
    }
    if (g.tempC !== undefined) b.tempMaxC[i] = Math.max(b.tempMaxC[i] ?? -Infinity, g.tempC);
  }
}

/** Add bucket `from` (same node, any bucket) into `into`. */
export function mergeGpuBucket(into: GpuBucket, from: GpuBucket): void {
  from.uuids.forEach((uuid, j) => {
    const i = slot(into, uuid);
    into.powerSumW[i] = (into.powerSumW[i] ?? 0) + (from.powerSumW[j] ?? 0);
    into.powerN[i] = (into.powerN[i] ?? 0) + (from.powerN[j] ?? 0);
    into.utilSum[i] = (into.utilSum[i] ?? 0) + (from.utilSum[j] ?? 0);
    into.utilN[i] = (into.utilN[i] ?? 0) + (from.utilN[j] ?? 0);
    const t = from.tempMaxC[j] ?? null;
    if (t !== null) into.tempMaxC[i] = Math.max(into.tempMaxC[i] ?? -Infinity, t);
  });
}

/** The bucket as stored (compact JSON without the key columns). */
export function encodeGpuBucket(b: GpuBucket): string {
  return JSON.stringify({ u: b.uuids, ps: b.powerSumW, pn: b.powerN, us: b.utilSum, un: b.utilN, t: b.tempMaxC });
}

/** A stored bucket back; the key columns come from the row. */
export function decodeGpuBucket(node: string, bucketTs: number, bucketMs: number, text: string): GpuBucket {
  const d = JSON.parse(text) as { u: string[]; ps: number[]; pn: number[]; us: number[]; un: number[]; t: Array<number | null> };
  return { node, bucketTs, bucketMs, uuids: d.u, powerSumW: d.ps, powerN: d.pn, utilSum: d.us, utilN: d.un, tempMaxC: d.t };
}

/** Mean power of GPU `i` over the bucket, W; null when it reported none. */
export function meanPowerW(b: GpuBucket, i: number): number | null {
  const n = b.powerN[i] ?? 0;
  return n > 0 ? (b.powerSumW[i] ?? 0) / n : null;
}

/** Mean utilisation of GPU `i` over the bucket, 0..1; null when it reported none. */
export function meanUtilRatio(b: GpuBucket, i: number): number | null {
  const n = b.utilN[i] ?? 0;
  return n > 0 ? (b.utilSum[i] ?? 0) / n : null;
}
