/**
 * Pure: `nvidia-smi -q -x` (and `nvidia-smi -L`) text → the GPU inventory.
 *
 * The DTD version (`nvsmi_device_v11/12/13.dtd`) is read for the record and for one warning
 * when it is unknown, but elements are looked up by name, not by version: the captures show
 * the power block is set by the driver, not the DTD (driver 525 says v12 and still writes the
 * old `<power_readings>`; 535 writes `<gpu_power_readings>` with `power_draw`; 570+ writes
 * `average_power_draw`/`instant_power_draw`). One tolerant reader is therefore safer than one
 * reader per DTD, and an unknown version is read by the same (newest) rules.
 *
 * Entities are not expanded (`processEntities: false`): a DOCTYPE can declare entities, and
 * nvidia-smi's output never needs them; the five predefined XML escapes are decoded by hand.
 */
import { XMLParser } from 'fast-xml-parser';
import type { GpuInfo, MigDeviceInfo } from '@stroom/protocol';
import { mibToBytes } from '@stroom/protocol/wire';

/** DTD versions whose layout the reader was checked against (`nvsmi_device_vNN.dtd`). */
export const KNOWN_XML_SCHEMAS: readonly number[] = [11, 12, 13];

/** The GPU inventory read from `-q -x`. */
export interface XmlInventory {
  /** GPUs in document order; `index` is that order (it is what `--query-gpu=index` reports). */
  readonly gpus: readonly GpuInfo[];
  /** DTD version from the DOCTYPE line; absent when there is none. */
  readonly schemaVersion?: number;
  /** `driver_version`, e.g. `590.48.01`. */
  readonly driverVersion?: string;
  /** Things an operator should know (unknown DTD, MIG devices without UUIDs); returned, never thrown. */
  readonly warnings: readonly string[];
}

/** One GPU line of `nvidia-smi -L`, with its MIG devices. */
export interface ListedGpu {
  /** `GPU N:` as printed. */
  readonly index: number;
  readonly name: string;
  readonly uuid: string;
  readonly mig: readonly ListedMigDevice[];
}

/** One `MIG <profile> Device N: (UUID: MIG-…)` line of `nvidia-smi -L`. */
export interface ListedMigDevice {
  /** MIG device index within its GPU. */
  readonly index: number;
  /** Profile as printed, e.g. `1c.3g.71gb` or `2g.35gb`. */
  readonly profile: string;
  readonly uuid: string;
}

const GPU_LINE = /^GPU (\d+): (.*?) \(UUID: (GPU-[^)\s]+)\)\s*$/;
const MIG_LINE = /^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[^)\s]+)\)\s*$/;

/** Parses `nvidia-smi -L`: GPUs and their MIG devices (the only place MIG UUIDs are printed). */
export function parseListGpus(text: string): ListedGpu[] {
  const gpus: Array<{ index: number; name: string; uuid: string; mig: ListedMigDevice[] }> = [];
  for (const line of text.split(/\r?\n/)) {
    const g = GPU_LINE.exec(line);
    if (g !== null) {
      gpus.push({ index: Number(g[1]), name: (g[2] as string).trim(), uuid: g[3] as string, mig: [] });
      continue;
    }
    const m = MIG_LINE.exec(line);
    const parent = gpus[gpus.length - 1];
    if (m !== null && parent !== undefined) parent.mig.push({ index: Number(m[2]), profile: m[1] as string, uuid: m[3] as string });
  }
  return gpus;
}

/**
 * Compute slices a MIG device holds, from its profile: the `C` of `Cc.Gg.…` when the device
 * is a compute instance inside a bigger GPU instance (`1c.3g.71gb` holds 1 of the 3), else
 * the `G` of `Gg.…`. Undefined when the profile does not have that shape.
 */
export function slicesFromProfile(profile: string): number | undefined {
  const m = /^(?:(\d+)c\.)?(\d+)g\./.exec(profile);
  if (m === null) return undefined;
  const n = Number(m[1] ?? m[2]);
  return n > 0 ? n : undefined;
}

/** Compute slices of a whole GPU in MIG mode, by product name: A30 and the RTX PRO Blackwell boards have 4, the rest 7. */
export function migSlicesOf(productName: string): number {
  return /\bA30\b|RTX PRO/i.test(productName) ? 4 : 7;
}

