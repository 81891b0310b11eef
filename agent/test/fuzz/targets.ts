/**
 * The agent's parsers as fuzz targets: each takes one (mutated) input text and says what the
 * parser did with it, as an `Outcome`, checking on the way that what it accepted is something
 * the wire accepts (a GPU name or zone id the collector would refuse stalls the node's whole
 * stream). Shared by `fuzz-parsers.test.ts` and `bench/fuzz.bench.ts`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpuInfoSchema, GpuGaugeSchema, GpuInfoSchema } from '@stroom/protocol';
import { allocationOn, parseScontrolJobs, parseSqueue, parseSqueueJobs } from '../../src/jobs/slurm-parse.js';
import { DESIRED_QUERY_GPU_FIELDS } from '../../src/sources/nvidia-smi-fields.js';
import { parseQueryGpuCsv, whyNotRow } from '../../src/sources/nvidia-smi-csv.js';
import { parseListGpus, parseQueryXml } from '../../src/sources/nvidia-smi-xml.js';
import { RaplSource, type RaplSourceOptions } from '../../src/sources/rapl.js';
import { fixture, fixtureText } from '../fixture.js';
import { materialiseSysfs, type SysfsTree } from '../sysfs.js';
import { thrownOutcome, type Outcome } from './mutators.js';

/** A parser under fuzz: its real inputs, and how to run one. */
export interface FuzzTarget {
  readonly name: string;
  /** Real captured inputs the mutations start from. */
  readonly corpus: readonly string[];
  /** Runs the parser on `input`, a mutation of `corpus[fixture]`. */
  run(input: string, fixture: number): Outcome | Promise<Outcome>;
}

const files = (dir: string, ext: RegExp): string[] =>
  readdirSync(fixture(dir))
    .filter((f) => ext.test(f))
    .sort()
    .map((f) => fixtureText(`${dir}/${f}`));

const crash = (error: string): Outcome => ({ kind: 'crash', error });

/** `--query-gpu` CSV: rows are what the wire's GPU gauges accept; every skipped line says why. */
export function nvidiaSmiCsvTarget(): FuzzTarget {
  return {
    name: 'nvidia-smi CSV',
    corpus: files('nvidia-smi', /\.csv$/),
    run(input) {
      try {
        const parsed = parseQueryGpuCsv(input, DESIRED_QUERY_GPU_FIELDS);
        for (const row of parsed.rows) {
          const { uuid, powerW, tempC, memTempC, utilRatio, memUsedBytes, smClockMHz } = row;
          const gauge = { uuid, powerW, tempC, memTempC, utilRatio, memUsedBytes, smClockMHz };
          for (const [k, v] of Object.entries(gauge)) if (v === undefined) delete (gauge as Record<string, unknown>)[k];
          const wire = GpuGaugeSchema.safeParse(gauge);
          if (!wire.success) return crash(`row the wire refuses: ${wire.error.issues[0]?.path.join('.')}: ${wire.error.issues[0]?.message}`);
          if (powerW !== undefined && !(powerW >= 0 && Number.isFinite(powerW))) return crash(`row with powerW ${powerW}`);
          if (row.localTsMs !== undefined && !Number.isFinite(row.localTsMs)) return crash(`row with localTsMs ${row.localTsMs}`);
        }
        return { kind: 'accepted', reasons: parsed.garbage.map((line) => whyNotRow(line, parsed.columns) ?? '') };
      } catch (err) {
        return thrownOutcome(err, false);
      }
    },
  };
}

const LISTING = parseListGpus(fixtureText('nvidia-smi/linux-x86_64__nvidia-h200-mig__590.48.01__list.txt'));

/** `-q -x` XML (and `-L`): GPUs the wire accepts; malformed XML is an Error that says so. */
export function nvidiaSmiXmlTarget(): FuzzTarget {
  return {
    name: 'nvidia-smi XML',
    corpus: [...files('nvidia-smi', /\.xml$/), fixtureText('nvidia-smi/linux-x86_64__nvidia-h200-mig__590.48.01__list.txt')],
    run(input) {
      try {
        parseListGpus(input);
        const inv = parseQueryXml(input, LISTING);
        for (const g of inv.gpus) {
          const wire = GpuInfoSchema.safeParse(g);
          if (!wire.success) return crash(`GPU the wire refuses: ${wire.error.issues[0]?.path.join('.')}: ${wire.error.issues[0]?.message}`);
        }
        return { kind: 'accepted', reasons: inv.warnings };
      } catch (err) {
        return thrownOutcome(err, true);
      }
    },
  };
}

