/**
 * Property-based fuzzing of the agent's parsers over mutations of the real captured fixtures
 * (bytes flipped, lines cut or repeated, fields swapped, unicode and odd numbers inserted,
 * truncation, empty text, random bytes). Each run is a few hundred cases so `npm test` stays
 * quick; `npm run bench -- fuzz` runs 100,000 per parser.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeSysfs } from '../sysfs.js';
import { caseInput, fuzzCaseArb, problemsOf, type FuzzCase } from './mutators.js';
import { nvidiaSmiCsvTarget, nvidiaSmiXmlTarget, raplTarget, slurmTarget, type FuzzTarget, type RaplFuzz } from './targets.js';

/** Asserts that no case of `target` crashes and that everything it skipped or refused says why. */
async function fuzz(target: FuzzTarget, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fuzzCaseArb(target.corpus.length), async (c: FuzzCase) => {
      const outcome = await target.run(caseInput(target.corpus, c), c.fixture);
      expect(problemsOf(outcome)).toEqual([]);
    }),
    { numRuns },
  );
}

describe('fuzz: agent parsers never crash on hostile input, and say why they skip', () => {
  it('the mutators change the fixtures (a fuzz run that tests the originals only would prove nothing)', () => {
    const target = nvidiaSmiCsvTarget();
    const changed = fc.sample(fuzzCaseArb(target.corpus.length), { numRuns: 200, seed: 1 }).filter((c) => caseInput(target.corpus, c) !== target.corpus[c.fixture]);
    expect(changed.length).toBeGreaterThan(150);
  });

  it('the unmutated fixtures are accepted, with nothing skipped', async () => {
    for (const target of [nvidiaSmiCsvTarget(), nvidiaSmiXmlTarget(), slurmTarget()]) {
      for (const [i, text] of target.corpus.entries()) {
        const outcome = await target.run(text, i);
        expect(problemsOf(outcome)).toEqual([]);
        expect({ target: target.name, fixture: i, kind: outcome.kind }).toEqual({ target: target.name, fixture: i, kind: 'accepted' });
      }
    }
  });

  it('nvidia-smi CSV: rows are what the wire accepts; a skipped line says why', async () => {
    await fuzz(nvidiaSmiCsvTarget(), 300);
  }, 120_000);

  it('nvidia-smi XML: GPUs are what the wire accepts; malformed XML is an Error that says so', async () => {
    await fuzz(nvidiaSmiXmlTarget(), 200);
  }, 120_000);

  it('Slurm: squeue and scontrol output never crash, never hang on a range, give finite numbers', async () => {
    await fuzz(slurmTarget(), 300);
  }, 120_000);

  describe('RAPL', () => {
    let rapl: RaplFuzz;
    beforeAll(async () => {
      rapl = await raplTarget();
    });
    afterAll(async () => {
      for (const root of rapl.roots) await removeSysfs(root);
    });

    it('the unmutated trees read with no warning', async () => {
      for (const [i, text] of rapl.target.corpus.entries()) expect(await rapl.target.run(text, i)).toEqual({ kind: 'accepted', reasons: [] });
    });

    it('mutated sysfs contents: probe refuses with a reason or reads monotonic, safe-integer counters; warnings say why', async () => {
      await fuzz(rapl.target, 300);
    }, 120_000);
  });
});
