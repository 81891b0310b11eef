/**
 * Process plumbing of the benchmarks that run a collector and load processes: the helper
 * scripts compiled to plain .mjs (no tsx loader in the processes measured), child processes
 * tracked so none outlives the run, a typed IPC wrapper to await a child's next message of a
 * type, free ports, /healthz, and the machine's CPU counters.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const live = new Set<ChildProcess>();

/** Kill every process started through `track`; safe to call more than once. */
export function killAll(): void {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  live.clear();
}

/**
 * A temp directory for this run: on exit, and on SIGINT/SIGTERM/SIGHUP, every tracked process
 * is killed and the directory removed.
 */
export function runDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
  return dir;
}

export function track(p: ChildProcess): ChildProcess {
  live.add(p);
  p.on('exit', () => live.delete(p));
  return p;
}

export function alive(p: ChildProcess): boolean {
  return p.exitCode === null && p.signalCode === null;
}

/** Wait for a process to exit, killing it after `graceMs`. */
export async function ended(p: ChildProcess, graceMs: number): Promise<void> {
  if (!alive(p)) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/**
 * Bundle `entries` (name -> .ts path) into `outDir` as .mjs, `ws` left external and pointed at
 * the workspace's copy by absolute URL (the files live in a temp folder with no node_modules).
 */
export async function compile(root: string, outDir: string, entries: Record<string, string>): Promise<Record<string, string>> {
  const wsUrl = pathToFileURL(join(createRequire(join(root, 'package.json')).resolve('ws/package.json'), '../wrapper.mjs')).href;
  await build({
    entryPoints: entries,
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['ws'],
    logLevel: 'error',
  });
  const out: Record<string, string> = {};
  for (const name of Object.keys(entries)) {
    const f = join(outDir, `${name}.mjs`);
    writeFileSync(f, readFileSync(f, 'utf8').replace(/from\s*["']ws["']/g, `from ${JSON.stringify(wsUrl)}`));
    out[name] = f;
  }
  return out;
}

/** A child process spoken to over IPC, whose messages carry a `type`. */
export class IpcChild<In extends { readonly type: string }, Out> {
  readonly proc: ChildProcess;
  readonly #waiting = new Map<string, Array<(m: In) => void>>();
  readonly #early = new Map<string, In[]>();

  /** `stdout` 'ignore' and `stderr` 'pipe' (read it from `proc.stderr`) for a child whose banners would clutter the report. */
  constructor(cmd: string, args: readonly string[], stdout: 'inherit' | 'ignore' = 'inherit', stderr: 'inherit' | 'pipe' = 'inherit') {
    this.proc = track(spawn(cmd, args, { stdio: ['ignore', stdout, stderr, 'ipc'] }));
    this.proc.on('message', (m: In) => {
      const w = this.#waiting.get(m.type)?.shift();
      if (w !== undefined) w(m);
      else this.#early.set(m.type, [...(this.#early.get(m.type) ?? []), m]);
    });
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  next<T extends In['type']>(type: T, timeoutMs: number): Promise<Extract<In, { type: T }>> {
    const early = this.#early.get(type)?.shift();
    if (early !== undefined) return Promise.resolve(early as Extract<In, { type: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`process ${this.pid}: no "${type}" message after ${timeoutMs} ms`)), timeoutMs);
      const onExit = (): void => reject(new Error(`process ${this.pid} exited while waiting for "${type}"`));
      this.proc.once('exit', onExit);
      const list = this.#waiting.get(type) ?? [];
      list.push((m) => {
        clearTimeout(timer);
        this.proc.off('exit', onExit);
        resolve(m as Extract<In, { type: T }>);
      });
      this.#waiting.set(type, list);
    });
  }

  tell(msg: Out): void {
    if (this.proc.connected) this.proc.send(msg as object);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function waitHealthy(port: number, p: ChildProcess, what: string): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (!alive(p)) throw new Error(`${what} exited (${p.exitCode ?? p.signalCode}) before it was ready`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${what} not ready on port ${port} after 30 s`);
}

export async function health(port: number): Promise<Record<string, unknown>> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(10_000) });
    return (await res.json()) as Record<string, unknown>;
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}
