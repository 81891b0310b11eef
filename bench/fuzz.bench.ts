/**
 * Hostile-input fuzzing (issue 7): 100,000 cases per parser (`FUZZ_CASES` to change, `FUZZ_SEED`
 * to vary) through the protocol decoder and the nvidia-smi CSV, nvidia-smi XML, RAPL, Slurm and
 * intensity-CSV parsers, with the mutators and properties the fuzz tests use. Per parser it
 * prints: cases, crashes (an unexpected exception, or output the wire would refuse), hangs
 * (a case over 1 s), rejections whose reason is empty or generic, the slowest case, and
 * parser throughput against a baseline over the same inputs in the same run: `JSON.parse` for
 * the protocol, splitting into lines and cells for the text formats (the least any line
 * parser does).
 *
 * Each parser runs in a worker thread; the main thread is the watchdog. A synchronous parser
 * that never returns cannot be interrupted from inside, so a case running past 10 s gets its
 * worker terminated, is counted as a hang, and the run goes on from the next case.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import fc from 'fast-check';

const CASES = Number(process.env['FUZZ_CASES'] ?? 100_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 1);
const HANG_MS = 1000;
const KILL_MS = 10_000;
const CHUNK = 500;
const TARGETS = ['protocol', 'nvidia-smi CSV', 'nvidia-smi XML', 'RAPL', 'Slurm', 'intensity CSV'] as const;
type TargetName = (typeof TARGETS)[number];

/** Cumulative figures of one target (summed over worker restarts). */
interface Stats {
  cases: number;
  crashes: number;
  hangs: number;
  rejected: number;
  generic: number;
  parseNs: number;
  baselineNs: number;
  bytes: number;
  slowestMs: number;
  slowestCase: string;
  examples: string[];
}

const emptyStats = (): Stats => ({ cases: 0, crashes: 0, hangs: 0, rejected: 0, generic: 0, parseNs: 0, baselineNs: 0, bytes: 0, slowestMs: 0, slowestCase: '', examples: [] });

interface WorkerInput {
  readonly target: TargetName;
  readonly from: number;
  readonly to: number;
  /** [0]: index of the case running now; [1]: its start, ms since the worker's time origin plus `originMs`. */
  readonly progress: SharedArrayBuffer;
}

// ---------------------------------------------------------------------------------------------
// worker: runs cases [from, to) of one target

/** One prepared case: its input, a short description for the report, and how to judge it. */
interface Prepared {
  readonly input: string;
  readonly describe: () => string;
  readonly run: () => unknown;
  /** Problems with the result: crashes (a bug) and reasons that do not say why. */
  readonly judge: (result: unknown) => { crash?: string; generic: number; rejected: boolean };
  readonly baseline: () => unknown;
}

const splitBaseline = (input: string) => (): unknown => input.split(/\r?\n/).map((l) => l.split(','));

async function preparer(target: TargetName): Promise<{ arb: fc.Arbitrary<unknown>; prepare: (c: unknown) => Prepared; cleanup: () => Promise<void> }> {
  if (target === 'protocol') {
    const p = await import('../protocol/test/arbitraries.js');
    return {
      arb: p.protocolCaseArb as fc.Arbitrary<unknown>,
      prepare(raw) {
        const c = raw as import('../protocol/test/arbitraries.js').ProtocolCase;
        const edited = p.protocolCaseInput(c);
        return {
          input: edited.text,
          describe: () => JSON.stringify({ kind: c.valid.kind, edit: c.edit }).slice(0, 300),
          run: () => p.DECODERS[c.valid.kind](edited.text),
          judge(result) {
            const problems = p.checkDecoded(c, edited, result as Parameters<typeof p.checkDecoded>[2]);
            const generic = problems.filter((x) => x.startsWith('rejection does not say')).length;
            const crash = problems.find((x) => !x.startsWith('rejection does not say'));
            return { ...(crash === undefined ? {} : { crash }), generic, rejected: !(result as { ok: boolean }).ok };
          },
          baseline: () => {
            try {
              return JSON.parse(edited.text) as unknown;
            } catch {
              return undefined;
            }
          },
        };
      },
      cleanup: async () => undefined,
    };
  }
  const m = await import('../agent/test/fuzz/mutators.js');
  const t = await import('../agent/test/fuzz/targets.js');
  let target_: import('../agent/test/fuzz/targets.js').FuzzTarget;
  let cleanup = async (): Promise<void> => undefined;
  if (target === 'nvidia-smi CSV') target_ = t.nvidiaSmiCsvTarget();
  else if (target === 'nvidia-smi XML') target_ = t.nvidiaSmiXmlTarget();
  else if (target === 'Slurm') target_ = t.slurmTarget();
  else if (target === 'RAPL') {
    const rapl = await t.raplTarget();
    target_ = rapl.target;
    cleanup = async () => {
      for (const root of rapl.roots) await rm(root, { recursive: true, force: true });
    };
  } else target_ = await intensityTarget(m);
  const tt = target_;
  return {
    arb: m.fuzzCaseArb(tt.corpus.length) as fc.Arbitrary<unknown>,
    prepare(raw) {
      const c = raw as import('../agent/test/fuzz/mutators.js').FuzzCase;
      const input = m.caseInput(tt.corpus, c);
      return {
        input,
        describe: () => JSON.stringify({ fixture: c.fixture, plan: c.plan }).slice(0, 300),
        run: () => tt.run(input, c.fixture),
        judge(result) {
          const outcome = result as import('../agent/test/fuzz/mutators.js').Outcome;
          const problems = m.problemsOf(outcome);
          return {
            ...(outcome.kind === 'crash' ? { crash: outcome.error } : {}),
            generic: outcome.kind === 'crash' ? 0 : problems.length,
            rejected: outcome.kind === 'rejected',
          };
        },
        baseline: splitBaseline(input),
      };
    },
    cleanup,
  };
}

