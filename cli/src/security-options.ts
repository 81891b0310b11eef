/**
 * The collector's security options (tokens, trusted proxy, TLS, limits): declared here so
 * `commands/collector.ts` only adds them and passes the result on.
 */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import type { AuthOptions, ConnectionLimits, TlsFiles } from '@stroom/collector';
import { intBetween, positiveNumber } from './options.js';

/** A comma-separated list, repeatable: `--x a,b --x c` is [a, b, c]. */
function list(value: string, previous: string[] | undefined): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError(`expected a comma-separated list, got "${value}"`);
  return [...(previous ?? []), ...items];
}

/** What commander hands the action for these options. */
export interface SecurityCliOptions {
  trustedProxyHeader?: string;
  trustedProxy?: string[];
  trustedProxyOperators?: string[];
  trustedProxyAccountsHeader?: string;
  publicMetrics: boolean;
  tlsCert?: string;
  tlsKey?: string;
  maxAgents: number;
  maxDashboards: number;
  agentFramesPerS: number;
  agentFrameBurst: number;
}

/** Add the options to the `collector` command. */
export function addSecurityOptions(cmd: Command): Command {
  return cmd
    .option('--trusted-proxy-header <name>', 'take the user name from this header (e.g. X-Remote-User), only on requests from --trusted-proxy')
    .option('--trusted-proxy <addresses>', 'addresses or CIDR ranges of the reverse proxy, comma-separated (repeatable)', list)
    .option('--trusted-proxy-operators <names>', 'proxy users who are operators, comma-separated (everyone else is a user)', list)
    .option('--trusted-proxy-accounts-header <name>', "header with the proxy user's accounts, comma-separated (e.g. X-Remote-Groups)")
    .option('--public-metrics', 'serve /metrics without a token (otherwise it needs an operator token)', false)
    .option('--tls-cert <file>', 'serve https and wss with this PEM certificate (chain); needs --tls-key')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--max-agents <n>', 'most agent connections at once; more get HTTP 503', intBetween(1, 1_000_000), 20_000)
    .option('--max-dashboards <n>', 'most dashboard connections at once; more get HTTP 503', intBetween(1, 1_000_000), 1000)
    .option('--agent-frames-per-s <n>', "frames one agent connection may send per second; more wait (in order, nothing dropped)", positiveNumber, 200)
    .option('--agent-frame-burst <n>', 'frames one agent connection may send at once before the rate applies', intBetween(1, 1_000_000), 1000);
}

/** The collector options these flags give; errors name the flag. */
export function securityOptions(o: SecurityCliOptions, loadTls: (cert: string, key: string) => TlsFiles): { auth: AuthOptions; tls?: TlsFiles; limits: ConnectionLimits & { agentFramesPerS: number; agentFrameBurst: number } } {
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together: give both or neither');
  if (o.trustedProxyHeader === undefined && (o.trustedProxy !== undefined || o.trustedProxyOperators !== undefined || o.trustedProxyAccountsHeader !== undefined)) {
    throw new Error('--trusted-proxy, --trusted-proxy-operators and --trusted-proxy-accounts-header need --trusted-proxy-header');
  }
  if (o.trustedProxyHeader !== undefined && o.trustedProxy === undefined) throw new Error(`--trusted-proxy-header ${o.trustedProxyHeader} needs --trusted-proxy ADDRESSES: the header is believed only from the proxy`);
  const auth: AuthOptions = {
    publicMetrics: o.publicMetrics,
    ...(o.trustedProxyHeader === undefined ? {} : {
      trustedProxy: {
        header: o.trustedProxyHeader,
        addresses: o.trustedProxy ?? [],
        ...(o.trustedProxyOperators === undefined ? {} : { operators: o.trustedProxyOperators }),
        ...(o.trustedProxyAccountsHeader === undefined ? {} : { accountsHeader: o.trustedProxyAccountsHeader }),
      },
    }),
  };
  const limits = { maxAgentConnections: o.maxAgents, maxLiveConnections: o.maxDashboards, agentFramesPerS: o.agentFramesPerS, agentFrameBurst: o.agentFrameBurst };
  if (o.tlsCert === undefined || o.tlsKey === undefined) return { auth, limits };
  return { auth, limits, tls: loadTls(o.tlsCert, o.tlsKey) };
}