// SMs in one compute slice per architecture (A100/A30 1g: 14 SMs; H100/H200 1g: 16 SMs).
const SMS_PER_SLICE: Readonly<Record<string, number>> = { Ampere: 14, Hopper: 16 };

type XmlNode = Record<string, unknown>;

const PARSER = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Values stay strings: `0123` must not become 123, and units are stripped by us.
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => name === 'gpu' || name === 'mig_device' || name === 'process_info',
});

const ESCAPES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    if (e.startsWith('#')) {
      const cp = e.startsWith('#x') ? parseInt(e.slice(2), 16) : Number(e.slice(1));
      // A reference past U+10FFFF is not a character (String.fromCodePoint would throw).
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : '\uFFFD';
    }
    return ESCAPES[e] ?? '';
  });
}

const ABSENT_TEXT = new Set(['', 'N/A', '[N/A]', 'Unknown Error', 'Not Supported', 'Requested functionality has been deprecated']);

function child(node: unknown, name: string): unknown {
  return typeof node === 'object' && node !== null ? (node as XmlNode)[name] : undefined;
}

/** Trimmed, decoded text of an element; undefined when missing or an absent placeholder. */
function text(node: unknown): string | undefined {
  let v = node;
  if (typeof v === 'object' && v !== null) v = (v as XmlNode)['#text'];
  if (typeof v !== 'string') return undefined;
  const t = decode(v).trim();
  return ABSENT_TEXT.has(t) ? undefined : t;
}

/** A number with an optional unit (`81920 MiB`, `500.00 W`); undefined when absent or another unit. */
function num(node: unknown, unit?: string): number | undefined {
  let t = text(node);
  if (t === undefined) return undefined;
  if (unit !== undefined && t.endsWith(` ${unit}`)) t = t.slice(0, -unit.length - 1);
  // 400 digits read as Infinity, which JSON sends as null and the wire refuses.
  return /^-?\d+(?:\.\d+)?$/.test(t) && Number.isFinite(Number(t)) ? Number(t) : undefined;
}

/** Longest name and PCI bus id the wire takes (protocol GpuInfoSchema). */
const MAX_NAME = 256;
const MAX_PCI_BUS_ID = 64;

/**
 * Parses `-q -x` into the inventory; `listing` (from `-L`) supplies MIG UUIDs and profiles.
 * Throws an Error that says so when the text is not well-formed XML; anything else odd is a
 * warning.
 */
export function parseQueryXml(xml: string, listing: readonly ListedGpu[] = []): XmlInventory {
  const warnings: string[] = [];
  const dtd = /<!DOCTYPE\s+nvidia_smi_log\s+SYSTEM\s+"nvsmi_device_v(\d+)\.dtd"/.exec(xml);
  const schemaVersion = dtd === null ? undefined : Number(dtd[1]);
  if (schemaVersion !== undefined && !KNOWN_XML_SCHEMAS.includes(schemaVersion)) {
    const newest = KNOWN_XML_SCHEMAS[KNOWN_XML_SCHEMAS.length - 1];
    warnings.push(`nvidia-smi -q -x: unknown schema nvsmi_device_v${schemaVersion}.dtd, read as v${newest}`);
  }
  let doc: unknown;
  try {
    doc = PARSER.parse(xml);
  } catch (err) {
    throw new Error(`nvidia-smi -q -x: not well-formed XML: ${(err as Error).message}`);
  }
  const log = child(doc, 'nvidia_smi_log');
  const gpuNodes = child(log, 'gpu');
  const gpus: GpuInfo[] = [];
  for (const g of Array.isArray(gpuNodes) ? (gpuNodes as unknown[]) : []) {
    const uuid = text(child(g, 'uuid'));
    if (uuid === undefined || uuid.length > MAX_NAME) {
      const why = uuid === undefined ? 'has no UUID' : `has a UUID of ${uuid.length} characters (at most ${MAX_NAME})`;
      warnings.push(`nvidia-smi -q -x: GPU ${(text(child(g, '@_id')) ?? String(gpus.length)).slice(0, 64)} ${why}; skipped`);
      continue;
    }
    gpus.push(readGpu(g, uuid, gpus.length, listing.find((l) => l.uuid === uuid), warnings));
  }
  const driverVersion = text(child(log, 'driver_version'));
  return {
    gpus,
    ...(schemaVersion === undefined ? {} : { schemaVersion }),
    ...(driverVersion === undefined ? {} : { driverVersion }),
    warnings,
  };
}

