/**
 * The agent's own cost on a fake 8-GPU node at 1 Hz: CPU (% of one core) and RSS of the agent
 * process (`stroom agent --gpu nvidia-smi`, streaming to a real collector), against the
 * baseline of the approach the design first named (node-nvidia-smi): spawn `nvidia-smi -q -x`
 * once a second and parse the XML, against the same fake binary, in the same run. CPU is given
 * twice: the process alone, and with its nvidia-smi children (the fake is a Node script, so a
 * child costs more here than a real nvidia-smi start would; the process-only figure is the
 * one that does not depend on that).
 *
 * BENCH_SECONDS (default 60) sets each side's duration; BENCH_SECONDS=600 is the memory soak.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 60);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIX = join(ROOT, 'agent/test/fixtures/nvidia-smi');
const FAKE = join(ROOT, 'agent/test/bin/fake-nvidia-smi');
const CLI = join(ROOT, 'cli/dist/src/main.js');
const CLK_TCK = 100;

/** An 8-GPU `-q -x` made from the real 2 x RTX A5000 capture: its <gpu> blocks four times, renamed. */
function eightGpuXml(): string {
  const xml = readFileSync(join(FIX, 'linux-x86_64__nvidia-rtx-a5000-x2__590.44.01__load.xml'), 'utf8');
  const start = xml.indexOf('<gpu id=');
  const end = xml.lastIndexOf('</gpu>') + '</gpu>'.length;
  const blocks = xml.slice(start, end);
  let copies = '';
  for (let k = 0; k < 4; k++) {
    // Only the UUIDs need to differ: the agent keys GPUs by UUID.
    copies += blocks.replace(/GPU-([0-9a-f]{7})[0-9a-f]-/g, (_m, h: string) => `GPU-${h}${k}-`);
  }
  return xml.slice(0, start) + copies + xml.slice(end);
}

function statFields(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  } catch {
    return [];
  }
}

/** utime + stime of the process itself. */
function cpuTicks(pid: number): number {
  const f = statFields(pid);
  return Number(f[11] ?? 0) + Number(f[12] ?? 0);
}

/** CPU of the process, its reaped children (cutime + cstime) and its live children. */
function treeTicks(pid: number): number {
  const f = statFields(pid);
  let sum = Number(f[11] ?? 0) + Number(f[12] ?? 0) + Number(f[13] ?? 0) + Number(f[14] ?? 0);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const c = statFields(Number(entry));
    if (Number(c[1]) === pid) sum += treeTicks(Number(entry));
  }
  return sum;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** CPU % of one core and RSS samples of `pid` over `seconds`, after a warm-up. */
async function measure(pid: number, seconds: number): Promise<{ cpuPct: number; treePct: number; rssMiB: number[] }> {
  await new Promise((r) => setTimeout(r, 5000));
  const t0 = cpuTicks(pid);
  const tree0 = treeTicks(pid);
  const w0 = performance.now();
  const rss: number[] = [];
  for (let s = 0; s < seconds; s += 5) {
    await new Promise((r) => setTimeout(r, 5000));
    rss.push(rssBytes(pid) / 1048576);
  }
  const cpuS = (cpuTicks(pid) - t0) / CLK_TCK;
  const treeS = (treeTicks(pid) - tree0) / CLK_TCK;
  const wallS = (performance.now() - w0) / 1000;
  return { cpuPct: (100 * cpuS) / wallS, treePct: (100 * treeS) / wallS, rssMiB: rss };
}

function slopeMiBPerMin(rss: number[]): number {
  const half = rss.slice(Math.floor(rss.length / 2));
  const n = half.length;
  if (n < 2) return 0;
  const xs = half.map((_, i) => i * 5 / 60);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = half.reduce((a, b) => a + b, 0) / n;
  const num = xs.reduce((s, x, i) => s + (x - mx) * ((half[i] ?? 0) - my), 0);
  const den = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  return num / den;
}

