/**
 * fast-check arbitraries for the wire contract, shared by `fuzz-codec.test.ts` and
 * `bench/fuzz.bench.ts`: VALID Hello, Batch, Subscribe and Ack messages (typed by the schemas'
 * inferred types, so a new required field fails the type check here first), and hostile edits
 * of them, structural (drop a field, wrong type, null, out-of-range number, huge string or
 * array, deep nesting) and textual (truncated JSON, flipped bytes, random bytes).
 *
 * `checkProtocolCase` is the property: decoding never throws; a valid message round-trips
 * unchanged; a rejection names the field it was about (a path) or says what is wrong with the
 * text, and a mutation that cannot be valid is rejected.
 */
import fc from 'fast-check';
import { decodeAck, decodeAgentMessage, decodeLiveMessage, decodeSubscribe, encode, parseAck } from '../src/codec.js';
import type { Decoded } from '../src/codec.js';
import type { Ack, Batch, CpuGauge, GpuGauge, GpuInfo, Hello, HostGauge, JobAllocation, Sample, Subscribe } from '../src/messages.js';

// JSON has no -0: `x + 0` turns it into 0, so a round trip compares equal.
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x + 0);
const nonNegative = fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }).map((x) => x + 0);
const positive = fc.double({ min: Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true });
const ratio = fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x + 0);
const nat = fc.nat({ max: 1_000_000 });
const safeNat = fc.maxSafeNat();
const positiveInt = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const tsMs = fc.integer({ min: 0, max: 8.64e15 });
/** Any unicode, lone surrogates included (JSON escapes them and reads them back). */
const text = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: 'binary', maxLength });
const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
const small = <T>(arb: fc.Arbitrary<T>, maxLength = 3): fc.Arbitrary<T[]> => fc.array(arb, { maxLength });
/** A record whose keys after `required` are optional: absent, never `undefined` (exactOptionalPropertyTypes). */
const rec = fc.record;

const gpuInfo: fc.Arbitrary<GpuInfo> = rec(
  {
    uuid: name,
    index: nat,
    name: text(60),
    minor: nat,
    pciBusId: text(64),
    migDevices: small(rec({ uuid: name, index: nat, profile: text(64), slices: fc.integer({ min: 1, max: 7 }) }, { requiredKeys: ['uuid', 'index', 'slices'] })),
    migSlices: fc.integer({ min: 1, max: 7 }),
    memTotalBytes: nonNegative,
    powerLimitW: positive,
    hasEnergyCounter: fc.boolean(),
  },
  { requiredKeys: ['uuid', 'index', 'name'] },
);

/** A valid Hello. */
export const helloArb: fc.Arbitrary<Hello> = rec(
  {
    v: fc.constant(1 as const),
    type: fc.constant('hello' as const),
    node: name,
    epoch: name,
    agentVersion: text(64),
    ts: tsMs,
    intervalMs: positiveInt,
    inventory: rec(
      {
        gpus: small(gpuInfo, 4),
        cpus: small(rec({ id: name, model: text(60), cores: positiveInt }, { requiredKeys: ['id', 'cores'] })),
        host: rec(
          { hostname: text(60), cpuModel: text(60), logicalCpus: positiveInt, memTotalBytes: nonNegative, os: text(60), kernel: text(60) },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: ['gpus', 'cpus'] },
    ),
    sources: small(rec({ name, state: fc.constantFrom('ok' as const, 'disabled' as const), reason: text(512) }, { requiredKeys: ['name', 'state'] })),
  },
  { requiredKeys: ['v', 'type', 'node', 'epoch', 'agentVersion', 'ts', 'intervalMs', 'inventory'] },
);

const gpuGauge: fc.Arbitrary<GpuGauge> = rec(
  { uuid: name, powerW: finite, tempC: finite, memTempC: finite, utilRatio: ratio, memUsedBytes: nonNegative, smClockMHz: nonNegative },
  { requiredKeys: ['uuid'] },
);
const cpuGauge: fc.Arbitrary<CpuGauge> = rec({ id: name, powerW: finite, utilRatio: ratio }, { requiredKeys: ['id'] });
const hostGauge: fc.Arbitrary<HostGauge> = rec(
  { cpuUtilRatio: ratio, coreUtilRatio: small(ratio, 8), memUsedBytes: nonNegative, memTotalBytes: nonNegative, load1: nonNegative },
  { requiredKeys: [] },
);
const sample: fc.Arbitrary<Sample> = rec({ ts: tsMs, gpus: small(gpuGauge, 4), cpus: small(cpuGauge), host: hostGauge }, { requiredKeys: ['ts', 'gpus', 'cpus'] });
const split = { gpuEnergyMj: safeNat, cpuEnergyMj: safeNat };
const job: fc.Arbitrary<JobAllocation> = rec(
  {
    id: name,
    user: text(60),
    account: text(60),
    name: text(60),
    partition: text(60),
    startTs: tsMs,
    gpus: small(name, 4),
    cpuCores: nat,
    cpuShareRatio: ratio,
  },
  { requiredKeys: ['id', 'user', 'account', 'startTs', 'gpus', 'cpuCores'] },
);

/** A valid Batch. */
export const batchArb: fc.Arbitrary<Batch> = rec(
  {
    v: fc.constant(1 as const),
    type: fc.constant('batch' as const),
    node: name,
    epoch: name,
    seq: positiveInt,
    ts: tsMs,
    samples: small(sample),
    counters: rec({
      devices: small(rec({ id: name, kind: fc.constantFrom('gpu' as const, 'cpu' as const, 'dram' as const), energyMj: safeNat }), 6),
      jobs: small(rec({ id: name, ...split })),
      idle: rec(split),
    }),
    jobs: small(job),
    gaps: nat,
    sources: small(rec({ name, lastReadMs: nonNegative, errors: nat, timeouts: nat })),
  },
  { requiredKeys: ['v', 'type', 'node', 'epoch', 'seq', 'ts', 'samples', 'counters', 'jobs', 'gaps'] },
);

// `.` in the topic patterns does not match a line terminator, so a valid topic has none.
const topicTail = fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).filter((s) => !/[\n\r\u2028\u2029]/.test(s));