/** Slurm client output: never throws, never hangs on a range, and every number it gives is finite. */
export function slurmTarget(): FuzzTarget {
  return {
    name: 'Slurm',
    corpus: files('slurm', /\.txt$/),
    run(input) {
      try {
        const queued = parseSqueueJobs(input);
        parseSqueue(input, '%i|%E;%R;%C');
        const jobs = parseScontrolJobs(input);
        for (const q of queued) {
          for (const v of [q.uid, q.cpus, q.nodeCount, q.startTs]) if (v !== undefined && !Number.isFinite(v)) return crash(`squeue job ${q.id}: number ${v}`);
        }
        for (const j of jobs) {
          for (const node of j.details.flatMap((d) => d.nodes).slice(0, 8)) {
            const a = allocationOn(j, node);
            if (a !== undefined && (!Number.isSafeInteger(a.cpus) || a.cpus < 0 || !a.gpuIdx.every(Number.isSafeInteger))) {
              return crash(`scontrol job ${j.id} on ${node}: cpus ${a.cpus}, gpuIdx ${a.gpuIdx.slice(0, 5).join(',')}`);
            }
          }
        }
        return { kind: 'accepted', reasons: [] };
      } catch (err) {
        return thrownOutcome(err, false);
      }
    },
  };
}

/**
 * RAPL through the real `RaplSource`, over a real (tmp) sysfs tree, with the file contents
 * mutated. The corpus text of a tree is its files' contents one per line (paths in a fixed
 * order), then each `energy_uj` again for a second and a third read; a mutation that cuts or
 * adds a line therefore also moves contents to other files, and a line past the end is a
 * missing file.
 */
export interface RaplFuzz {
  readonly target: FuzzTarget;
  /** The tmp trees to remove afterwards. */
  readonly roots: readonly string[];
}

/** Builds the RAPL target; its trees are written once, to tmp dirs. */
export async function raplTarget(): Promise<RaplFuzz> {
  const trees = readdirSync(fixture('sysfs'))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(fixture('sysfs'), f), 'utf8')) as SysfsTree);
  const roots: string[] = [];
  const layouts: Array<{ root: string; paths: string[] }> = [];
  const corpus: string[] = [];
  for (const tree of trees) {
    const root = await materialiseSysfs(tree);
    roots.push(root);
    const paths = Object.keys(tree).filter((p) => typeof tree[p] === 'string').sort();
    const energy = paths.filter((p) => p.endsWith('/energy_uj'));
    // Slots: every file, then energy_uj for read 2 and read 3, 1 J apart (1 W at one read a second).
    const slots = [...paths.map((p) => (tree[p] as string).trim()), ...energy.map((p) => String(Number(tree[p]) + 1e6)), ...energy.map((p) => String(Number(tree[p]) + 2e6))];
    layouts.push({ root, paths: [...paths, ...energy.map((p) => `${p}#2`), ...energy.map((p) => `${p}#3`)] });
    corpus.push(slots.join('\n'));
  }
  const target: FuzzTarget = {
    name: 'RAPL',
    corpus,
    async run(input, fixtureIndex) {
      const layout = layouts[fixtureIndex % layouts.length] as { root: string; paths: string[] };
      return runRapl(layout.root, layout.paths, input);
    },
  };
  return { target, roots };
}

async function runRapl(root: string, paths: readonly string[], input: string): Promise<Outcome> {
  const lines = input.split('\n');
  const content = new Map<string, string>();
  paths.forEach((p, i) => {
    const line = lines[i];
    if (line !== undefined) content.set(p, `${line}\n`);
  });
  let readNo = 1;
  const readFile = async (path: string): Promise<string> => {
    const rel = path.slice(root.length + 1);
    const key = rel.endsWith('/energy_uj') && readNo > 1 ? `${rel}#${readNo}` : rel;
    const c = content.get(key) ?? (readNo > 1 ? content.get(rel) : undefined);
    if (c === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    return c;
  };
  const reasons: string[] = [];
  // Only the message matters here: it is the reason an operator would read.
  const warn = (_o: unknown, msg: string): void => void reasons.push(msg);
  const log = { warn, info: () => undefined, debug: () => undefined } as unknown as RaplSourceOptions['log'];
  const src = new RaplSource({ sysfsRoot: root, log, readFile });
  try {
    const inv = await src.probe();
    for (const c of inv.cpus) {
      const wire = CpuInfoSchema.safeParse(c);
      if (!wire.success) return crash(`package the wire refuses: ${wire.error.issues[0]?.path.join('.')}: ${wire.error.issues[0]?.message}`);
    }
  } catch (err) {
    return thrownOutcome(err, true);
  }
  const last = new Map<string, number>();
  for (let tick = 1; tick <= 3; tick++) {
    readNo = tick;
    let readings;
    try {
      readings = await src.read({ ts: 1.79e12 + tick * 1000, monoMs: tick * 1000 });
    } catch (err) {
      return thrownOutcome(err, false);
    }
    for (const c of readings.cpus) {
      const mj = c.energyCounterMj;
      if (mj === undefined || !Number.isSafeInteger(mj) || mj < 0) return crash(`${c.id}: counter ${mj} mJ is not a safe non-negative integer`);
      if (mj < (last.get(c.id) ?? 0)) return crash(`${c.id}: counter went back from ${last.get(c.id)} to ${mj} mJ`);
      last.set(c.id, mj);
      if (c.powerW !== undefined && !(Number.isFinite(c.powerW) && c.powerW >= 0)) return crash(`${c.id}: power ${c.powerW} W`);
      if (c.id.length === 0 || c.id.length > 256) return crash(`zone id of ${c.id.length} chars`);
    }
  }
  return { kind: 'accepted', reasons };
}
