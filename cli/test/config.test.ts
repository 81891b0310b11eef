/**
 * The configuration file: the annotated sample (deploy/stroom.example.toml) against the code's
 * options and defaults and against the README that embeds it; and `--config` with environment
 * overrides as a user runs them, through the built CLI.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import type { Command } from 'commander';
import { AGENT_DEFAULTS } from '@stroom/agent/config';
import { HelloSchema } from '@stroom/protocol';
import { agentCommand } from '../src/commands/agent.js';
import { collectorCommand } from '../src/commands/collector.js';
import { configurable, envName, fileKey, fileOptions, loadSection, NOT_IN_FILE } from '../src/config/index.js';
import type { ConfigSection } from '../src/config/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SAMPLE_PATH = join(ROOT, 'deploy/stroom.example.toml');
const SAMPLE = readFileSync(SAMPLE_PATH, 'utf8');
const MAIN = join(ROOT, 'cli/dist/src/main.js');

/** Defaults that depend on the machine or on another key: the prose must say what they are. */
const DYNAMIC: Record<string, { prose: string; value: () => unknown }> = {
  'agent.node': { prose: "Default: this host's short name.", value: () => hostname().split('.')[0] },
  'agent.jobs': { prose: 'Default: simulated when gpu = "simulated", else slurm.', value: () => undefined },
};

interface SampleKey {
  section: string;
  key: string;
  prose: string;
  env: string;
  valueToml: string;
}

/** The sample's keys: `## prose` lines, `## env NAME`, then `# key = value`. */
function sampleKeys(text: string): SampleKey[] {
  const out: SampleKey[] = [];
  let section = '';
  let prose: string[] = [];
  for (const line of text.split('\n')) {
    const table = /^\[(\w+)\]$/.exec(line);
    if (table !== null) {
      section = table[1] ?? '';
      prose = [];
      continue;
    }
    if (line.startsWith('## ')) prose.push(line.slice(3));
    else if (line === '##') prose.push('');
    const kv = /^# ([a-z_]+) = (.+)$/.exec(line);
    if (kv !== null) {
      const env = prose.map((p) => /^env (\S+)$/.exec(p)?.[1]).find((e) => e !== undefined) ?? '';
      out.push({ section, key: kv[1] ?? '', prose: prose.filter((p) => !p.startsWith('env ')).join(' '), env, valueToml: kv[2] ?? '' });
    }
    if (line === '') prose = [];
  }
  return out;
}

function commandOf(section: ConfigSection): Command {
  const cmd = section === 'agent' ? agentCommand() : collectorCommand();
  return configurable(cmd, section, { except: NOT_IN_FILE[section] });
}