/** A valid Subscribe. */
export const subscribeArb: fc.Arbitrary<Subscribe> = rec({
  v: fc.constant(1 as const),
  type: fc.constantFrom('subscribe' as const, 'unsubscribe' as const),
  topics: small(fc.oneof(fc.constant('cluster'), topicTail.map((t) => `node/${t}`), topicTail.map((t) => `job/${t}`)), 5),
});

/** A valid Ack. */
export const ackArb: fc.Arbitrary<Ack> = rec({ v: fc.constant(1 as const), type: fc.constant('ack' as const), seq: positiveInt });

/** The decoders fuzzed, by the message kind they take. */
export const DECODERS = {
  hello: decodeAgentMessage,
  batch: decodeAgentMessage,
  subscribe: decodeSubscribe,
  ack: decodeAck,
  live: decodeLiveMessage,
} as const satisfies Record<string, (text: string) => Decoded<unknown>>;

/** A message and the decoder that takes it. */
export type ValidMessage =
  | { readonly kind: 'hello'; readonly message: Hello }
  | { readonly kind: 'batch'; readonly message: Batch }
  | { readonly kind: 'subscribe'; readonly message: Subscribe }
  | { readonly kind: 'ack'; readonly message: Ack };

/** A valid message of any kind an agent or a dashboard sends, or an ack. */
export const validMessageArb: fc.Arbitrary<ValidMessage> = fc.oneof(
  helloArb.map((message) => ({ kind: 'hello' as const, message })),
  batchArb.map((message) => ({ kind: 'batch' as const, message })),
  subscribeArb.map((message) => ({ kind: 'subscribe' as const, message })),
  ackArb.map((message) => ({ kind: 'ack' as const, message })),
);

/** A structural edit at the path `at` picks (modulo the number of paths in the message). */
export type JsonMutation =
  /** Delete an object key or an array element. */
  | { readonly op: 'drop'; readonly at: number }
  /** Put a value of another JSON type there (string for number, number for string, [] for object, ...): never valid. */
  | { readonly op: 'wrongType'; readonly at: number }
  /** Put null there: nothing in these messages is nullable. */
  | { readonly op: 'null'; readonly at: number }
  /** Put an odd number there. */
  | { readonly op: 'number'; readonly at: number; readonly value: number }
  /** Put a string of `length` characters there. */
  | { readonly op: 'hugeString'; readonly at: number; readonly length: number }
  /** Make an array `length` long (copies of its first element, or zeros). */
  | { readonly op: 'hugeArray'; readonly at: number; readonly length: number }
  /** Put `depth` nested arrays there: never valid (nothing holds arrays of arrays). */
  | { readonly op: 'deepNest'; readonly at: number; readonly depth: number };

