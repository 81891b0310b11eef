/**
 * `stroom token`: agent, user and operator tokens in the collector's `auth.db`. A token is
 * printed once, on stdout alone (`stroom token create --node n1 --data D > n1.token`); only
 * its SHA-256 digest is kept. A running collector sees new and revoked tokens at once.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { TokenInfo, TokenStore } from '@stroom/collector';

interface DataOption {
  data: string;
}

function accountsList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of accounts, got "${value}"`);
  return items;
}

async function openStore(dataDir: string): Promise<TokenStore> {
  // Loaded in the action, as the other commands do, so `--help` stays quick.
  const { TokenStore } = await import('@stroom/collector');
  return TokenStore.open(dataDir);
}

function describe(t: TokenInfo): string {
  const who = t.kind === 'node' ? `agent of node ${t.name}` : t.kind === 'user' ? `user ${t.name}${t.accounts.length > 0 ? ` (accounts ${t.accounts.join(', ')})` : ''}` : `operator ${t.name}`;
  return `${t.id} ${who}`;
}

const dataOption = (cmd: Command): Command => cmd.requiredOption('--data <dir>', "the collector's data directory (tokens live in its auth.db)");

/** The `token` subcommand. */
export function tokenCommand(): Command {
  const create = dataOption(new Command('create'))
    .description('make a token for an agent (--node), a user (--user) or an operator (--operator); it is printed once, on stdout')
    .option('--node <name>', "an agent token for this node (its agent presents it with --token-file)")
    .option('--user <name>', 'a user token: sees only their own jobs and the totals of --accounts')
    .option('--accounts <list>', 'comma-separated accounts whose totals the user sees (with --user)', accountsList)
    .option('--operator <name>', 'an operator token: sees everything')
    .action(async (o: DataOption & { node?: string; user?: string; operator?: string; accounts?: string[] }) => {
      const given = [o.node, o.user, o.operator].filter((x) => x !== undefined);
      if (given.length !== 1) throw new Error('give exactly one of --node NAME, --user NAME or --operator NAME');
      if (o.accounts !== undefined && o.user === undefined) throw new Error('--accounts goes with --user');
      const spec = o.node !== undefined ? { kind: 'node' as const, name: o.node } : o.user !== undefined ? { kind: 'user' as const, name: o.user, accounts: o.accounts ?? [] } : { kind: 'operator' as const, name: o.operator ?? '' };
      const store = await openStore(o.data);
      try {
        const { token, info } = store.create(spec);
        process.stderr.write(`created ${describe(info)}; the token is shown this once (only its SHA-256 digest is kept):\n`);
        process.stdout.write(`${token}\n`);
      } finally {
        store.close();
      }
    });
  const list = dataOption(new Command('list'))
    .description('list tokens (ids, who, created, revoked); never the tokens themselves')
    .option('--json', 'one JSON object per token', false)
    .action(async (o: DataOption & { json: boolean }) => {
      const store = await openStore(o.data);
      try {
        for (const t of store.list()) {
          if (o.json) {
            process.stdout.write(JSON.stringify(t) + '\n');
            continue;
          }
          const state = t.revokedTs === null ? 'valid' : `revoked ${new Date(t.revokedTs).toISOString()}`;
          process.stdout.write(`${describe(t)}  created ${new Date(t.createdTs).toISOString()}  ${state}\n`);
        }
      } finally {
        store.close();
      }
    });
  const revoke = dataOption(new Command('revoke'))
    .description('revoke a token by its id (see `stroom token list`); a running collector refuses it at once and closes its connections')
    .argument('<id>', 'token id, e.g. tok_3f9a0c1d2e4b')
    .action(async (id: string, o: DataOption) => {
      const store = await openStore(o.data);
      try {
        const t = store.revoke(id);
        process.stderr.write(`revoked ${describe(t)}\n`);
      } finally {
        store.close();
      }
    });
  return new Command('token').description('agent, user and operator tokens of the collector').addCommand(create).addCommand(list).addCommand(revoke);
}
