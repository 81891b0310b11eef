/**
 * A/B of `EmbeddedStore.commit` between two checkouts, in one process, rounds interleaved so
 * that a shared machine's drift hits both alike: what a change to the commit path costs, which
 * the collector-ingest bench (whole collector, generator on the same cores) is too noisy to show.
 *
 *   npx tsx bench/ab-commit.ts DIR_A DIR_B      (checkout roots; `git worktree add` makes one)
 *
 * Load: commits of 26 batches (what the collector's 20 ms group commit gathers from 1000 nodes
 * at 1 Hz), each batch one node with 3 jobs (5 accounts, 8 users, one partition) and a 20-entry
 * ledger, as collector-ingest's generator makes them; 200 commits of warm-up, then 2000 timed,
 * into a fresh data directory per round. Prints µs per batch for each round (effects are built
 * inside the timed loop, alike for both).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BatchEffect, Store } from '../collector/src/store/store.js';

const [dirA, dirB] = process.argv.slice(2);
if (dirA === undefined || dirB === undefined) {
  console.error('usage: npx tsx bench/ab-commit.ts DIR_A DIR_B (two checkout roots)');
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 30, 10);
const ACCOUNTS = ['surf-llm', 'uva-vision', 'tud-cfd', 'rug-astro', 'knmi-climate'];
const USERS = ['u.devries', 'j.jansen', 'p.bakker', 'm.visser', 's.smit', 'k.meijer', 'a.mulder', 'l.bos'];

function effects(step: number): BatchEffect[] {
  const out: BatchEffect[] = [];
  for (let k = 0; k < 26; k++) {
    const n = (step * 26 + k) % 1000;
    const node = `gcn${String(n).padStart(4, '0')}`;
    const ts = T0 + Math.floor((step * 26 + k) / 1000) * 1000;
    const jobs = [0, 1, 2].map((j) => ({
      id: String(1_000_000 + n * 3 + j), user: USERS[(n + j) % USERS.length] as string, account: ACCOUNTS[(n + j) % ACCOUNTS.length] as string,
      partition: 'gpu', startTs: T0 - HOUR, gpus: [`GPU-${n}-${j}`], cpuCores: 8,
    }));
    out.push({
      node, ts,
      ledger: { node, epoch: 'e1', lastSeq: step, lastTs: ts, counters: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`d:GPU-${i}`, step * 1000 + i])) },
      nodeMj: { gpuMj: 1_500_000, cpuMj: 100_000, otherMj: 20_000 },
      idleMj: { gpuMj: 300_000, cpuMj: 10_000, otherMj: 5_000 },
      jobsMj: new Map(jobs.map((j) => [j.id, { gpuMj: 400_000, cpuMj: 30_000, otherMj: 5_000 }])),
      gpuSeconds: new Map(jobs.map((j) => [j.id, 1])),
      gpuUse: new Map(jobs.map((j) => [j.id, { utilS: 0.8, utilKnownS: 1, idleS: 0 }])),
      samples: [],
      jobs,
    });
  }
  return out;
}

type StoreClass = new (dataDir: string) => Store;
const load = async (root: string): Promise<StoreClass> =>
  ((await import(join(resolve(root), 'collector/src/store/embedded-store.ts'))) as { EmbeddedStore: StoreClass }).EmbeddedStore;
const trees: Array<[string, StoreClass]> = [['A', await load(dirA)], ['B', await load(dirB)]];
const perBatchUs: Record<string, number[]> = { A: [], B: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, EmbeddedStore] of trees) {
    const dir = mkdtempSync(join(tmpdir(), 'stroom-ab-commit-'));
    const store = new EmbeddedStore(dir);
    for (let i = 0; i < 200; i++) store.commit(effects(i));
    const commits = 2000;
    const t = performance.now();
    for (let i = 200; i < 200 + commits; i++) store.commit(effects(i));
    perBatchUs[name]?.push(((performance.now() - t) * 1000) / (commits * 26));
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
const show = (xs: number[] = []): string => xs.map((x) => x.toFixed(1)).join(' ');
const median = (xs: number[] = []): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
console.log(`µs per batch, ${ROUNDS} rounds: A (${dirA}) ${show(perBatchUs.A)} | B (${dirB}) ${show(perBatchUs.B)}`);
console.log(`median A ${median(perBatchUs.A).toFixed(1)} µs, B ${median(perBatchUs.B).toFixed(1)} µs; ratio A / B ${(median(perBatchUs.A) / median(perBatchUs.B)).toFixed(2)}x`);
