/**
 * The configuration file: TOML with one table per command (`[agent]`, `[collector]`), whose keys
 * are the command's long options in snake_case (`--interval-ms` is `interval_ms`, `--no-rapl` is
 * `rapl = false`). The keys and their checks come from the command's own options, so a new flag
 * is a new key, checked by the same parser as on the command line.
 */
import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { z } from 'zod';
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

/** The zod schema of one option's value in the file; values go through the option's own parser. */
function valueSchema(option: Option): z.ZodType {
  if (isFlag(option)) return z.boolean({ error: (i) => `expected true or false, got ${show(i.input)}` });
  const one = z.union([z.string(), z.number()], { error: (i) => `expected a ${option.variadic ? 'list of strings' : 'string or number'}, got ${show(i.input)}` });
  const parsed = (raw: string | number, ctx: z.RefinementCtx): unknown => {
    const text = String(raw);
    if (option.argChoices !== undefined && !option.argChoices.includes(text)) {
      ctx.addIssue({ code: 'custom', message: `expected one of ${option.argChoices.join(', ')}, got ${show(raw)}` });
      return z.NEVER;
    }
    if (option.parseArg === undefined) return typeof raw === 'number' && !option.variadic ? text : raw;
    try {
      return option.parseArg(text, undefined);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  };
  if (option.variadic) return z.array(one, { error: (i) => `expected a list of strings, got ${show(i.input)}` }).transform((xs, ctx) => xs.map((x) => parsed(x, ctx)));
  return one.transform(parsed);
}

/** The schema of a command's table: exactly its options' keys, each checked by its option. */
export function sectionSchema(cmd: Command, except: readonly string[]): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = {};
  for (const o of fileOptions(cmd, except)) shape[fileKey(o)] = valueSchema(o).optional();
  return z.strictObject(shape) as unknown as z.ZodType<Record<string, unknown>>;
}

function issueText(file: string, section: string, issue: z.core.$ZodIssue): string {
  const path = [section, ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') return `${file}: ${issue.keys.map((k) => `${path}.${k}`).join(', ')}: unknown key${issue.keys.length > 1 ? 's' : ''} (see deploy/stroom.example.toml for every key)`;
  return `${file}: ${path}: ${issue.message}`;
}

/** Read and parse the TOML file; its tables other than the known sections are refused. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read the configuration file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) throw new ConfigError(`${file}:${err.line}:${err.column}: not valid TOML: ${err.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? ''}`);
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
 * option would parse it on the command line.
 */
export function loadSection(file: string, section: ConfigSection, cmd: Command, except: readonly string[]): Map<string, unknown> {
  const table = readConfigFile(file)[section] ?? {};
  const result = sectionSchema(cmd, except).safeParse(table);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => issueText(file, section, i)).join('\n'));
  const byKey = new Map(fileOptions(cmd, except).map((o) => [fileKey(o), o.attributeName()] as const));
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(result.data)) {
    const attr = byKey.get(k);
    if (attr !== undefined && v !== undefined) out.set(attr, v);
  }
  return out;
}
