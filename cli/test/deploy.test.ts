/**
 * What an operator installs: the systemd units (checked by the real `systemd-analyze verify`
 * where it exists) and the Slurm hook installer.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNITS = ['stroom-agent.service', 'stroom-collector.service'] as const;
const tmp = mkdtempSync(join(tmpdir(), 'stroom-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** `Key=value` lines of a unit's [Service] section (a key given twice keeps its last value). */
function service(unit: string): Map<string, string> {
  const text = readFileSync(join(ROOT, 'deploy/systemd', unit), 'utf8');
  const body = /^\[Service\]\n([\s\S]*?)(?:^\[|$(?![\s\S]))/m.exec(text)?.[1] ?? '';
  return new Map(body.split('\n').filter((l) => /^\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
}

function systemdVersion(): number | undefined {
  const r = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return undefined;
  return Number(/systemd (\d+)/.exec(r.stdout)?.[1]);
}

const version = systemdVersion();
if (version === undefined) console.warn('skipping `systemd-analyze verify` of deploy/systemd/*.service: systemd-analyze is not installed (Debian: apt-get install systemd)');

describe('deploy/systemd', { timeout: 30_000 }, () => {
  it('runs the agent as its own user with only the capability RAPL needs, on a read-only system, restarting with back-off', () => {
    const s = service('stroom-agent.service');
    expect(s.get('User')).toBe('stroom');
    expect(s.get('AmbientCapabilities')).toBe('CAP_DAC_READ_SEARCH');
    expect(s.get('CapabilityBoundingSet')).toBe('CAP_DAC_READ_SEARCH');
    expect(s.get('NoNewPrivileges')).toBe('yes');
    expect(s.get('ProtectSystem')).toBe('strict');
    expect(s.get('StateDirectory')).toBe('stroom/agent');
    expect(s.get('ExecStart')).toContain('--spool-dir /var/lib/stroom/agent');
    expect(s.get('ReadWritePaths')).toBe('/run/stroom');
    expect(s.get('Restart')).toBe('on-failure');
    expect(s.get('RestartSteps')).toMatch(/^\d+$/);
    expect(s.get('RestartMaxDelaySec')).toBeDefined();
    // NVML opens /dev/nvidia*.
    expect(s.get('PrivateDevices')).toBeUndefined();
  });

  it('runs the collector as its own user with no capabilities, on a read-only system', () => {
    const s = service('stroom-collector.service');
    expect(s.get('User')).toBe('stroom');
    expect(s.get('CapabilityBoundingSet')).toBe('');
    expect(s.get('NoNewPrivileges')).toBe('yes');
    expect(s.get('ProtectSystem')).toBe('strict');
    expect(s.get('StateDirectory')).toBe('stroom/collector');
    expect(s.get('ExecStart')).toContain('--data /var/lib/stroom/collector');
    expect(s.get('Restart')).toBe('on-failure');
  });

  it.skipIf(version === undefined)('passes `systemd-analyze verify`', () => {
    // verify checks that ExecStart's program exists: point it at a stand-in.
    const bin = join(tmp, 'stroom');
    writeFileSync(bin, '#!/bin/sh\nexit 0\n');
    chmodSync(bin, 0o755);
    const paths = UNITS.map((u) => {
      const p = join(tmp, u);
      writeFileSync(p, readFileSync(join(ROOT, 'deploy/systemd', u), 'utf8').replaceAll('/usr/local/bin/stroom', bin));
      return p;
    });
    const r = spawnSync('systemd-analyze', ['verify', ...paths], { encoding: 'utf8' });
    // Before systemd 254 the back-off keys are unknown and ignored (the unit says so).
    const known = (version ?? 0) < 254 ? /: Unknown key '(RestartSteps|RestartMaxDelaySec)' in section \[Service\], ignoring\.$/ : /^$/;
    const problems = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim() !== '' && !known.test(l));
    expect(problems).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('creates /run/stroom for the agent and /run/stroom/jobs for the root prolog', () => {
    const lines = readFileSync(join(ROOT, 'deploy/systemd/stroom.tmpfiles.conf'), 'utf8').split('\n').filter((l) => l.startsWith('d '));
    expect(lines.map((l) => l.split(/\s+/).slice(0, 5))).toEqual([
      ['d', '/run/stroom', '0755', 'stroom', 'stroom'],
      ['d', '/run/stroom/jobs', '0755', 'root', 'root'],
    ]);
  });
});

describe('deploy/slurm/install.sh', { timeout: 30_000 }, () => {
  it('copies the hooks, writes a settings file once, and prints the slurm.conf lines', () => {
    const dest = join(tmp, 'etc-slurm');
    const env = join(tmp, 'etc-stroom', 'slurm.env');
    const run = () => execFileSync('bash', [join(ROOT, 'deploy/slurm/install.sh'), '--dest', dest, '--env-file', env], { encoding: 'utf8' });
    const out = run();
    for (const hook of ['prolog', 'epilog']) {
      const installed = join(dest, `stroom-${hook}.sh`);
      expect(readFileSync(installed, 'utf8')).toBe(readFileSync(join(ROOT, `deploy/slurm/${hook}.sh`), 'utf8'));
      expect(statSync(installed).mode & 0o777).toBe(0o755);
      expect(out).toContain(`\n${hook === 'prolog' ? 'Prolog' : 'Epilog'}=${installed}\n`);
    }
    expect(out).toContain('\nPrologFlags=Alloc\n');
    expect(statSync(env).mode & 0o777).toBe(0o600);
    expect(readFileSync(env, 'utf8')).toMatch(/^STROOM_RUN_DIR=\/run\/stroom /m);
    // A second run keeps the site's settings.
    writeFileSync(env, 'STROOM_COLLECTOR_URL=https://site\n');
    expect(run()).toContain(`kept ${env} (already there)`);
    expect(readFileSync(env, 'utf8')).toBe('STROOM_COLLECTOR_URL=https://site\n');
    const bad = spawnSync('bash', [join(ROOT, 'deploy/slurm/install.sh'), '--bogus'], { encoding: 'utf8' });
    expect(bad).toMatchObject({ status: 2, stderr: "install.sh: unknown argument '--bogus' (see --help)\n" });
  });
});