/** An edit of the JSON text itself. */
export type JsonTextMutation =
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'flipBit'; readonly at: number; readonly bit: number }
  | { readonly op: 'insertBytes'; readonly at: number; readonly bytes: readonly number[] }
  | { readonly op: 'randomBytes'; readonly bytes: readonly number[] };

const ODD_NUMBERS = [-1, -0.5, 0.5, 1.5, 2 ** 53, 2 ** 64, 1e308, -1e308, Number.MIN_VALUE, 4096, 3601, 1025];

/** One structural edit. */
export const jsonMutationArb: fc.Arbitrary<JsonMutation> = fc.oneof(
  rec({ op: fc.constant('drop' as const), at: fc.nat() }),
  rec({ op: fc.constant('wrongType' as const), at: fc.nat() }),
  rec({ op: fc.constant('null' as const), at: fc.nat() }),
  rec({ op: fc.constant('number' as const), at: fc.nat(), value: fc.constantFrom(...ODD_NUMBERS) }),
  rec({ op: fc.constant('hugeString' as const), at: fc.nat(), length: fc.constantFrom(65, 257, 513, 100_000) }),
  rec({ op: fc.constant('hugeArray' as const), at: fc.nat(), length: fc.constantFrom(65, 1025, 3601, 4097) }),
  rec({ op: fc.constant('deepNest' as const), at: fc.nat(), depth: fc.constantFrom(2, 1000, 100_000) }),
);

const bytes = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 64 });

