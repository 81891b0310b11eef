/**
 * CPU cost of the agent's per-tick work for an 8-GPU node (meter update, gauges, batch
 * encode), against a baseline of only JSON-encoding the same batch, measured in the same run.
 * Sources are excluded: this is the agent's own overhead on top of reading the driver.
 */
import pino from 'pino';
import { Agent } from '../agent/src/agent.js';
import { MemorySpool } from '../agent/src/spool/memory-spool.js';
import type { DeviceReadings, DeviceSource, JobSource } from '../agent/src/source.js';

const GPUS = 8;
const TICKS = 20_000;
const uuids = Array.from({ length: GPUS }, (_, i) => `GPU-00000000-0000-0000-0000-00000000000${i}`);
let counter = 0;
const readings = (): DeviceReadings => {
  counter += 700_000;
  return {
    gpus: uuids.map((uuid, i) => ({ uuid, powerW: 600 + i, energyCounterMj: counter + i, tempC: 60, memTempC: 66, utilRatio: 0.97, memUsedBytes: 7e10, smClockMHz: 1980 })),
    cpus: [0, 1].flatMap((p) => [{ id: `package-${p}`, kind: 'cpu' as const, powerW: 250, energyCounterMj: counter / 3, utilRatio: 0.5 }, { id: `dram-${p}`, kind: 'dram' as const, powerW: 30, energyCounterMj: counter / 20 }]),
  };
};
const devices: DeviceSource = { name: 'bench', probe: async () => ({ gpus: uuids.map((uuid, index) => ({ uuid, index, name: 'H100' })), cpus: [{ id: 'package-0', cores: 56 }, { id: 'package-1', cores: 56 }] }), read: async () => readings() };
const jobs: JobSource = { name: 'bench', read: async () => [{ id: '1', user: 'u', account: 'a', startTs: 0, gpus: uuids.slice(0, 4), cpuCores: 56 }, { id: '2', user: 'u', account: 'a', startTs: 0, gpus: uuids.slice(4), cpuCores: 28 }] };

let mono = 0;
const spool = new MemorySpool();
const agent = new Agent({ node: 'bench', intervalMs: 1000, devices, jobs, spool, log: pino({ level: 'silent' }), clock: { nowMs: () => 1.79e12 + mono, monoMs: () => (mono += 1000) } });
await agent.probe();
let last = await agent.tick();
const t0 = process.hrtime.bigint();
for (let i = 0; i < TICKS; i++) {
  last = await agent.tick();
  spool.ack(last?.seq ?? 0);
}
const agentNs = Number(process.hrtime.bigint() - t0) / TICKS;
const t1 = process.hrtime.bigint();
let bytes = 0;
for (let i = 0; i < TICKS; i++) bytes += JSON.stringify(last).length;
const baselineNs = Number(process.hrtime.bigint() - t1) / TICKS;
console.log(`agent tick, ${GPUS} GPUs + 2 packages + 2 DRAM, ${TICKS} ticks: ${(agentNs / 1000).toFixed(1)} µs/tick (${((agentNs / 1e9) * 100).toFixed(4)} % of a core at 1 Hz)`);
console.log(`baseline JSON.stringify of the same batch (${Math.round(bytes / TICKS)} B): ${(baselineNs / 1000).toFixed(1)} µs`);
console.log(`ratio agent tick / encode-only: ${(agentNs / baselineNs).toFixed(2)}x`);
