/**
 * The agent's persisted state: epoch, last seq and the meter, written atomically next to the
 * spool after every batch, so an agent restarted on the same boot continues its counters
 * (and the hardware counter difference covers the time it was down) instead of starting a
 * new epoch. A new boot id starts a new epoch.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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

/** State in one JSON file, replaced atomically (write, then rename). */
export class FileStateStore implements StateStore {
  readonly #file: string;
  readonly #onCorrupt: (message: string) => void;

  constructor(file: string, onCorrupt: (message: string) => void) {
    this.#file = file;
    this.#onCorrupt = onCorrupt;
    mkdirSync(dirname(file), { recursive: true });
  }

  load(): AgentState | undefined {
    let text: string;
    try {
      text = readFileSync(this.#file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const state = JSON.parse(text) as AgentState;
      if (state.v !== 1 || typeof state.epoch !== 'string' || typeof state.seq !== 'number') throw new Error('unexpected shape');
      return state;
    } catch (err) {
      this.#onCorrupt(`agent state ${this.#file} unreadable (${(err as Error).message}); starting a new epoch`);
      return undefined;
    }
  }

  save(state: AgentState): void {
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    renameSync(tmp, this.#file);
  }
}
