/**
 * One simulated node of `stroom demo`, in its own worker thread: the real agent code (meter,
 * spool, WebSocket link) with the simulated source in place of NVML / nvidia-smi.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SimulatedNode, runAgent } from '@stroom/agent';
import { makeLogger } from './log.js';

/** What the demo passes to each worker. */
export interface DemoWorkerData {
  readonly node: string;
  readonly ordinal: number;
  readonly gpus: number;
  readonly token: string;
  readonly collectorUrl: string;
  readonly intervalMs: number;
  readonly timeScale: number;
  readonly seed: number;
  readonly logLevel: string;
}

const data = workerData as DemoWorkerData;
const log = makeLogger(data.logLevel, `stroom-agent ${data.node}`);
const sim = new SimulatedNode({ node: data.node, nodeOrdinal: data.ordinal, gpus: data.gpus, seed: data.seed, timeScale: data.timeScale });
const running = await runAgent({ node: data.node, devices: sim, jobs: sim.jobs, intervalMs: data.intervalMs, log, collectorUrl: data.collectorUrl, token: data.token });
parentPort?.postMessage({ type: 'started' });
parentPort?.on('message', (msg: { type: string }) => {
  if (msg.type !== 'stop') return;
  void running.stop(3000).then((drained) => {
    parentPort?.postMessage({ type: 'stopped', drained });
    parentPort?.close();
  });
});
