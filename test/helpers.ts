/** Helpers shared by the cross-package tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';

/** A logger that stays quiet unless STROOM_TEST_LOG is set (e.g. `STROOM_TEST_LOG=debug`). */
export function testLog(): Logger {
  return pino({ level: process.env['STROOM_TEST_LOG'] ?? 'silent' }, pino.destination(2));
}

/** A fresh temporary directory and its cleanup. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `stroom-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** GET a JSON document from the collector. */
export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}