/** The intensity CSV parser as a target, over the project's series files (as its fuzz test). */
async function intensityTarget(m: typeof import('../agent/test/fuzz/mutators.js')): Promise<import('../agent/test/fuzz/targets.js').FuzzTarget> {
  const { parseHourlySeriesCsv, seriesFactorFromCsv } = await import('../collector/src/accounting/intensity-csv.js');
  const data = (name: string): string => readFileSync(new URL(`../collector/data/${name}`, import.meta.url), 'utf8');
  const example = /```csv\n([\s\S]*?)```/.exec(data('README.md'))?.[1] ?? '';
  return {
    name: 'intensity CSV',
    corpus: [data('grid-intensity-template.csv'), example, example.replace(/\n[^\n]*\n$/, '\n')],
    run(input) {
      try {
        const csv = parseHourlySeriesCsv(input, 'fuzz.csv');
        let prev = -Infinity;
        for (const p of csv.points) {
          if (!(Number.isFinite(p.value) && p.value >= 0 && Number.isSafeInteger(p.fromTs) && p.fromTs <= 8.64e15 && p.fromTs % 3_600_000 === 0 && p.fromTs > prev)) {
            return { kind: 'crash', error: `accepted an unusable point ${JSON.stringify(p)}` };
          }
          prev = p.fromTs;
        }
        seriesFactorFromCsv(csv, { unit: 'gCO2e/kWh' });
        return { kind: 'accepted', reasons: [] };
      } catch (err) {
        const o = m.thrownOutcome(err, true);
        return o.kind === 'rejected' && !o.reasons.every((r) => r.startsWith('fuzz.csv')) ? { kind: 'crash', error: `error does not name the file: ${o.reasons[0]}` } : o;
      }
    },
  };
}

async function workerMain(input: WorkerInput): Promise<void> {
  const progress = new Float64Array(input.progress);
  const { arb, prepare, cleanup } = await preparer(input.target);
  const stats = emptyStats();
  const firstChunk = Math.floor(input.from / CHUNK);
  for (let chunk = firstChunk; chunk * CHUNK < input.to; chunk++) {
    // Chunk k is always the same cases for a seed, so a restart after a hang resumes exactly.
    const cases = fc.sample(arb, { numRuns: CHUNK, seed: SEED * 1_000_003 + chunk });
    for (let k = 0; k < CHUNK; k++) {
      const index = chunk * CHUNK + k;
      if (index < input.from || index >= input.to) continue;
      const p = prepare(cases[k]);
      progress[0] = index;
      progress[1] = performance.timeOrigin + performance.now();
      const t0 = process.hrtime.bigint();
      let result: unknown;
      let thrown: unknown;
      let threw = false;
      try {
        result = await p.run();
      } catch (err) {
        threw = true;
        thrown = err;
      }
      const ns = Number(process.hrtime.bigint() - t0);
      progress[1] = 0;
      const b0 = process.hrtime.bigint();
      p.baseline();
      stats.baselineNs += Number(process.hrtime.bigint() - b0);
      stats.parseNs += ns;
      stats.cases += 1;
      stats.bytes += p.input.length;
      if (ns / 1e6 > stats.slowestMs) {
        stats.slowestMs = ns / 1e6;
        stats.slowestCase = `#${index} (${p.input.length} chars) ${p.describe()}`;
      }
      if (ns / 1e6 > HANG_MS) stats.hangs += 1;
      const verdict = threw ? { crash: `threw ${thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)}`, generic: 0, rejected: false } : p.judge(result);
      if (verdict.crash !== undefined) {
        stats.crashes += 1;
        if (stats.examples.length < 3) stats.examples.push(`#${index}: ${verdict.crash.slice(0, 200)} <- ${p.describe()}`);
      }
      stats.generic += verdict.generic;
      if (verdict.rejected) stats.rejected += 1;
    }
    parentPort?.postMessage({ stats });
  }
  await cleanup();
  parentPort?.postMessage({ stats, done: true });
}

