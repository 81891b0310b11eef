/** The counter epoch: counters restart from 0 whenever the node reboots or the agent restarts. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** Kernel boot id (changes at every boot), or the hostname where /proc does not have it. */
export function bootId(procRoot = '/proc'): string {
  try {
    return readFileSync(`${procRoot}/sys/kernel/random/boot_id`, 'utf8').trim();
  } catch {
    return hostname();
  }
}

/** Epoch id for an agent started at `startTs` (ms since the Unix epoch). */
export function makeEpoch(startTs: number, procRoot?: string): string {
  return `${bootId(procRoot)}:${startTs}`;
}
