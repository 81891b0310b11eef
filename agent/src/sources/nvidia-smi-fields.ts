/**
 * Pure: which `--query-gpu` fields this driver knows, and which of them the source asks for.
 *
 * `nvidia-smi --help-query-gpu` lists every field as a line of quoted names, canonical first,
 * then aliases: `"clocks.current.sm" or "clocks.sm"`. The CSV header always prints the
 * canonical name whatever was asked for, so the source asks for canonical names only and can
 * match header columns by plain string equality.
 */

/** The fields a driver accepts in `--query-gpu`, from `--help-query-gpu`. */
export interface QueryGpuHelp {
  /** Canonical field names, in the order the help text lists them. */
  readonly fields: readonly string[];
  /** Every accepted name (canonical and alias) → its canonical name. */
  readonly canonical: ReadonlyMap<string, string>;
}

// A field line is only quoted names joined by `or`; description lines may quote too, but never start that way.
const FIELD_LINE = /^"[^"\s]+"(?:\s+or\s+"[^"\s]+")*\s*$/;
const QUOTED = /"([^"\s]+)"/g;

/** Parses `nvidia-smi --help-query-gpu` output into the set of supported field names. */
export function parseHelpQueryGpu(text: string): QueryGpuHelp {
  const fields: string[] = [];
  const canonical = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!FIELD_LINE.test(line)) continue;
    const names = [...line.matchAll(QUOTED)].map((m) => m[1] as string);
    const first = names[0];
    if (first === undefined || canonical.has(first)) continue;
    fields.push(first);
    for (const n of names) if (!canonical.has(n)) canonical.set(n, first);
  }
  return { fields, canonical };
}

/** Fields the source would like, canonical names, in output order (W, °C, %, MiB, MHz as nvidia-smi reports them). */
export const DESIRED_QUERY_GPU_FIELDS: readonly string[] = [
  // The row's own sample time: integrating over it is immune to pipe buffering and scheduling delay.
  'timestamp',
  'uuid',
  'power.draw.average',
  'temperature.gpu',
  'temperature.memory',
  'utilization.gpu',
  'memory.used',
  'clocks.current.sm',
];

/** Power fields in order of preference: a 1 s average first, then whatever `power.draw` is on this GPU, then an instant sample. */
export const POWER_FIELDS: readonly string[] = ['power.draw.average', 'power.draw', 'power.draw.instant'];

/** The field list for the streaming child, and what was left out. */
export interface FieldChoice {
  /** Canonical names to pass to `--query-gpu`, desired order, power fallbacks after the first power field. */
  readonly fields: readonly string[];
  /** Desired names this driver does not know (not requested: nvidia-smi rejects the whole query otherwise). */
  readonly unsupported: readonly string[];
  /** True when `power.draw.average` is requested; whether the GPU fills it is known only from a reading. */
  readonly averagePower: boolean;
  /** True when at least one power field is requested. */
  readonly power: boolean;
}

/**
 * Chooses the `--query-gpu` fields: the desired ones this driver supports (by canonical name
 * or alias), and, whenever any power field is wanted, every supported power field as a
 * fallback, because `power.draw.average` is `[N/A]` on some GPUs (Turing, GA100) that still
 * list it in the help text.
 */
export function chooseFields(help: QueryGpuHelp, desired: readonly string[] = DESIRED_QUERY_GPU_FIELDS): FieldChoice {
  const fields: string[] = [];
  const unsupported: string[] = [];
  const add = (name: string): void => {
    if (!fields.includes(name)) fields.push(name);
  };
  for (const want of desired) {
    const name = help.canonical.get(want);
    if (name === undefined) unsupported.push(want);
    // A wanted power field, supported or not, stands for "board power": take every supported one.
    if (POWER_FIELDS.includes(name ?? want)) {
      for (const p of POWER_FIELDS) if (help.canonical.has(p)) add(p);
    } else if (name !== undefined) add(name);
  }
  return {
    fields,
    unsupported,
    averagePower: fields.includes('power.draw.average'),
    power: fields.some((f) => POWER_FIELDS.includes(f)),
  };
}