const tmp = mkdtempSync(join(tmpdir(), 'stroom-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

const { STROOM_CONFIG: _c, ...BASE_ENV } = process.env;

function stroom(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...BASE_ENV, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe('deploy/stroom.example.toml', () => {
  const keys = sampleKeys(SAMPLE);

  it('is valid TOML with only the [agent] and [collector] tables, and loads as it is (every key commented out)', () => {
    expect(parse(SAMPLE)).toEqual({ agent: {}, collector: {} });
  });

  for (const section of ['agent', 'collector'] as const) {
    it(`lists every [${section}] option the command has, once, with its environment variable, and nothing else`, () => {
      const cmd = commandOf(section);
      const options = fileOptions(cmd, ['config', ...NOT_IN_FILE[section]]);
      const inSample = keys.filter((k) => k.section === section);
      expect(inSample.map((k) => k.key).sort()).toEqual(options.map(fileKey).sort());
      for (const o of options) {
        const k = inSample.find((s) => s.key === fileKey(o));
        expect(k?.env, `${section}.${fileKey(o)}`).toBe(envName(section, o));
        expect(o.envVar).toBe(envName(section, o));
      }
    });

    it(`shows the code's default for every [${section}] key, or says there is none`, () => {
      const cmd = commandOf(section);
      // Commander sets every default (and `true` for --no-* flags) when an option is added.
      const defaults = cmd.opts();
      const shown = new Map<string, unknown>();
      const inSample = keys.filter((k) => k.section === section);
      const uncommented = file(`${section}-defaults.toml`, `[${section}]\n` + inSample.map((k) => `${k.key} = ${k.valueToml}`).join('\n') + '\n');
      for (const [attr, v] of loadSection(uncommented, section, cmd, ['config', ...NOT_IN_FILE[section]])) shown.set(attr, v);
      for (const o of fileOptions(cmd, ['config', ...NOT_IN_FILE[section]])) {
        const key = `${section}.${fileKey(o)}`;
        const prose = inSample.find((k) => k.key === fileKey(o))?.prose ?? '';
        const dynamic = DYNAMIC[key];
        const code = defaults[o.attributeName()];
        if (dynamic !== undefined) {
          expect(prose, key).toContain(dynamic.prose);
          expect(code, key).toEqual(dynamic.value());
        } else if (code === undefined) {
          expect(prose, `${key} has no default in code: the sample must say "No default"`).toContain('No default');
        } else {
          expect(prose, key).not.toContain('No default');
          expect(shown.get(o.attributeName()), `${key}: the sample shows ${inSample.find((k) => k.key === fileKey(o))?.valueToml}, the code's default is ${JSON.stringify(code)}`).toEqual(code);
        }
      }
    });
  }

  it("matches the agent's AGENT_DEFAULTS", () => {
    const v = Object.fromEntries(keys.filter((k) => k.section === 'agent').map((k) => [k.key, parse(`x = ${k.valueToml}`)['x']]));
    expect({
      intervalMs: v['interval_ms'],
      gpu: v['gpu'],
      jobs: v['jobs'],
      rapl: v['rapl'],
      host: v['host'],
      nvmlLibrary: v['nvml_lib'],
      nvidiaSmiPath: v['nvidia_smi'],
      sysfsRoot: v['sysfs_root'],
      procRoot: v['proc_root'],
      runDir: v['run_dir'],
      cgroupRoot: v['cgroup_root'],
      simulated: { gpus: v['gpus'], seed: v['seed'], timeScale: v['time_scale'], nodeOrdinal: 1 },
    }).toEqual(AGENT_DEFAULTS);
  });

  it('is embedded, as it is, in the README', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = /<!-- stroom\.example\.toml -->\n```toml\n([\s\S]*?)```\n/.exec(readme)?.[1];
    expect(block, 'README.md has no ```toml block after <!-- stroom.example.toml -->').toBeDefined();
    expect(block).toBe(SAMPLE);
  });
});

describe('stroom agent/collector --config', { timeout: 60_000 }, () => {
  const hello = (stdout: string) => HelloSchema.parse(JSON.parse(stdout.split('\n')[0] ?? ''));
  const once = ['agent', '--gpu', 'simulated', '--once', '--log-level', 'silent'];

  it('runs with the sample as it is', { timeout: 30_000 }, async () => {
    const r = await stroom([...once, '--interval-ms', '100', '--config', SAMPLE_PATH]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('takes flags over environment over file over defaults', { timeout: 60_000 }, async () => {
    const cfg = file('precedence.toml', '[agent]\nnode = "from-file"\ninterval_ms = 150\n');
    expect(hello((await stroom([...once, '--config', cfg])).stdout)).toMatchObject({ node: 'from-file', intervalMs: 150 });
    expect(hello((await stroom([...once, '--config', cfg], { STROOM_AGENT_NODE: 'from-env' })).stdout)).toMatchObject({ node: 'from-env', intervalMs: 150 });
    expect(hello((await stroom([...once, '--node', 'from-flag', '--config', cfg], { STROOM_AGENT_NODE: 'from-env' })).stdout)).toMatchObject({ node: 'from-flag', intervalMs: 150 });
    // The file named by STROOM_CONFIG; a flag after --config still wins.
    expect(hello((await stroom([...once, '--interval-ms', '120'], { STROOM_CONFIG: cfg })).stdout)).toMatchObject({ node: 'from-file', intervalMs: 120 });
    expect(hello((await stroom([...once], { STROOM_AGENT_INTERVAL_MS: '110' })).stdout)).toMatchObject({ intervalMs: 110 });
  });

  it('names the file and the key of a bad value, an unknown key and a file that is not TOML', { timeout: 60_000 }, async () => {
    const bad = file('stroom.toml', '[agent]\ninterval_ms = "fast"\n');
    expect(await stroom([...once, '--config', bad])).toMatchObject({ code: 1, stdout: '', stderr: `stroom: ${bad}: agent.interval_ms: expected an integer from 50 to 60000, got "fast"\n` });
    const choice = file('choice.toml', '[agent]\ngpu = "cuda"\n');
    expect((await stroom([...once, '--config', choice])).stderr).toBe(`stroom: ${choice}: agent.gpu: expected one of auto, nvml, nvidia-smi, simulated, none, got "cuda"\n`);
    const flag = file('flag.toml', '[agent]\nrapl = "no"\n');
    expect((await stroom([...once, '--config', flag])).stderr).toBe(`stroom: ${flag}: agent.rapl: expected true or false, got "no"\n`);
    const unknown = file('unknown.toml', '[agent]\ninterval = 100\n');
    expect((await stroom([...once, '--config', unknown])).stderr).toBe(`stroom: ${unknown}: agent.interval: unknown key (see deploy/stroom.example.toml for every key)\n`);
    const table = file('table.toml', '[agnet]\n');
    expect((await stroom([...once, '--config', table])).stderr).toBe(`stroom: ${table}: agnet: unknown key; the file has the tables [agent] and [collector]\n`);
    const notToml = file('broken.toml', '[agent]\ninterval_ms = \n');
    expect((await stroom([...once, '--config', notToml])).stderr).toBe(`stroom: ${notToml}:2:15: not valid TOML: invalid value\n`);
    expect((await stroom([...once, '--config', join(tmp, 'missing.toml')])).stderr).toBe(`stroom: ${join(tmp, 'missing.toml')}: cannot read the configuration file (ENOENT)\n`);
    // A bad environment value names its variable.
    expect((await stroom([...once], { STROOM_AGENT_INTERVAL_MS: 'fast' })).stderr).toBe('stroom: environment STROOM_AGENT_INTERVAL_MS: expected an integer from 50 to 60000, got "fast"\n');
    expect((await stroom(['agent', '--once', '--log-level', 'silent'], { STROOM_AGENT_GPU: 'cuda' })).stderr).toBe('stroom: environment STROOM_AGENT_GPU: expected one of auto, nvml, nvidia-smi, simulated, none, got "cuda"\n');
  });

  it('starts a collector whose required options come from the file', { timeout: 60_000 }, async () => {
    const tokens = file('tokens.json', '{"gcn1": "token-for-gcn1-0123456789"}');
    const cfg = file('collector.toml', `[collector]\nlisten = "127.0.0.1:0"\ndata = ${JSON.stringify(join(tmp, 'data'))}\ntokens = ${JSON.stringify(tokens)}\nlog_level = "silent"\n`);
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [MAIN, 'collector', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'], env: BASE_ENV });
    try {
      let stderr = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          const m = /stroom collector on (http:\/\/\S+)/.exec(stderr);
          if (m?.[1] !== undefined) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`collector exited with ${code}: ${stderr}`)));
      });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    const bad = file('collector-bad.toml', '[collector]\nlisten = "localhost"\n');
    expect((await stroom(['collector', '--config', bad])).stderr).toBe(`stroom: ${bad}: collector.listen: expected HOST:PORT such as 127.0.0.1:8080, got "localhost"\n`);
  });
});
