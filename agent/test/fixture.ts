/**
 * Test fixtures are read from the source tree (`agent/test/fixtures/`), never from `dist/` or
 * from outside the package, so a test runs the same from any working directory.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of `relPath` under `agent/test/fixtures/`. */
export function fixture(relPath: string): string {
  return fileURLToPath(new URL(`./fixtures/${relPath}`, import.meta.url));
}

/** Text of the fixture at `relPath` under `agent/test/fixtures/` (UTF-8). */
export function fixtureText(relPath: string): string {
  return readFileSync(fixture(relPath), 'utf8');
}
