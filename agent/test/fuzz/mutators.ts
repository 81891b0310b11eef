/**
 * Hostile-input mutators shared by the fuzz tests (agent, collector) and `bench/fuzz.bench.ts`.
 *
 * A mutation is plain data (a `TextMutation`), applied to a real captured fixture by
 * `applyMutations`. Keeping the plan apart from the text lets fast-check shrink a failure to
 * the fewest, smallest edits, and lets the bench print the exact plan of its slowest case.
 * Positions are naturals taken modulo the text's length, so one plan fits any fixture.
 */
import fc from 'fast-check';

/** One edit of a text. */
export type TextMutation =
  /** Flip one bit of one UTF-8 byte (the result may not be valid UTF-8: decoded with U+FFFD, as Node reads a pipe). */
  | { readonly op: 'flipBit'; readonly at: number; readonly bit: number }
  /** Delete one whole line. */
  | { readonly op: 'cutLine'; readonly at: number }
  /** Cut the text short at a position (a reader killed mid-write). */
  | { readonly op: 'truncate'; readonly at: number }
  /** Swap two fields of one line; fields split on `sep`. */
  | { readonly op: 'swapFields'; readonly at: number; readonly sep: string; readonly i: number; readonly j: number }
  /** Insert text (random unicode, or a token that means something to one of the formats). */
  | { readonly op: 'insert'; readonly at: number; readonly text: string }
  /** Replace a run of digits with a huge, negative, non-finite or otherwise odd number. */
  | { readonly op: 'hugeNumber'; readonly at: number; readonly value: string }
  /** Repeat one line many times. */
  | { readonly op: 'duplicateLine'; readonly at: number; readonly times: number }
  /** Repeat a slice many times (a stuck writer; big inputs). */
  | { readonly op: 'repeat'; readonly at: number; readonly length: number; readonly times: number }
  /** Replace the whole text with nothing. */
  | { readonly op: 'empty' }
  /** Replace the whole text with random bytes. */
  | { readonly op: 'randomBytes'; readonly bytes: readonly number[] };

/** Numbers no parser should trust: beyond 2^53, beyond 2^64, beyond a double, negative, hex, not finite. */
export const ODD_NUMBERS: readonly string[] = [
  '9'.repeat(400),
  '18446744073709551616',
  '9007199254740993',
  '4294967296',
  '1e309',
  '1.7976931348623157e308',
  '-1',
  '-0',
  '0x10',
  'NaN',
  'Infinity',
  '000000000000000000000000001',
  `${'1'.repeat(40)}.${'5'.repeat(40)}`,
  '1.5',
  '',
];

/**
 * Tokens that mean something to one of the formats fuzzed here (CSV, nvidia-smi XML, sysfs,
 * Slurm, the intensity CSV), so random edits reach past the first check of each parser.
 */
export const FORMAT_TOKENS: readonly string[] = [
  ',', ', ', '\n', '\r\n', '\r', '\0', '\t', '"', "'", '\uFEFF', '\u2028', '\uD800', '\uFFFD',
  // nvidia-smi CSV
  '[N/A]', '[Not Supported]', 'GPU-', 'uuid', ' W', ' MiB', ' %', '2026/13/45 25:61:61.999',
  // XML
  '<', '>', '&', '&amp;', '&#x110000;', '&#99999999999;', '&#0;', '&lt', '<gpu>', '</gpu>', '<gpu id="x">', '<uuid>', '</uuid>',
  '<!--', '<![CDATA[', '<?xml', '<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v99.dtd">', '<__proto__>', '<constructor>',
  '<mig_mode><current_mig>Enabled</current_mig></mig_mode>',
  // sysfs
  'package-', 'dram', 'core', 'psys', '-die-',
  // Slurm
  '=', 'JobId=', ' Nodes=', ' CPU_IDs=', ' GRES=gpu(IDX:', '(IDX:0-4294967295)', '0-99999999999', 'node[0-99999999999]',
  'n[1-9][1-9][1-9][1-9][1-9][1-9][1-9][1-9][1-9][1-9]', '[', ']', '(', ')', '|', '%', 'UserId=', '(null)', 'N/A',
  // intensity CSV
  '# source:', 'timestamp,value', 'T', 'Z', '+01:00', '9999-12-31T23:00:00Z', '275760-09-13T00:00:00Z', '8640000000000000',
  '9000000000000000',
  // JSON
  '{', '}', '[]', '{}', 'null', 'true', '"__proto__"', '"constructor"',
];

