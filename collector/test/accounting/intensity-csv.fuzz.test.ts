/**
 * Property-based fuzzing of the hourly series CSV parser over mutations of the project's own
 * series files (the template and the README's example): it either reads a series whose points
 * are usable (finite, non-negative, on the hour, strictly increasing) or throws an Error that
 * names the file and says what was wrong, never a TypeError or RangeError.
 *
 * The mutators are the agent's (`agent/test/fuzz/mutators.ts`, one module for every fuzz test
 * and `bench/fuzz.bench.ts`); they are imported by a computed path because a package's type
 * check may not reach into another package's tests.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseHourlySeriesCsv, seriesFactorFromCsv } from '../../src/accounting/intensity-csv.js';
import { MS_PER_HOUR } from '../../src/accounting/time-series.js';

interface FuzzCase {
  readonly fixture: number;
  readonly plan: readonly unknown[];
}
type Outcome = { readonly kind: 'accepted' | 'rejected'; readonly reasons: readonly string[] } | { readonly kind: 'crash'; readonly error: string };
/** The part of `agent/test/fuzz/mutators.ts` used here. */
interface Mutators {
  fuzzCaseArb(n: number): fc.Arbitrary<FuzzCase>;
  caseInput(corpus: readonly string[], c: FuzzCase): string;
  thrownOutcome(err: unknown, throwsByContract: boolean): Outcome;
  problemsOf(outcome: Outcome): string[];
}
const MUTATORS = fileURLToPath(new URL('../../../agent/test/fuzz/mutators.ts', import.meta.url));

const dataFile = (name: string): string => readFileSync(new URL(`../../data/${name}`, import.meta.url), 'utf8');

const README_EXAMPLE = /```csv\n([\s\S]*?)```/.exec(dataFile('README.md'))?.[1] ?? '';

/** The template, and the example in collector/data/README.md (the one series with rows in the project). */
export const INTENSITY_CORPUS: readonly string[] = [dataFile('grid-intensity-template.csv'), README_EXAMPLE];

/** One input through parse and factor building; an Error must name the file. */
function run(input: string, m: Mutators): Outcome {
  try {
    const csv = parseHourlySeriesCsv(input, 'fuzz.csv');
    let prev = -Infinity;
    for (const p of csv.points) {
      const usable = Number.isFinite(p.value) && p.value >= 0 && Number.isSafeInteger(p.fromTs) && Math.abs(p.fromTs) <= 8.64e15 && p.fromTs % MS_PER_HOUR === 0 && p.fromTs > prev;
      if (!usable) return { kind: 'crash', error: `accepted an unusable point ${JSON.stringify(p)}` };
      prev = p.fromTs;
    }
    seriesFactorFromCsv(csv, { unit: 'gCO2e/kWh' });
    return { kind: 'accepted', reasons: [] };
  } catch (err) {
    const outcome = m.thrownOutcome(err, true);
    if (outcome.kind === 'rejected' && !outcome.reasons.every((r) => r.startsWith('fuzz.csv'))) return { kind: 'crash', error: `error does not name the file: ${outcome.reasons.join('; ')}` };
    return outcome;
  }
}

describe('fuzz: intensity CSV', () => {
  it('mutated series files parse to usable points or fail with an Error naming the file, line and fault', async () => {
    const m = (await import(MUTATORS)) as Mutators;
    const { default: fastCheck } = await import('fast-check');
    fastCheck.assert(
      fastCheck.property(m.fuzzCaseArb(INTENSITY_CORPUS.length), (c) => {
        expect(m.problemsOf(run(m.caseInput(INTENSITY_CORPUS, c), m))).toEqual([]);
      }),
      { numRuns: 500 },
    );
  }, 120_000);

  describe('regressions found by fuzzing', () => {
    const head = '# source: s\ntimestamp,value\n';
    it('a value past the largest double (it read as Infinity) is refused', () => {
      expect(() => parseHourlySeriesCsv(`${head}2023-01-01T00:00:00Z,1e400\n`, 'x.csv')).toThrow(new Error('x.csv line 3: value "1e400" is too large to be a number'));
    });
    it('epoch ms past the last date a Date holds is refused, though it is a safe integer on the hour', () => {
      expect(() => parseHourlySeriesCsv(`${head}9000000000000000,1\n`, 'x.csv')).toThrow(new Error('x.csv line 3: timestamp 9000000000000000 is too large for epoch ms'));
    });
  });
});

describe('the example in collector/data/README.md', () => {
  it('is a series the parser accepts, as printed', () => {
    expect(parseHourlySeriesCsv(README_EXAMPLE, 'README.md').points.map((p) => p.value)).toEqual([312.5, 298, 301.2]);
  });
});
