/**
 * How close the agent's energy is to the truth on a bursty training load, by how it is
 * measured: the GPU's hardware energy counter (what the agent uses where NVML has one), the
 * trapezoid of 1 s power samples (the nvidia-smi fallback), against the baseline of a 15 s
 * scrape of instantaneous power (a common exporter + Prometheus set-up). Simulated H100 node,
 * one simulated hour, ground truth from the simulator's 20 ms integral.
 */
import { Meter } from '../agent/src/energy/meter.js';
import { SimulatedNode } from '../agent/src/sources/simulated.js';

const HOUR_MS = 3_600_000;
const T0 = Date.UTC(2026, 10, 30, 9, 0);

async function run(seed: number): Promise<{ counter: number; trapezoid1s: number; scrape15s: number }> {
  // A long time scale keeps one job on the node for most of the hour: a steady training load.
  const sim = new SimulatedNode({ node: 'bench', nodeOrdinal: 1, gpus: 4, seed, timeScale: 1200 });
  const inv = await sim.probe();
  const counter = new Meter({ intervalMs: 1000, cpus: inv.cpus });
  const trapezoid = new Meter({ intervalMs: 1000, cpus: inv.cpus });
  const scrape = new Meter({ intervalMs: 15_000, cpus: inv.cpus });
  for (let ms = 0; ms <= HOUR_MS; ms += 1000) {
    const tick = { ts: T0 + ms, monoMs: ms };
    const jobs = await sim.jobs.read(tick);
    const r = await sim.read(tick);
    counter.update(tick, { gpus: r.gpus, cpus: [] }, jobs);
    const powerOnly = { gpus: r.gpus.map(({ uuid, powerW }) => (powerW === undefined ? { uuid } : { uuid, powerW })), cpus: [] };
    trapezoid.update(tick, powerOnly, jobs);
    if (ms % 15_000 === 0) scrape.update(tick, powerOnly, jobs);
  }
  const truthMj = inv.gpus.reduce((sum, g) => sum + (sim.truth().devicesMj[g.uuid] ?? 0), 0);
  const total = (m: Meter): number => m.snapshot().devices.reduce((s, d) => s + d.energyMj, 0);
  const err = (m: Meter): number => Math.abs(total(m) - truthMj) / truthMj;
  return { counter: err(counter), trapezoid1s: err(trapezoid), scrape15s: err(scrape) };
}

const seeds = [1, 2, 3, 4, 5];
const rows: Array<Awaited<ReturnType<typeof run>>> = [];
for (const seed of seeds) rows.push(await run(seed));
const mean = (k: 'counter' | 'trapezoid1s' | 'scrape15s'): number => rows.reduce((s, r) => s + r[k], 0) / rows.length;
const pct = (x: number): string => `${(x * 100).toFixed(3)} %`;
console.log(`GPU energy error vs truth, 4 x H100 simulated, 1 h, ${seeds.length} seeds (mean |error|):`);
console.log(`  hardware energy counter (NVML path):      ${pct(mean('counter'))}`);
console.log(`  trapezoid of 1 s power (nvidia-smi path): ${pct(mean('trapezoid1s'))}`);
console.log(`  baseline: 15 s scrape of instant power:   ${pct(mean('scrape15s'))}`);
console.log(`  ratio baseline / 1 s trapezoid error:     ${(mean('scrape15s') / Math.max(mean('trapezoid1s'), 1e-9)).toFixed(1)}x`);
