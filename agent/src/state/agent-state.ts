/**
 * The agent's persisted state: epoch, last seq and the meter, written atomically next to the
 * spool after every batch, so an agent restarted on the same boot continues its counters
 * (and the hardware counter difference covers the time it was down) instead of starting a
 * new epoch. A new boot id starts a new epoch.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MeterState } from '../energy/meter.js';

/** What is persisted. */
export interface AgentState {
  readonly v: 1;
  readonly node: string;
  readonly bootId: string;
  readonly epoch: string;
  readonly seq: number;
  readonly meter: MeterState;
}

/** Where the agent state lives. */
export interface StateStore {
  load(): AgentState | undefined;
  save(state: AgentState): void;
}

/**
 * State in two JSON files written in turn, in place. A crash mid-write tears at most the file
 * being written; loading takes the newest intact one. This skips a rename per batch, which
 * cost more than everything else the agent does in a tick on some filesystems.
 */
export class FileStateStore implements StateStore {
  readonly #files: readonly [string, string];
  readonly #onCorrupt: (message: string) => void;
  #next = 0;

  /** `file` names the state; the two halves are `file` with `.a` and `.b` appended. */
  constructor(file: string, onCorrupt: (message: string) => void) {
    this.#files = [`${file}.a`, `${file}.b`];
    this.#onCorrupt = onCorrupt;
    mkdirSync(dirname(file), { recursive: true });
  }

  load(): AgentState | undefined {
    let best: AgentState | undefined;
    const problems: string[] = [];
    this.#files.forEach((file, i) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return;
      }
      try {
        const state = JSON.parse(text) as AgentState;
        if (state.v !== 1 || typeof state.epoch !== 'string' || typeof state.seq !== 'number') throw new Error('unexpected shape');
        if (best === undefined || state.seq > best.seq) {
          best = state;
          // Overwrite the older half next.
          this.#next = 1 - i;
        }
      } catch (err) {
        problems.push(`${file} (${(err as Error).message})`);
      }
    });
    if (problems.length > 0) {
      this.#onCorrupt(`agent state unreadable: ${problems.join('; ')}; ${best === undefined ? 'starting a new epoch' : `continuing from seq ${best.seq}`}`);
    }
    return best;
  }

  save(state: AgentState): void {
    writeFileSync(this.#files[this.#next] as string, JSON.stringify(state));
    this.#next = 1 - this.#next;
  }
}