const position = fc.nat();

/** Text to insert: mostly format tokens, sometimes any unicode (lone surrogates included). */
export const insertTextArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...FORMAT_TOKENS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'0123456789-,[]():=. '), maxLength: 30 }) },
);

/** One mutation, weighted towards edits that keep most of the text parseable. */
export const textMutationArb: fc.Arbitrary<TextMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flipBit' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('cutLine' as const), at: position }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: position }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('swapFields' as const), at: position, sep: fc.constantFrom(',', ' ', '|', '>', '='), i: fc.nat(), j: fc.nat() }),
  },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('insert' as const), at: position, text: insertTextArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('hugeNumber' as const), at: position, value: fc.constantFrom(...ODD_NUMBERS) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicateLine' as const), at: position, times: fc.integer({ min: 2, max: 2000 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('repeat' as const), at: position, length: fc.integer({ min: 1, max: 200 }), times: fc.integer({ min: 2, max: 500 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'empty' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('randomBytes' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 300 }) }) },
);

/** One to four mutations, applied in order. */
export const mutationPlanArb: fc.Arbitrary<readonly TextMutation[]> = fc.array(textMutationArb, { minLength: 1, maxLength: 4 });

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

function lineSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      spans.push([start, text.length]);
      return spans;
    }
    spans.push([start, nl + 1]);
    start = nl + 1;
  }
}

/**
 * Most characters a repeat may add, and the longest input a plan makes. Bigger than any real
 * capture (an 8-GPU `-q -x` with processes is ~1 MB) without turning a fuzz run into a test of
 * how fast a parser walks 40 MB.
 */
export const MAX_GROWTH_CHARS = 256 * 1024;
export const MAX_INPUT_CHARS = 2 * 1024 * 1024;

/** Applies one mutation. */
export function applyMutation(text: string, m: TextMutation): string {
  const at = (n: number): number => n % (text.length + 1);
  switch (m.op) {
    case 'flipBit': {
      const bytes = encoder.encode(text);
      if (bytes.length === 0) return text;
      const i = m.at % bytes.length;
      bytes[i] = (bytes[i] as number) ^ (1 << m.bit);
      return decoder.decode(bytes);
    }
    case 'cutLine': {
      const spans = lineSpans(text);
      const [s, e] = spans[m.at % spans.length] as [number, number];
      return text.slice(0, s) + text.slice(e);
    }
    case 'truncate':
      return text.slice(0, at(m.at));
    case 'swapFields': {
      const spans = lineSpans(text);
      const [s, e] = spans[m.at % spans.length] as [number, number];
      const fields = text.slice(s, e).split(m.sep);
      if (fields.length < 2) return text;
      const i = m.i % fields.length;
      const j = m.j % fields.length;
      [fields[i], fields[j]] = [fields[j] as string, fields[i] as string];
      return text.slice(0, s) + fields.join(m.sep) + text.slice(e);
    }
    case 'insert': {
      const i = at(m.at);
      return text.slice(0, i) + m.text + text.slice(i);
    }
    case 'hugeNumber': {
      // The first run of digits at or after the position (wrapping round); none: append.
      const re = /\d+/g;
      re.lastIndex = at(m.at);
      const found = re.exec(text) ?? ((re.lastIndex = 0), re.exec(text));
      if (found === null) return text + m.value;
      return text.slice(0, found.index) + m.value + text.slice(found.index + found[0].length);
    }
    case 'duplicateLine': {
      const spans = lineSpans(text);
      const [s, e] = spans[m.at % spans.length] as [number, number];
      const times = Math.min(m.times - 1, Math.floor(MAX_GROWTH_CHARS / Math.max(1, e - s)));
      return text.slice(0, e) + text.slice(s, e).repeat(times) + text.slice(e);
    }
    case 'repeat': {
      const i = at(m.at);
      const slice = text.slice(i, i + m.length);
      const times = Math.min(m.times, Math.floor(MAX_GROWTH_CHARS / Math.max(1, slice.length)));
      return text.slice(0, i) + slice.repeat(Math.max(1, times)) + text.slice(i + slice.length);
    }
    case 'empty':
      return '';
    case 'randomBytes':
      return decoder.decode(Uint8Array.from(m.bytes));
  }
}

