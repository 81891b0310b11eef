/**
 * A hand-written fast path for the collector's hottest decode: a Batch every second from every
 * node. zod walks the whole batch building a copy (most of the collector's CPU and garbage per
 * batch at scale); this checks the parsed JSON in place.
 *
 * It is deliberately the stricter of the two: it accepts only what BatchSchema accepts AND what
 * zod would hand back unchanged (no unknown keys anywhere, so nothing to strip). Anything else —
 * an error, or merely an extra field from a newer agent — goes to zod, which gives the verdict
 * and names the field. So the fast path can only save time, never change an answer; a property
 * test holds it to that against the schema.
 */
import { PROTOCOL_VERSION } from './constants.js';
import type { Batch } from './messages.js';

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Every own key of `o` is one of `allowed`. */
function onlyKeys(o: Obj, allowed: ReadonlySet<string>): boolean {
  for (const k in o) if (!allowed.has(k)) return false;
  return true;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
const isNonNegInt = (x: unknown): boolean => isInt(x) && x >= 0;
const isName = (x: unknown): boolean => typeof x === 'string' && x.length >= 1 && x.length <= 256;
const isRatio = (x: unknown): boolean => isNum(x) && x >= 0 && x <= 1;
const optNum = (x: unknown): boolean => x === undefined || isNum(x);
const optNonNeg = (x: unknown): boolean => x === undefined || (isNum(x) && x >= 0);
const optRatio = (x: unknown): boolean => x === undefined || isRatio(x);
const optStr = (x: unknown, max: number): boolean => x === undefined || (typeof x === 'string' && x.length <= max);

function arrayOf(x: unknown, max: number, item: (e: unknown) => boolean): boolean {
  if (!Array.isArray(x) || x.length > max) return false;
  for (let i = 0; i < x.length; i++) if (!item(x[i])) return false;
  return true;
}

const BATCH_KEYS = new Set(['v', 'type', 'node', 'epoch', 'seq', 'ts', 'samples', 'counters', 'jobs', 'gaps', 'sources']);
const SAMPLE_KEYS = new Set(['ts', 'gpus', 'cpus', 'host']);
const GPU_KEYS = new Set(['uuid', 'powerW', 'tempC', 'memTempC', 'utilRatio', 'memUsedBytes', 'smClockMHz']);
const CPU_KEYS = new Set(['id', 'powerW', 'utilRatio']);
const HOST_KEYS = new Set(['cpuUtilRatio', 'coreUtilRatio', 'memUsedBytes', 'memTotalBytes', 'load1']);
const COUNTERS_KEYS = new Set(['devices', 'jobs', 'idle']);
const DEVICE_KEYS = new Set(['id', 'kind', 'energyMj']);
const JOB_COUNTER_KEYS = new Set(['id', 'gpuEnergyMj', 'cpuEnergyMj']);
const SPLIT_KEYS = new Set(['gpuEnergyMj', 'cpuEnergyMj']);
const ALLOC_KEYS = new Set(['id', 'user', 'account', 'name', 'partition', 'startTs', 'gpus', 'cpuCores', 'cpuShareRatio']);
const SOURCE_KEYS = new Set(['name', 'lastReadMs', 'errors', 'timeouts']);

const isCounterMj = isNonNegInt;

function isGpuGauge(x: unknown): boolean {
  return isObj(x) && onlyKeys(x, GPU_KEYS) && isName(x['uuid']) && optNum(x['powerW']) && optNum(x['tempC']) && optNum(x['memTempC'])
    && optRatio(x['utilRatio']) && optNonNeg(x['memUsedBytes']) && optNonNeg(x['smClockMHz']);
}

function isCpuGauge(x: unknown): boolean {
  return isObj(x) && onlyKeys(x, CPU_KEYS) && isName(x['id']) && optNum(x['powerW']) && optRatio(x['utilRatio']);
}

function isHostGauge(x: unknown): boolean {
  return isObj(x) && onlyKeys(x, HOST_KEYS) && optRatio(x['cpuUtilRatio'])
    && (x['coreUtilRatio'] === undefined || arrayOf(x['coreUtilRatio'], 4096, isRatio))
    && optNonNeg(x['memUsedBytes']) && optNonNeg(x['memTotalBytes']) && optNonNeg(x['load1']);
}

function isSample(x: unknown): boolean {
  return isObj(x) && onlyKeys(x, SAMPLE_KEYS) && isNonNegInt(x['ts']) && arrayOf(x['gpus'], 1024, isGpuGauge)
    && arrayOf(x['cpus'], 1024, isCpuGauge) && (x['host'] === undefined || isHostGauge(x['host']));
}

function isDeviceCounter(x: unknown): boolean {
  if (!isObj(x) || !onlyKeys(x, DEVICE_KEYS) || !isName(x['id']) || !isCounterMj(x['energyMj'])) return false;
  const kind = x['kind'];
  return kind === 'gpu' || kind === 'cpu' || kind === 'dram';
}

function isSplit(x: unknown): boolean {
  return isObj(x) && onlyKeys(x, SPLIT_KEYS) && isCounterMj(x['gpuEnergyMj']) && isCounterMj(x['cpuEnergyMj']);
}

function isJobCounter(x: unknown): boolean {
  return isObj(x) && onlyKeys(x, JOB_COUNTER_KEYS) && isName(x['id']) && isCounterMj(x['gpuEnergyMj']) && isCounterMj(x['cpuEnergyMj']);
}

function isAllocation(x: unknown): boolean {
  return isObj(x) && onlyKeys(x, ALLOC_KEYS) && isName(x['id']) && typeof x['user'] === 'string' && x['user'].length <= 256
    && typeof x['account'] === 'string' && x['account'].length <= 256 && optStr(x['name'], 256) && optStr(x['partition'], 256)
    && isNonNegInt(x['startTs']) && arrayOf(x['gpus'], 1024, isName) && isNonNegInt(x['cpuCores']) && optRatio(x['cpuShareRatio']);
}

function isSource(x: unknown): boolean {
  return isObj(x) && onlyKeys(x, SOURCE_KEYS) && isName(x['name']) && isNum(x['lastReadMs']) && x['lastReadMs'] >= 0
    && isNonNegInt(x['errors']) && isNonNegInt(x['timeouts']);
}

/**
 * True when `raw` is a Batch exactly as BatchSchema would return it (valid, nothing to strip).
 * False says nothing either way: ask the schema.
 */
export function isExactBatch(raw: unknown): raw is Batch {
  if (!isObj(raw) || !onlyKeys(raw, BATCH_KEYS)) return false;
  if (raw['v'] !== PROTOCOL_VERSION || raw['type'] !== 'batch' || !isName(raw['node']) || !isName(raw['epoch'])) return false;
  const seq = raw['seq'];
  if (!isInt(seq) || seq <= 0 || !isNonNegInt(raw['ts']) || !isNonNegInt(raw['gaps'])) return false;
  if (!arrayOf(raw['samples'], 3600, isSample)) return false;
  const c = raw['counters'];
  if (!isObj(c) || !onlyKeys(c, COUNTERS_KEYS) || !arrayOf(c['devices'], 4096, isDeviceCounter) || !arrayOf(c['jobs'], 4096, isJobCounter) || !isSplit(c['idle'])) return false;
  if (!arrayOf(raw['jobs'], 4096, isAllocation)) return false;
  return raw['sources'] === undefined || arrayOf(raw['sources'], 64, isSource);
}