// ---------------------------------------------------------------------------------------------
// main: one worker per target, watched

/** Runs cases [from, to) in a worker; resolves with its figures, or with the case it hung on. */
function runWorker(target: TargetName, from: number, to: number): Promise<{ stats: Stats; hungAt?: number }> {
  const progress = new SharedArrayBuffer(16);
  const view = new Float64Array(progress);
  view[0] = from;
  // Node 20 does not carry tsx's loader into workers: the worker registers it, then loads this file.
  const boot = `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(import.meta.url)}); });`;
  const worker = new Worker(boot, { eval: true, workerData: { target, from, to, progress } satisfies WorkerInput });
  let stats = emptyStats();
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const started = view[1] ?? 0;
      if (started > 0 && Date.now() - started > KILL_MS) {
        clearInterval(timer);
        const hungAt = view[0] ?? from;
        void worker.terminate().then(() => resolve({ stats, hungAt }));
      }
    }, 100);
    worker.on('message', (msg: { stats: Stats; done?: boolean }) => {
      stats = msg.stats;
      if (msg.done === true) {
        clearInterval(timer);
        void worker.terminate().then(() => resolve({ stats }));
      }
    });
    worker.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
  });
}

function add(a: Stats, b: Stats): Stats {
  const slowest = b.slowestMs > a.slowestMs ? b : a;
  return {
    cases: a.cases + b.cases,
    crashes: a.crashes + b.crashes,
    hangs: a.hangs + b.hangs,
    rejected: a.rejected + b.rejected,
    generic: a.generic + b.generic,
    parseNs: a.parseNs + b.parseNs,
    baselineNs: a.baselineNs + b.baselineNs,
    bytes: a.bytes + b.bytes,
    slowestMs: slowest.slowestMs,
    slowestCase: slowest.slowestCase,
    examples: [...a.examples, ...b.examples].slice(0, 3),
  };
}

async function main(): Promise<void> {
  const only = process.env['FUZZ_TARGETS']?.split(',').map((s) => s.trim());
  const rows: string[][] = [];
  const notes: string[] = [];
  let bad = false;
  console.log(`fuzz: ${CASES.toLocaleString('en')} cases per parser, seed ${SEED}, hang = a case over ${HANG_MS} ms (a worker is killed after ${KILL_MS / 1000} s)`);
  for (const target of TARGETS) {
    if (only !== undefined && !only.includes(target)) continue;
    const wall0 = Date.now();
    let total = emptyStats();
    let from = 0;
    for (;;) {
      const { stats, hungAt } = await runWorker(target, from, CASES);
      total = add(total, stats);
      if (hungAt === undefined) break;
      total.cases += 1;
      total.hangs += 1;
      total.crashes += 0;
      total.slowestMs = Math.max(total.slowestMs, KILL_MS);
      total.slowestCase = `#${hungAt}: killed after ${KILL_MS / 1000} s`;
      if (total.examples.length < 3) total.examples.push(`#${hungAt}: hang, worker killed after ${KILL_MS / 1000} s`);
      from = hungAt + 1;
    }
    const perS = total.cases / (total.parseNs / 1e9);
    const basePerS = total.cases / (total.baselineNs / 1e9);
    rows.push([
      target,
      total.cases.toLocaleString('en'),
      String(total.crashes),
      String(total.hangs),
      String(total.generic),
      `${total.rejected.toLocaleString('en')}`,
      `${total.slowestMs.toFixed(1)} ms`,
      Math.round(perS).toLocaleString('en'),
      Math.round(basePerS).toLocaleString('en'),
      `${(basePerS / perS).toFixed(1)}x`,
      `${Math.round((Date.now() - wall0) / 1000)} s`,
    ]);
    notes.push(`${target}: mean input ${Math.round(total.bytes / Math.max(1, total.cases)).toLocaleString('en')} chars; slowest ${total.slowestCase}`);
    for (const e of total.examples) notes.push(`  ${target} problem ${e}`);
    if (total.crashes > 0 || total.hangs > 0 || total.generic > 0) bad = true;
  }
  const head = ['parser', 'cases', 'crashes', 'hangs >1 s', 'generic reasons', 'rejected', 'slowest case', 'cases/s', 'baseline cases/s', 'parser / baseline time', 'wall'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  console.log('baseline: JSON.parse of the same text (protocol); splitting the same text into lines and cells (the others)');
  for (const n of notes) console.log(n);
  if (bad) process.exitCode = 1;
}

if (isMainThread) await main();
else await workerMain(workerData as WorkerInput);
