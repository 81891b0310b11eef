/**
 * TLS end to end: a CA and server certificates made with openssl at test time; a collector
 * serving https/wss; a real (simulated) agent that trusts the CA connects and is acked, one
 * without the CA is refused with the certificate problem named, and so is one that trusts the
 * CA but reaches the collector by a name the certificate does not list. Skipped with a
 * message where openssl is missing (except in CI, where it fails).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SimulatedNode, runAgent } from '@stroom/agent';
import type { RunningAgent } from '@stroom/agent';
import { AgentTokens, loadTls, startCollector } from '@stroom/collector';
import type { Collector } from '@stroom/collector';
import { tempDir, testLog } from './helpers.js';

const CI = process.env['CI'] === 'true';
const hasOpenssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
if (!hasOpenssl && !CI) console.warn('skipping the TLS test: openssl is not on PATH (install openssl to run it)');

const TOKEN = 'token-for-tls1-0123456789';

function openssl(cwd: string, ...args: string[]): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1 and localhost, and one for another name only. */
function makePki(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=stroom test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  for (const [name, san] of [['server', 'IP:127.0.0.1,DNS:localhost'], ['other', 'DNS:collector.invalid']] as const) {
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
    openssl(dir, 'req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
}

/** Resolves once `pred()` holds, checking as the agent works (no time limit but the test's). */
async function until(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((r) => setTimeout(r, 50));
}

describe.skipIf(!hasOpenssl && !CI)('collector over TLS, agent verifying its CA', () => {
  const pki = tempDir('tls');
  if (hasOpenssl) makePki(pki.dir);
  const collectors: Collector[] = [];
  const agents: RunningAgent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop(0)));
  });
  afterAll(async () => {
    await Promise.all(collectors.map((c) => c.close()));
    pki.remove();
  });

  it('finds openssl (CI must have it)', () => {
    expect(hasOpenssl, 'openssl is required in CI').toBe(true);
  });

  async function collectorWith(cert: string): Promise<Collector> {
    const c = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens: new AgentTokens([['tls1', TOKEN]]), log: testLog(), tls: loadTls(join(pki.dir, `${cert}.crt`), join(pki.dir, `${cert}.key`)) });
    collectors.push(c);
    return c;
  }

  /** A simulated agent and every line it logs. */
  async function agent(collectorUrl: string, ca: string | undefined): Promise<{ running: RunningAgent; lines: string[] }> {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const sim = new SimulatedNode({ node: 'tls1', nodeOrdinal: 1, gpus: 1, seed: 7, timeScale: 0.4 });
    const running = await runAgent({ node: 'tls1', devices: sim, jobs: sim.jobs, intervalMs: 100, log, collectorUrl, token: TOKEN, ...(ca === undefined ? {} : { ca }) });
    agents.push(running);
    return { running, lines };
  }

  it.skipIf(!hasOpenssl)('serves https: the API answers a client that trusts the CA', async () => {
    const c = await collectorWith('server');
    expect(c.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const status = await new Promise<number | undefined>((resolve, reject) => {
      httpsGet(`${c.url}/healthz`, { ca: readFileSync(join(pki.dir, 'ca.crt')) }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
    expect(status).toBe(200);
  });

  it.skipIf(!hasOpenssl)('an agent with --ca connects over wss and is acked', async () => {
    const c = await collectorWith('server');
    const { running } = await agent(c.url, readFileSync(join(pki.dir, 'ca.crt'), 'utf8'));
    await until(() => (running.link?.lastAckedSeq ?? 0) > 0);
    expect(running.link?.state).toBe('open');
  });

  it.skipIf(!hasOpenssl)('an agent without the CA is refused, and says the certificate is not trusted and what to do', async () => {
    const c = await collectorWith('server');
    const { running, lines } = await agent(c.url, undefined);
    await until(() => lines.some((l) => l.includes('TLS:')));
    const line = JSON.parse(lines.find((l) => l.includes('TLS:')) ?? '{}') as { msg: string };
    // The collector sends its leaf alone, so Node cannot find the issuer (with the chain sent: SELF_SIGNED_CERT_IN_CHAIN).
    expect(line.msg).toBe("TLS: the collector's certificate is not accepted (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate); give --ca FILE with the CA that signed it");
    expect(running.link?.lastAckedSeq).toBe(0);
  });

  it.skipIf(!hasOpenssl)('an agent that trusts the CA still refuses a certificate for another name', async () => {
    const c = await collectorWith('other');
    const { running, lines } = await agent(c.url, readFileSync(join(pki.dir, 'ca.crt'), 'utf8'));
    await until(() => lines.some((l) => l.includes('TLS:')));
    const line = JSON.parse(lines.find((l) => l.includes('TLS:')) ?? '{}') as { msg: string };
    expect(line.msg).toMatch(/^TLS: the collector's certificate is not accepted \(ERR_TLS_CERT_ALTNAME_INVALID: Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list: ?\); connect by a name the certificate lists/);
    expect(running.link?.lastAckedSeq).toBe(0);
  });

  it.skipIf(!hasOpenssl)('refuses a key that does not match the certificate, naming both files', () => {
    expect(() => loadTls(join(pki.dir, 'server.crt'), join(pki.dir, 'other.key'))).toThrow(`TLS certificate ${join(pki.dir, 'server.crt')} with key ${join(pki.dir, 'other.key')}: `);
  });
});