/** Applies a plan of mutations in order. */
export function applyMutations(text: string, plan: readonly TextMutation[]): string {
  return plan.reduce((t, m) => applyMutation(t, m).slice(0, MAX_INPUT_CHARS), text);
}

/** A fixture and a plan to apply to it: one fuzz case, small enough to print. */
export interface FuzzCase {
  /** Index into the target's corpus. */
  readonly fixture: number;
  readonly plan: readonly TextMutation[];
}

/** Cases over a corpus of `n` fixtures. */
export function fuzzCaseArb(n: number): fc.Arbitrary<FuzzCase> {
  return fc.record({ fixture: fc.nat({ max: Math.max(0, n - 1) }), plan: mutationPlanArb });
}

/** The input text of a case. */
export function caseInput(corpus: readonly string[], c: FuzzCase): string {
  return applyMutations(corpus[c.fixture] ?? '', c.plan);
}

/** What a parser did with one input. */
export type Outcome =
  /** Parsed; `reasons` lists what it skipped or warned about, each of which must say why. */
  | { readonly kind: 'accepted'; readonly reasons: readonly string[] }
  /** Refused the whole input, as its contract allows, with a reason. */
  | { readonly kind: 'rejected'; readonly reasons: readonly string[] }
  /** Threw where its contract says it never throws, threw something that is not a plain Error (a bug), or broke an invariant of its output. */
  | { readonly kind: 'crash'; readonly error: string };

/** Reasons that say nothing about what was wrong. */
const GENERIC = /^(?:|error|invalid|invalid input|invalid message|bad input|parse error|undefined|null|\[object Object\]|unknown error)\.?$/i;

/** Whether a rejection or warning says why: not empty, not a stock phrase, more than a word. */
export function isSpecificReason(reason: string): boolean {
  const r = reason.trim();
  return !GENERIC.test(r) && r.length >= 8 && /\s/.test(r);
}

/**
 * Classifies something a parser threw. A parser whose contract is "throw an Error naming what
 * was wrong" may throw a plain `Error`; a TypeError, RangeError or anything that is not an
 * Error is a bug (a property read off undefined, a bad code point, a stack overflow).
 */
export function thrownOutcome(err: unknown, throwsByContract: boolean): Outcome {
  if (!(err instanceof Error)) return { kind: 'crash', error: `threw a non-Error: ${String(err)}` };
  if (BUG_ERRORS.some((c) => err instanceof c) || !throwsByContract) return { kind: 'crash', error: `${err.name}: ${err.message}` };
  return { kind: 'rejected', reasons: [err.message] };
}

/** Built-in errors that mean a bug in the parser, never a reason for the user. */
const BUG_ERRORS: ReadonlyArray<new () => Error> = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError];

/** Reads a case's outcome, for assertions: a crash fails with its error, every reason must be specific. */
export function problemsOf(outcome: Outcome): string[] {
  if (outcome.kind === 'crash') return [`crash: ${outcome.error}`];
  return outcome.reasons.filter((r) => !isSpecificReason(r)).map((r) => `reason does not say why: ${JSON.stringify(r)}`);
}
