/**
 * The configuration file: TOML with one table per command (`[agent]`, `[collector]`), whose keys
 * are the command's long options in snake_case (`--interval-ms` is `interval_ms`, `--no-rapl` is
 * `rapl = false`). The keys and their checks come from the command's own options, so a new flag
 * is a new key, checked by the same parser as on the command line.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Command, Option } from 'commander';

/** The commands that read a table of the file. */
export const CONFIG_SECTIONS = ['agent', 'collector'] as const;
export type ConfigSection = (typeof CONFIG_SECTIONS)[number];

/** A bad configuration file; the message names the file and, where there is one, the key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The file key of an option: its attribute name in snake_case (`intervalMs` → `interval_ms`). */
export function fileKey(option: Option): string {
  return option.attributeName().replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The environment variable of an option, e.g. `STROOM_AGENT_INTERVAL_MS`, `STROOM_AGENT_NO_RAPL`. */
export function envName(section: ConfigSection, option: Option): string {
  // A boolean flag is set by its variable's presence, so the variable is named after the flag.
  const key = isFlag(option) ? (option.long ?? '').replace(/^--/, '') : fileKey(option);
  return `STROOM_${section.toUpperCase()}_${key.replace(/[-]/g, '_').toUpperCase()}`;
}

/** An option that takes no value (`--print`, `--no-rapl`). */
export function isFlag(option: Option): boolean {
  return !option.required && !option.optional;
}

/** The options of `cmd` a file may set: every long option but `except` and help. */
export function fileOptions(cmd: Command, except: readonly string[]): Option[] {
  return cmd.options.filter((o) => o.long !== undefined && o.long !== '--help' && !except.includes(o.attributeName()));
}

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/**
 * One option's value from the file, checked and parsed as the option parses it on the command
 * line; throws a message without the key. Checked by hand rather than with zod: the agent runs
 * on every GPU node with --config, and zod would add ~12 MB to it (see protocol/src/wire.ts).
 */
function fileValue(option: Option, raw: unknown): unknown {
  if (isFlag(option)) {
    if (typeof raw !== 'boolean') throw new Error(`expected true or false, got ${show(raw)}`);
    return raw;
  }
  const one = (x: unknown): unknown => {
    if (typeof x !== 'string' && typeof x !== 'number') throw new Error(`expected a ${option.variadic ? 'list of strings' : 'string or number'}, got ${show(x)}`);
    const text = String(x);
    if (option.argChoices !== undefined && !option.argChoices.includes(text)) throw new Error(`expected one of ${option.argChoices.join(', ')}, got ${show(x)}`);
    return option.parseArg === undefined ? text : option.parseArg(text, undefined);
  };
  if (!option.variadic) return one(raw);
  if (!Array.isArray(raw)) throw new Error(`expected a list of strings, got ${show(raw)}`);
  return raw.map(one);
}

/** Read and parse the TOML file; its tables other than the known sections are refused. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read the configuration file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // Loaded here, not at start-up: only `--config` needs it.
  const toml = createRequire(import.meta.url)('smol-toml') as typeof import('smol-toml');
  let doc: Record<string, unknown>;
  try {
    doc = toml.parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof toml.TomlError) throw new ConfigError(`${file}:${err.line}:${err.column}: not valid TOML: ${err.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? ''}`);
    throw err;
  }
  for (const [k, v] of Object.entries(doc)) {
    if (!(CONFIG_SECTIONS as readonly string[]).includes(k)) throw new ConfigError(`${file}: ${k}: unknown key; the file has the tables ${CONFIG_SECTIONS.map((s) => `[${s}]`).join(' and ')}`);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${file}: ${k}: expected a table ([${k}]), got ${show(v)}`);
  }
  return doc;
}

/**
 * The values of `section` in `file`, by option attribute name, each already parsed as its
 * option would parse it on the command line. Unknown keys are refused; every problem is listed,
 * each as `FILE: section.key: what is wrong`.
 */
export function loadSection(file: string, section: ConfigSection, cmd: Command, except: readonly string[]): Map<string, unknown> {
  const table = (readConfigFile(file)[section] ?? {}) as Record<string, unknown>;
  const byKey = new Map(fileOptions(cmd, except).map((o) => [fileKey(o), o] as const));
  const out = new Map<string, unknown>();
  const problems: string[] = [];
  for (const [key, raw] of Object.entries(table)) {
    const option = byKey.get(key);
    if (option === undefined) {
      problems.push(`${file}: ${section}.${key}: unknown key (see deploy/stroom.example.toml for every key)`);
      continue;
    }
    try {
      out.set(option.attributeName(), fileValue(option, raw));
    } catch (err) {
      problems.push(`${file}: ${section}.${key}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return out;
}
