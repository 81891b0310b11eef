/** The boot id half of the counter epoch: counters restart from 0 when the node reboots. */
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
