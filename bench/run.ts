/**
 * `npm run bench` runs every benchmark; `npm run bench -- NAME` runs one. Each prints its
 * figures and a ratio against a baseline measured in the same run (the machine is shared
 * and noisy: ratios hold, absolute times drift).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const all = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, '')).sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${all.join(', ')}`);
  process.exit(1);
}
let failed = false;
for (const name of wanted.length > 0 ? wanted : all) {
  console.log(`\n## ${name}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${name}.bench.ts`], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