/** One textual edit. */
export const jsonTextMutationArb: fc.Arbitrary<JsonTextMutation> = fc.oneof(
  rec({ op: fc.constant('truncate' as const), at: fc.nat() }),
  rec({ op: fc.constant('flipBit' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  rec({ op: fc.constant('insertBytes' as const), at: fc.nat(), bytes }),
  rec({ op: fc.constant('randomBytes' as const), bytes }),
);

/** One fuzz case: a valid message, unchanged, or with one structural or one textual edit. */
export interface ProtocolCase {
  readonly valid: ValidMessage;
  readonly edit: { readonly kind: 'none' } | { readonly kind: 'json'; readonly m: JsonMutation } | { readonly kind: 'text'; readonly m: JsonTextMutation };
}

export const protocolCaseArb: fc.Arbitrary<ProtocolCase> = rec({
  valid: validMessageArb,
  edit: fc.oneof(
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
    { weight: 4, arbitrary: jsonMutationArb.map((m) => ({ kind: 'json' as const, m })) },
    { weight: 2, arbitrary: jsonTextMutationArb.map((m) => ({ kind: 'text' as const, m })) },
  ),
});

type Path = ReadonlyArray<string | number>;

/** Every path in a JSON value except the root, parents before children. */
export function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [];
  if (Array.isArray(value)) {
    value.forEach((v, i) => out.push([...prefix, i], ...pathsOf(v, [...prefix, i])));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push([...prefix, k], ...pathsOf(v, [...prefix, k]));
  }
  return out;
}

/** A path as the codec writes it, e.g. `samples[0].gpus[2].powerW`. */
export function pathText(path: Path): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? key : `.${key}`;
  return out === '' ? '(message)' : out;
}

const DEEP = '\u0000deep\u0000';

/** What a structural edit made: the text, the path it touched, and whether the result can still be valid. */
export interface Edited {
  readonly text: string;
  readonly path?: Path;
  readonly mustReject: boolean;
}

function wrongTypeOf(v: unknown): unknown {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v.length;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (Array.isArray(v)) return {};
  return [];
}

/** Applies a structural edit. */
export function applyJsonMutation(message: object, m: JsonMutation): Edited {
  const copy = structuredClone(message) as Record<string | number, unknown>;
  const paths = pathsOf(copy);
  const path = paths[m.at % paths.length] as Path;
  const parent = path.slice(0, -1).reduce<Record<string | number, unknown>>((o, k) => o[k] as Record<string | number, unknown>, copy);
  const key = path[path.length - 1] as string | number;
  const old = parent[key];
  let mustReject = false;
  switch (m.op) {
    case 'drop':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 'wrongType':
      parent[key] = wrongTypeOf(old);
      mustReject = true;
      break;
    case 'null':
      parent[key] = null;
      mustReject = true;
      break;
    case 'number':
      parent[key] = m.value;
      break;
    case 'hugeString':
      parent[key] = 'x'.repeat(m.length);
      break;
    case 'hugeArray':
      parent[key] = Array.from({ length: m.length }, () => (Array.isArray(old) && old.length > 0 ? old[0] : 0));
      break;
    case 'deepNest':
      parent[key] = DEEP;
      mustReject = true;
      break;
  }
  let text = encode(copy);
  if (m.op === 'deepNest') text = text.replace(JSON.stringify(DEEP), '['.repeat(m.depth) + ']'.repeat(m.depth));
  return { text, path, mustReject };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Applies a textual edit (bytes are decoded as UTF-8 with U+FFFD, as a WebSocket text frame would not even arrive). */
export function applyJsonTextMutation(text: string, m: JsonTextMutation): string {
  switch (m.op) {
    case 'truncate':
      return text.slice(0, m.at % Math.max(1, text.length));
    case 'flipBit': {
      const b = encoder.encode(text);
      const i = m.at % b.length;
      b[i] = (b[i] as number) ^ (1 << m.bit);
      return decoder.decode(b);
    }
    case 'insertBytes': {
      const i = m.at % (text.length + 1);
      return text.slice(0, i) + decoder.decode(Uint8Array.from(m.bytes)) + text.slice(i);
    }
    case 'randomBytes':
      return decoder.decode(Uint8Array.from(m.bytes));
  }
}

/** The input text of a case and what its decoding must satisfy. */
export function protocolCaseInput(c: ProtocolCase): Edited {
  const text = encode(c.valid.message);
  if (c.edit.kind === 'none') return { text, mustReject: false };
  if (c.edit.kind === 'json') return applyJsonMutation(c.valid.message, c.edit.m);
  return { text: applyJsonTextMutation(text, c.edit.m), mustReject: false };
}

/** A rejection that says what was wrong: `not JSON: …`, or `<path>: <message>` with a real message. */
const SPECIFIC = /^(?:not JSON: .{4,}|(?:\(message\)|[^\s:][^:]*): [A-Z].{6,})$/s;

/**
 * Runs one case through its decoder (and, for an ack, the agent's hand-written `parseAck`,
 * which must agree with the zod schema) and returns what is wrong; [] when all holds.
 */
export function checkProtocolCase(c: ProtocolCase): string[] {
  const edited = protocolCaseInput(c);
  return checkDecoded(c, edited, DECODERS[c.valid.kind](edited.text));
}

/** The same check given the decode result, so a bench can time the decode alone. */
export function checkDecoded(c: ProtocolCase, edited: Edited, decoded: Decoded<unknown>): string[] {
  const problems: string[] = [];
  if (c.edit.kind === 'none') {
    if (!decoded.ok) problems.push(`a valid ${c.valid.kind} was rejected: ${decoded.error}`);
    else if (canonical(decoded.value) !== canonical(c.valid.message)) problems.push(`a valid ${c.valid.kind} changed in the round trip`);
  }
  if (edited.mustReject && decoded.ok) problems.push(`accepted an invalid value at ${pathText(edited.path ?? [])}`);
  if (!decoded.ok) {
    if (!SPECIFIC.test(decoded.error)) problems.push(`rejection does not say what was wrong: ${JSON.stringify(decoded.error)}`);
    const where = edited.path === undefined ? undefined : pathText(edited.path);
    if (where !== undefined && !decoded.error.startsWith('not JSON') && !namesPath(decoded.error, where)) {
      problems.push(`rejection names another field than ${where}: ${JSON.stringify(decoded.error.slice(0, 200))}`);
    }
  }
  if (c.valid.kind === 'ack') {
    const hand = parseAck(edited.text);
    if (hand.ok !== decoded.ok) problems.push(`parseAck ${hand.ok ? 'accepted' : 'rejected'} what the schema ${decoded.ok ? 'accepted' : 'rejected'}: ${edited.text.slice(0, 100)}`);
    else if (hand.ok && decoded.ok && canonical(hand.value) !== canonical(decoded.value)) problems.push('parseAck and the schema decoded different acks');
  }
  return problems;
}

/** JSON with object keys sorted: equal values give equal text whatever order a schema puts keys in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** Whether `error` is about `path` or about a field inside it. */
function namesPath(error: string, path: string): boolean {
  const at = error.slice(0, error.indexOf(': '));
  return at === path || at.startsWith(`${path}.`) || at.startsWith(`${path}[`);
}