function readGpu(g: unknown, uuid: string, index: number, listed: ListedGpu | undefined, warnings: string[]): GpuInfo {
  const name = (text(child(g, 'product_name')) ?? listed?.name ?? '').slice(0, MAX_NAME);
  const info: { -readonly [K in keyof GpuInfo]: GpuInfo[K] } = { uuid, index, name };
  const minor = num(child(g, 'minor_number'));
  if (minor !== undefined && Number.isSafeInteger(minor) && minor >= 0) info.minor = minor;
  const pciBusId = text(child(child(g, 'pci'), 'pci_bus_id')) ?? text(child(g, '@_id'));
  if (pciBusId !== undefined && pciBusId.length <= MAX_PCI_BUS_ID) info.pciBusId = pciBusId;
  const memMiB = num(child(child(g, 'fb_memory_usage'), 'total'), 'MiB');
  if (memMiB !== undefined && memMiB >= 0 && Number.isFinite(mibToBytes(memMiB))) info.memTotalBytes = mibToBytes(memMiB);
  const limit = powerLimitW(g);
  if (limit !== undefined) info.powerLimitW = limit;
  if (text(child(child(g, 'mig_mode'), 'current_mig')) === 'Enabled') {
    const migSlices = migSlicesOf(name);
    info.migSlices = migSlices;
    info.migDevices = migDevices(g, uuid, migSlices, listed, warnings);
  }
  // nvidia-smi prints no energy counter; NVML has one, read by another source.
  info.hasEnergyCounter = false;
  return info;
}

/** The limit the GPU enforces: `enforced_power_limit` (≤ 525), else `current_power_limit` (535+), else `power_limit`. */
function powerLimitW(g: unknown): number | undefined {
  for (const block of ['gpu_power_readings', 'power_readings']) {
    const b = child(g, block);
    if (b === undefined) continue;
    for (const f of ['enforced_power_limit', 'current_power_limit', 'power_limit']) {
      const w = num(child(b, f), 'W');
      if (w !== undefined && w > 0) return w;
    }
  }
  return undefined;
}

function migDevices(g: unknown, uuid: string, migSlices: number, listed: ListedGpu | undefined, warnings: string[]): MigDeviceInfo[] {
  const nodes = child(child(g, 'mig_devices'), 'mig_device');
  const xmlDevices = Array.isArray(nodes) ? (nodes as unknown[]) : [];
  const smOf = (index: number): number | undefined => {
    const d = xmlDevices.find((x) => num(child(x, 'index')) === index);
    return num(child(child(child(d, 'device_attributes'), 'shared'), 'multiprocessor_count'));
  };
  if (listed === undefined || listed.mig.length === 0) {
    if (xmlDevices.length > 0) {
      warnings.push(
        `GPU ${uuid}: MIG is on with ${xmlDevices.length} devices, but -q -x prints no MIG UUIDs; ` +
          `MIG devices are left out (nvidia-smi -L lists them)`,
      );
    }
    return [];
  }
  const arch = text(child(g, 'product_architecture'));
  const perSlice = arch === undefined ? undefined : SMS_PER_SLICE[arch];
  const out: MigDeviceInfo[] = [];
  for (const m of [...listed.mig].sort((a, b) => a.index - b.index)) {
    const sm = smOf(m.index);
    // Without a profile, SM count / SMs per slice; floor because the 3g of H100 has 60 SMs, not 48.
    const bySm = sm !== undefined && perSlice !== undefined ? Math.min(migSlices, Math.floor(sm / perSlice)) : undefined;
    const slices = slicesFromProfile(m.profile) ?? (bySm !== undefined && bySm > 0 ? bySm : undefined);
    if (slices === undefined) {
      warnings.push(`GPU ${uuid}: MIG device ${m.index} (${m.profile}) has no readable slice count; left out`);
      continue;
    }
    out.push({ uuid: m.uuid, index: m.index, profile: m.profile, slices });
  }
  return out;
}