const dir = mkdtempSync(join(tmpdir(), 'stroom-bench-'));
const procs: ChildProcess[] = [];
try {
  const fake = join(dir, 'fake');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(fake);
  writeFileSync(join(fake, 'q-x.xml'), eightGpuXml());
  writeFileSync(join(fake, 'help-query-gpu.txt'), readFileSync(join(FIX, 'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__help-query-gpu.txt')));
  writeFileSync(join(fake, 'query-gpu.csv'), readFileSync(join(FIX, 'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load.csv')));
  writeFileSync(join(dir, 'trace.json'), JSON.stringify({ startMs: Date.now(), gpus: Array.from({ length: 8 }, (_, i) => ({ baseW: 600 + i, dipW: 150, periodS: 2, dipS: 0.3 })) }));
  const env = { ...process.env, FAKE_NVIDIA_SMI_DIR: fake, FAKE_NVIDIA_SMI_TRACE: join(dir, 'trace.json') };

  // Baseline: what node-nvidia-smi does, once a second.
  const baselineScript = join(dir, 'baseline.mjs');
  writeFileSync(baselineScript, `
    import { execFile } from 'node:child_process';
    import { XMLParser } from ${JSON.stringify(join(ROOT, 'node_modules/fast-xml-parser/src/fxp.js'))};
    const parser = new XMLParser({ ignoreAttributes: false });
    setInterval(() => execFile(${JSON.stringify(FAKE)}, ['-q', '-x'], { maxBuffer: 64 << 20 }, (err, out) => {
      if (err) { console.error(err.message); process.exit(1); }
      const doc = parser.parse(out);
      const gpus = [].concat(doc.nvidia_smi_log.gpu);
      if (gpus.length !== 8) { console.error('expected 8 GPUs, got ' + gpus.length); process.exit(1); }
    }), 1000);`);
  const baseline = spawn(process.execPath, [baselineScript], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(baseline);
  const base = await measure(baseline.pid ?? 0, Math.min(SECONDS, 60));
  baseline.kill('SIGKILL');

  // The agent, streaming to a real collector.
  writeFileSync(join(dir, 'tokens.json'), JSON.stringify({ bench: 'bench-token-0123456789abcdef' }));
  const port = 18500 + Math.floor(Math.random() * 400);
  const collector = spawn(process.execPath, [CLI, 'collector', '--listen', `127.0.0.1:${port}`, '--data', join(dir, 'data'), '--tokens', join(dir, 'tokens.json'), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(collector);
  await new Promise((r) => setTimeout(r, 1500));
  const agent = spawn(process.execPath, [CLI, 'agent', '--gpu', 'nvidia-smi', '--nvidia-smi', FAKE, '--jobs', 'none', '--no-rapl', '--node', 'bench', '--collector', `http://127.0.0.1:${port}`, '--token', 'bench-token-0123456789abcdef', '--log-level', 'warn', '--spool-dir', join(dir, 'spool')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(agent);
  const mine = await measure(agent.pid ?? 0, SECONDS);
  const counted = await new Promise<string>((resolve) => execFile('curl', ['-s', `http://127.0.0.1:${port}/healthz`], (_e, out) => resolve(out)));

  const maxRss = Math.max(...mine.rssMiB);
  console.log(`fake 8-GPU node (RTX A5000 x2 capture x4, H100 590 fields), 1 Hz, ${SECONDS} s measured after 5 s warm-up:`);
  console.log(`  agent (nvidia-smi stream + host, to a collector): ${mine.cpuPct.toFixed(3)} % of a core (${mine.treePct.toFixed(3)} % with its nvidia-smi child), RSS max ${maxRss.toFixed(1)} MiB (first ${mine.rssMiB[0]?.toFixed(1)}, last ${mine.rssMiB[mine.rssMiB.length - 1]?.toFixed(1)}), RSS slope over the second half ${slopeMiBPerMin(mine.rssMiB).toFixed(3)} MiB/min`);
  console.log(`  baseline (spawn nvidia-smi -q -x + parse, 1/s):   ${base.cpuPct.toFixed(3)} % of a core (${base.treePct.toFixed(3)} % with its nvidia-smi children), RSS max ${Math.max(...base.rssMiB).toFixed(1)} MiB`);
  console.log(`  ratio baseline / agent CPU: ${(base.cpuPct / Math.max(mine.cpuPct, 1e-6)).toFixed(1)}x process only, ${(base.treePct / Math.max(mine.treePct, 1e-6)).toFixed(1)}x with children`);
  console.log(`  agent RSS after settling (last sample): ${mine.rssMiB[mine.rssMiB.length - 1]?.toFixed(1)} MiB`);
  console.log(`  collector health after the run: ${counted.trim()}`);
} finally {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
