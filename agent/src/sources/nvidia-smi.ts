/**
 * GPU readings from the `nvidia-smi` binary: one-shot commands at probe for the inventory, then
 * one long-lived child streaming `--query-gpu … -lms N` lines that are integrated into a
 * software energy counter per GPU.
 *
 * Is: the fallback where NVML cannot be loaded. nvidia-smi prints power, not energy, so every
 * streamed line is integrated (trapezoid over the row's own timestamp) and `read()` hands the
 * meter a cumulative `energyCounterMj`. The child samples at 10 Hz when the GPU reports only
 * instantaneous power (a 0.3 s dip sampled once a second would be missed or over-counted), and
 * at the report interval, at most 1 s, when it reports the 1 s `power.draw.average` (sampling
 * less often than the averaging window would drop energy). Is not: exact at power steps
 * shorter than the sampling interval, nor a source of MIG power (power is per physical GPU).
 *
 * Faults never throw from `read()`: a child that exits is restarted with backoff, one silent
 * for 3 intervals is killed and restarted, lines that are not GPU rows are counted and
 * skipped; each kind is logged once at warn, then at debug.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { GpuInfo } from '@stroom/protocol';
import { trapezoidMj } from '../energy/integrator.js';
import { SourceUnavailable, type DeviceReadings, type DeviceSource, type GpuReading, type Inventory, type Tick } from '../source.js';
import { LineSplitter, parseQueryGpuCsv, parseQueryGpuLine, whyNotRow, type CsvGpuRow } from './nvidia-smi-csv.js';
import { chooseFields, parseHelpQueryGpu } from './nvidia-smi-fields.js';
import { parseListGpus, parseQueryXml, type ListedGpu } from './nvidia-smi-xml.js';

/** Options of the nvidia-smi source. */
export interface NvidiaSmiSourceOptions {
  /** Path or name (looked up on PATH) of the binary (default `nvidia-smi`). */
  readonly nvidiaSmiPath?: string;
  /** The agent's report interval in ms; the child samples at most this far apart. */
  readonly intervalMs: number;
  readonly log: Logger;
  /** Longest a one-shot command, or the child's first line, may take, in ms (default 20 000). */
  readonly spawnTimeoutMs?: number;
  /** Extra environment for every nvidia-smi run (tests point the fake at its fixtures). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Child sampling interval in ms when only instantaneous power is reported (10 Hz). */
export const NVIDIA_SMI_FAST_INTERVAL_MS = 100;
/** Averaging window of `power.draw.average` in ms; the child never samples it less often. */
export const NVIDIA_SMI_AVERAGE_WINDOW_MS = 1000;
/** A child silent for this many sampling intervals is restarted; a longer gap between rows is not integrated. */
export const NVIDIA_SMI_SILENT_INTERVALS = 3;
/** Default timeout in ms of one-shot commands and of the child's first line. */
export const NVIDIA_SMI_SPAWN_TIMEOUT_MS = 20_000;
/** Longest back-off between restarts of a child that keeps exiting, in ms. */
export const NVIDIA_SMI_MAX_RESTART_DELAY_MS = 30_000;
// `-q -x` of an 8-GPU node with many processes runs to megabytes; execFile's default is 1 MiB.
const MAX_BUFFER_BYTES = 64 * 1024 * 1024;

/** Integration state and counts of one GPU. */
export interface NvidiaSmiGpuStats {
  /** Rows received for this GPU. */
  samples: number;
  /** Steps between rows longer than the gap limit (or going backwards), not integrated. */
  gaps: number;
  /** Integrated energy in mJ, unrounded; the counter in `read()` is its floor. */
  energyMj: number;
  /** Timestamp of the first row, node-local wall clock read as UTC, in ms (see `CsvGpuRow.localTsMs`). */
  firstTsMs?: number;
  /** Timestamp of the latest row, same clock as `firstTsMs`. */
  lastTsMs?: number;
}

/** Counters of the source's own health. */
export interface NvidiaSmiStats {
  /** GPU rows parsed from the child. */
  lines: number;
  /** Child lines that were not GPU rows (skipped). */
  garbageLines: number;
  /** Streaming children started, including restarts. */
  childStarts: number;
  /** Children that exited without being asked to. */
  childExits: number;
  /** Children killed by the watchdog for being silent. */
  watchdogKills: number;
  /** Children that could not be started at all. */
  spawnErrors: number;
  /** Per GPU UUID. */
  gpus: Record<string, NvidiaSmiGpuStats>;
}

interface LastSample {
  readonly monoMs: number;
  readonly tsMs: number | undefined;
  readonly powerW: number | undefined;
}

interface GpuState {
  readonly stats: NvidiaSmiGpuStats;
  last?: LastSample;
  row?: CsvGpuRow;
  rowMonoMs?: number;
  powerSeen: boolean;
}

const LIVE_CHILDREN = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kill streaming children when the agent exits, whatever path it exits by. */
function trackChild(child: ChildProcess): void {
  LIVE_CHILDREN.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of LIVE_CHILDREN) c.kill('SIGKILL');
  });
}

function monoNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** GPU readings from `nvidia-smi`, with energy integrated from a streamed power reading. */
export class NvidiaSmiSource implements DeviceSource {
  /** Source id in config, logs and self-metrics. */
  readonly name = 'nvidia-smi';
  readonly #path: string;
  readonly #intervalMs: number;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #splitter = new LineSplitter();
  readonly #gpus = new Map<string, GpuState>();
  readonly #warned = new Set<string>();
  readonly #stats: Omit<NvidiaSmiStats, 'gpus'> = { lines: 0, garbageLines: 0, childStarts: 0, childExits: 0, watchdogKills: 0, spawnErrors: 0 };
  #order: string[] = [];
  #fields: readonly string[] = [];
  #args: readonly string[] = [];
  #childIntervalMs: number | undefined;
  #child: ChildProcess | undefined;
  #childStartMs = 0;
  #lastRowMs: number | undefined;
  #stderrTail = '';
  #restartDelayMs = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #lastWatchdogMs = 0;
  #stopped = false;

  /** A source that runs `nvidiaSmiPath`; nothing is started before `probe()`. */
  constructor(opts: NvidiaSmiSourceOptions) {
    this.#path = opts.nvidiaSmiPath ?? 'nvidia-smi';
    this.#intervalMs = opts.intervalMs;
    this.#log = opts.log;
    this.#timeoutMs = opts.spawnTimeoutMs ?? NVIDIA_SMI_SPAWN_TIMEOUT_MS;
    this.#env = { ...process.env, ...opts.env };
  }

