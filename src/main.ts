/**
 * The `herald` command line: serve | token | vapid-keys | migrate | send | multicast | broadcast,
 * each with --help. Each command's work is its own module (src/cli/, src/app.ts, the channels'
 * key commands); this file parses the command and reports failures (exit 2: usage or
 * configuration, exit 1: the command failed).
 */
import { parseArgs } from 'node:util';
import { channelKeyCommands } from '../channels/registry.js';
import { migrateAdapters } from './adapters.js';
import { startHerald } from './app.js';
import { loadSecrets } from './auth/secrets.js';
import { mintToken } from './auth/tokens.js';
import { parseDuration } from './cli/duration.js';
import { CommandFailed, UsageError } from './cli/errors.js';
import { SEND_COMMANDS } from './cli/send.js';
import { type Config, ConfigError, loadConfig, SETTINGS } from './config.js';
import { createLogger } from './observability/log.js';
import { stdoutDestination } from './observability/log-destination.js';

/** Commands that print a new set of a channel's keys (e.g. vapid-keys), declared by the channels. */
const KEY_COMMANDS = channelKeyCommands();

const USAGE = `herald — multi-channel notification exchange

Usage: herald <command> [options]

Commands:
  serve        run Herald (REST API, WebSocket gateway, workers)
  token        mint a development API token
${KEY_COMMANDS.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`).join('\n')}
  migrate      create or update the database schema
${SEND_COMMANDS.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`).join('\n')}

Run "herald <command> --help" for a command's options.`;

const HELP: Record<string, string> = {
  serve: `Usage: herald serve

Runs Herald with the configuration read from the environment:

${Object.values(SETTINGS)
  .map((s) => `  ${s.env.padEnd(28)} ${s.doc}${s.default ? ` (default: ${s.default})` : ''}`)
  .join('\n')}`,
  token: `Usage: herald token --sub <uid> [--admin] [--ttl 1h]

Mints an HS256 API token signed with HERALD_JWT_SECRET, or with the secret Herald generated
in HERALD_DATA_DIR on first start (it is generated now if Herald never ran).
  --sub     user id (the token's sub)
  --admin   add the admin claim (HERALD_ADMIN_CLAIM, default role=admin)
  --ttl     lifetime: seconds, or a number with s, m, h or d (default 1h)`,
  ...Object.fromEntries(KEY_COMMANDS.map((c) => [c.name, c.help])),
  ...Object.fromEntries(SEND_COMMANDS.map((c) => [c.name, c.help])),
  migrate: `Usage: herald migrate

Creates or updates the schema: the embedded database in HERALD_DATA_DIR/herald.db, or with
HERALD_CASSANDRA_CONTACT_POINTS the Cassandra keyspace and tables and the Elasticsearch indices.
(Herald also migrates at start-up; this runs it on its own, e.g. before a deploy.)`,
};

/** How long exiting waits for buffered log lines to reach a slow standard output. */
const LOG_DRAIN_MS = 1_000;

/** Refuses options and arguments a command does not take (ERR_PARSE_ARGS_*: exit 2, naming it). */
const noOptions = (args: string[]) => parseArgs({ args, options: {}, strict: true, allowPositionals: false });

async function serve(config: Config) {
  // A closed standard output (a log collector that died, `herald serve | head -1`) must not end
  // or stall the process: its write errors are ignored, and logs go through a destination that
  // never blocks (src/observability/log-destination.ts).
  process.stdout.on('error', () => {});
  const destination = stdoutDestination();
  const herald = await startHerald(config, { log: createLogger(config.logLevel, destination) });
  const everyInterface = config.host === '0.0.0.0' || config.host === '::';
  process.stdout.write(`Herald listening on http://${herald.listening}${everyInterface ? ` (every interface; from this machine: ${herald.url})` : ''}\n`);
  const exit = (code: number) => destination.drain(LOG_DRAIN_MS).then(() => process.exit(code));
  const shutdown = (signal: string) => {
    herald.log.info({ signal }, 'shutting down');
    herald.stop().then(
      () => exit(0),
      (error: unknown) => {
        herald.log.error({ err: error }, 'shutdown failed');
        return exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

async function token(config: Config, args: string[]) {
  const { values } = parseArgs({
    args,
    options: { sub: { type: 'string' }, admin: { type: 'boolean', default: false }, ttl: { type: 'string', default: '1h' } },
  });
  if (!values.sub) throw new ConfigError('--sub is required (the user id)');
  if (config.jwtAlgorithm !== 'HS256')
    throw new ConfigError(`herald token mints HS256 tokens; HERALD_JWT_ALGORITHM is ${config.jwtAlgorithm}: mint tokens with your identity provider`);
  const secret = config.jwtSecret ?? loadSecrets(config.dataDir, {}).jwtSecret;
  process.stdout.write(
    `${await mintToken(secret, {
      sub: values.sub,
      admin: values.admin,
      ttlSeconds: parseDuration(values.ttl),
      adminClaim: config.adminClaim,
      ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
      ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
    })}\n`,
  );
}

async function runMigrations(config: Config) {
  process.stdout.write(`${await migrateAdapters(config)}\n`);
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!(command in HELP)) {
    process.stderr.write(`herald: unknown command "${command}"\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${HELP[command]}\n`);
    return;
  }
  const sendCommand = SEND_COMMANDS.find((c) => c.name === command);
  if (command !== 'token' && !sendCommand) noOptions(args);
  const config = loadConfig();
  if (sendCommand) return sendCommand.run(config, args);
  const keyCommand = KEY_COMMANDS.find((c) => c.name === command);
  if (keyCommand) {
    process.stdout.write(keyCommand.print());
    return;
  }
  switch (command) {
    case 'serve':
      return serve(config);
    case 'token':
      return token(config, args);
    case 'migrate':
      return runMigrations(config);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`herald: ${error.message}\n\n${error.usage}\n`);
    process.exit(2);
  }
  if (error instanceof CommandFailed) {
    process.stderr.write(`herald: ${error.message}\n`);
    process.exit(1);
  }
  if (error instanceof ConfigError || String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_')) {
    const hint = String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_') ? ' (see "herald <command> --help")' : '';
    process.stderr.write(`herald: ${(error as Error).message}${hint}\n`);
    process.exit(2);
  }
  process.stderr.write(`herald: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