  /** Health counters and per-GPU integration state (a copy). */
  get stats(): NvidiaSmiStats {
    const gpus: Record<string, NvidiaSmiGpuStats> = {};
    for (const [uuid, g] of this.#gpus) gpus[uuid] = { ...g.stats };
    return { ...this.#stats, gpus };
  }

  /** Children that exited or went silent, failed starts and skipped lines: faults it restarted or skipped past. */
  faults(): number {
    const s = this.#stats;
    return s.childExits + s.watchdogKills + s.spawnErrors + s.garbageLines;
  }

  /** Arguments of the streaming child (after `probe()`), e.g. `--query-gpu=…`, `-lms`, `100`. */
  get childArgs(): readonly string[] {
    return this.#args;
  }

  /** Process id of the running streaming child, if one runs. */
  get childPid(): number | undefined {
    return this.#child?.pid;
  }

  /** Sampling interval of the streaming child in ms (after `probe()`). */
  get childIntervalMs(): number | undefined {
    return this.#childIntervalMs;
  }

  /** Reads the field list and inventory, checks one sample, then starts the streaming child. */
  async probe(): Promise<Inventory> {
    await this.stop();
    this.#stopped = false;
    const help = parseHelpQueryGpu(await this.#run(['--help-query-gpu']));
    if (help.fields.length === 0) {
      throw new SourceUnavailable(`"${this.#path} --help-query-gpu" listed no fields; update the NVIDIA driver, or use the NVML source`);
    }
    const xml = await this.#run(['-q', '-x']);
    let inv = parseQueryXml(xml);
    if (inv.gpus.some((g) => g.migSlices !== undefined)) {
      // MIG UUIDs (what Slurm hands jobs) are printed only by -L.
      let listing: ListedGpu[] = [];
      try {
        listing = parseListGpus(await this.#run(['-L']));
      } catch (err) {
        this.#log.warn({ source: this.name }, `nvidia-smi -L failed, MIG devices unknown: ${(err as Error).message}`);
      }
      inv = parseQueryXml(xml, listing);
    }
    for (const w of inv.warnings) this.#log.warn({ source: this.name }, w);
    if (inv.gpus.length === 0) throw new SourceUnavailable(`"${this.#path} -q -x" found no GPUs; check that the driver sees them (nvidia-smi -L)`);

    const choice = chooseFields(help);
    if (!choice.fields.includes('uuid')) throw new SourceUnavailable(`"${this.#path}" cannot query uuid; the driver is too old for this source`);
    if (!choice.power) this.#log.warn({ source: this.name }, 'nvidia-smi reports no power field; GPU energy will be missing');
    this.#fields = choice.fields;
    const query = `--query-gpu=${choice.fields.join(',')}`;
    // One sample first: it checks the field list, and shows whether the average is really filled in
    // (a Turing capture prints [N/A] for it, and the help text says GA100 does not fill it either).
    const first = parseQueryGpuCsv(await this.#run([query, '--format=csv,noheader,nounits']), choice.fields);
    const averaged = first.rows.length > 0 && first.rows.every((r) => r.powerField === 'power.draw.average');
    this.#childIntervalMs = Math.max(1, Math.round(averaged ? Math.min(this.#intervalMs, NVIDIA_SMI_AVERAGE_WINDOW_MS) : Math.min(this.#intervalMs, NVIDIA_SMI_FAST_INTERVAL_MS)));
    this.#args = [query, '--format=csv,noheader,nounits', '-lms', String(this.#childIntervalMs)];

    this.#order = inv.gpus.map((g: GpuInfo) => g.uuid);
    for (const uuid of this.#order) this.#state(uuid);
    const now = monoNowMs();
    for (const row of first.rows) this.#gauge(row, now);
    this.#log.info({ source: this.name, gpus: inv.gpus.length, intervalMs: this.#childIntervalMs, fields: choice.fields }, `nvidia-smi streams every ${this.#childIntervalMs} ms`);

    this.#restartDelayMs = this.#childIntervalMs;
    this.#spawn();
    this.#lastWatchdogMs = monoNowMs();
    this.#watchdog = setInterval(() => this.#checkSilence(), this.#childIntervalMs);
    this.#watchdog.unref();
    return { gpus: inv.gpus, cpus: [] };
  }

  /** The latest gauges per GPU (left out when older than the gap limit) and the integrated energy counter. */
  read(_tick: Tick): Promise<DeviceReadings> {
    const now = monoNowMs();
    const staleMs = NVIDIA_SMI_SILENT_INTERVALS * Math.max(this.#childIntervalMs ?? 0, this.#intervalMs);
    const gpus: GpuReading[] = [];
    for (const uuid of this.#order) {
      const g = this.#gpus.get(uuid);
      if (g === undefined) continue;
      const out: { -readonly [K in keyof GpuReading]: GpuReading[K] } = { uuid };
      const row = g.row;
      if (row !== undefined && g.rowMonoMs !== undefined && now - g.rowMonoMs <= staleMs) {
        if (row.powerW !== undefined) out.powerW = row.powerW;
        if (row.tempC !== undefined) out.tempC = row.tempC;
        if (row.memTempC !== undefined) out.memTempC = row.memTempC;
        if (row.utilRatio !== undefined) out.utilRatio = row.utilRatio;
        if (row.memUsedBytes !== undefined) out.memUsedBytes = row.memUsedBytes;
        if (row.smClockMHz !== undefined) out.smClockMHz = row.smClockMHz;
      }
      // No counter until power was seen: a counter stuck at 0 would claim 0 J was measured.
      if (g.powerSeen) out.energyCounterMj = Math.floor(g.stats.energyMj);
      gpus.push(out);
    }
    return Promise.resolve({ gpus, cpus: [] });
  }

  /** Stops the child and the watchdog; `read()` keeps answering with the last state. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#watchdog);
    clearTimeout(this.#restartTimer);
    this.#watchdog = undefined;
    this.#restartTimer = undefined;
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const hard = setTimeout(() => child.kill('SIGKILL'), 1000);
      // A child stuck in the driver (D state) survives even SIGKILL; stop() must still return.
      const giveUp = setTimeout(resolve, 3000);
      child.once('exit', () => {
        clearTimeout(hard);
        clearTimeout(giveUp);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  #state(uuid: string): GpuState {
    let g = this.#gpus.get(uuid);
    if (g === undefined) {
      g = { stats: { samples: 0, gaps: 0, energyMj: 0 }, powerSeen: false };
      this.#gpus.set(uuid, g);
    }
    return g;
  }

  /** Runs a one-shot command; failures become SourceUnavailable naming the fix. */
  #run(args: readonly string[]): Promise<string> {
    const cmd = `${this.#path} ${args.join(' ')}`;
    return new Promise((resolve, reject) => {
      execFile(this.#path, args, { timeout: this.#timeoutMs, maxBuffer: MAX_BUFFER_BYTES, env: this.#env, windowsHide: true, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err === null) {
          resolve(stdout);
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number | null };
        const said = `${stdout}\n${stderr}`.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '') ?? '';
        let msg: string;
        if (e.code === 'ENOENT') msg = `"${this.#path}" not found: install the NVIDIA driver utilities, or set nvidiaSmiPath to the binary`;
        else if (e.code === 'EACCES') msg = `"${this.#path}" is not executable by this user: check its permissions`;
        else if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') msg = `"${cmd}" printed more than ${MAX_BUFFER_BYTES} bytes`;
        else if (e.killed === true) {
          msg = `"${cmd}" timed out after ${this.#timeoutMs} ms: the driver may be hung, or slow to start without persistence mode (enable nvidia-persistenced)`;
        } else {
          msg = `"${cmd}" failed (exit ${String(e.code)}): ${said || e.message}; check that the NVIDIA driver is loaded and that nvidia-smi works as the agent user`;
        }
        reject(new SourceUnavailable(msg));
      });
    });
  }

  #spawn(): void {
    if (this.#stopped) return;
    this.#splitter.reset();
    this.#stderrTail = '';
    this.#lastRowMs = undefined;
    this.#childStartMs = monoNowMs();
    this.#stats.childStarts += 1;
    const child = spawn(this.#path, this.#args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.#env, windowsHide: true });
    this.#child = child;
    trackChild(child);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (child !== this.#child) return;
      const now = monoNowMs();
      for (const line of this.#splitter.push(chunk)) this.#line(line, now);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (child === this.#child) this.#stderrTail = (this.#stderrTail + s).slice(-1024);
    });
    child.on('error', (err) => {
      // 'error' without 'exit' means it never started (binary gone since probe, EAGAIN).
      LIVE_CHILDREN.delete(child);
      if (child !== this.#child) return;
      this.#stats.spawnErrors += 1;
      this.#warnOnce('spawn', `nvidia-smi could not be started: ${err.message}`);
      this.#child = undefined;
      this.#scheduleRestart();
    });
    // 'close', not 'exit': by then stdout and stderr are drained, so the last rows and the error text are in.
    child.on('close', (code, signal) => {
      LIVE_CHILDREN.delete(child);
      if (child !== this.#child) return;
      this.#child = undefined;
      this.#stats.childExits += 1;
      const why = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
      const said = this.#stderrTail.trim().split(/\r?\n/).pop() ?? '';
      this.#warnOnce('exit', `nvidia-smi streaming child ended (${why})${said === '' ? '' : `: ${said}`}; restarting`);
      this.#scheduleRestart();
    });
  }

  #scheduleRestart(): void {
    if (this.#stopped || this.#restartTimer !== undefined) return;
    const delay = this.#restartDelayMs;
    // Back off while children keep dying before printing a row; a good row resets it.
    this.#restartDelayMs = Math.min(NVIDIA_SMI_MAX_RESTART_DELAY_MS, delay * 2);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#spawn();
    }, delay);
    this.#restartTimer.unref();
  }

  #checkSilence(): void {
    const now = monoNowMs();
    const period = this.#childIntervalMs ?? NVIDIA_SMI_FAST_INTERVAL_MS;
    const late = now - this.#lastWatchdogMs > 2 * period;
    this.#lastWatchdogMs = now;
    // A late watchdog means our own event loop was blocked; the child's lines are queued behind it.
    if (late || this.#child === undefined) return;
    const silentMs = now - (this.#lastRowMs ?? this.#childStartMs);
    // Three of the agent's intervals, not of the 10 Hz child's: a real nvidia-smi on a busy
    // node can pause for a few hundred ms, and each restart costs its start-up time.
    const silentLimitMs = NVIDIA_SMI_SILENT_INTERVALS * Math.max(period, this.#intervalMs);
    const limitMs = this.#lastRowMs === undefined ? Math.max(this.#timeoutMs, silentLimitMs) : silentLimitMs;
    if (silentMs <= limitMs) return;
    const child = this.#child;
    this.#child = undefined;
    this.#stats.watchdogKills += 1;
    this.#warnOnce('silent', `nvidia-smi printed nothing for ${Math.round(silentMs)} ms; killing and restarting it`);
    child.kill('SIGKILL');
    this.#scheduleRestart();
  }

  #line(line: string, nowMs: number): void {
    if (line.trim() === '') return;
    const row = parseQueryGpuLine(line, this.#fields);
    if (row === undefined) {
      this.#stats.garbageLines += 1;
      const why = whyNotRow(line, this.#fields) ?? 'unreadable';
      this.#warnOnce('garbage', `nvidia-smi printed a line that is not a GPU row (${why}), skipped: ${JSON.stringify(line.slice(0, 200))}`);
      return;
    }
    this.#stats.lines += 1;
    this.#lastRowMs = nowMs;
    this.#restartDelayMs = this.#childIntervalMs ?? NVIDIA_SMI_FAST_INTERVAL_MS;
    this.#integrate(row, nowMs);
  }

  /** Adds the trapezoid since this GPU's previous row; a step over the gap limit starts afresh. */
  #integrate(row: CsvGpuRow, nowMs: number): void {
    const g = this.#gauge(row, nowMs);
    const s = g.stats;
    s.samples += 1;
    if (row.localTsMs !== undefined) {
      s.firstTsMs ??= row.localTsMs;
      s.lastTsMs = row.localTsMs;
    }
    const last = g.last;
    g.last = { monoMs: nowMs, tsMs: row.localTsMs, powerW: row.powerW };
    if (last === undefined) return;
    // The row's own timestamp is when the GPU was read; arrival time adds pipe and scheduling jitter.
    const dtMs = row.localTsMs !== undefined && last.tsMs !== undefined ? row.localTsMs - last.tsMs : nowMs - last.monoMs;
    // Gaps are judged against the agent's interval: a 10 Hz stream that stalls for 400 ms is
    // better bridged by a straight line than dropped, which would lose that energy outright.
    const maxGapMs = NVIDIA_SMI_SILENT_INTERVALS * Math.max(this.#childIntervalMs ?? NVIDIA_SMI_FAST_INTERVAL_MS, this.#intervalMs);
    if (dtMs < 0 || dtMs > maxGapMs) {
      s.gaps += 1;
      return;
    }
    if (row.powerW !== undefined && last.powerW !== undefined) s.energyMj += trapezoidMj(last.powerW, row.powerW, dtMs);
  }

  /** Keeps `row` as the GPU's latest gauges. */
  #gauge(row: CsvGpuRow, nowMs: number): GpuState {
    const g = this.#state(row.uuid);
    if (!this.#order.includes(row.uuid)) {
      this.#order.push(row.uuid);
      this.#warnOnce(`uuid:${row.uuid}`, `nvidia-smi reports GPU ${row.uuid}, which -q -x did not list; reading it anyway`);
    }
    g.row = row;
    g.rowMonoMs = nowMs;
    if (row.powerW !== undefined) g.powerSeen = true;
    return g;
  }

  /** Logs the first occurrence of a kind of fault at warn, the rest at debug. */
  #warnOnce(kind: string, msg: string): void {
    const first = !this.#warned.has(kind);
    this.#warned.add(kind);
    if (first) this.#log.warn({ source: this.name }, msg);
    else this.#log.debug({ source: this.name }, msg);
  }
}
