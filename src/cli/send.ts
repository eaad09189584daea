/**
 * `herald send`, `herald multicast` and `herald broadcast`: send a message through a running
 * Herald (POST /api/v1/send, /multicast, /broadcast; docs/api.md, "Sending") and print its id.
 * The options are the body's `opts` that fit a command line; the server validates them, so a
 * refused value is its problem, printed by src/cli/api-client.ts (exit 1). Exit 2 is for a command
 * line that cannot make a request (unknown option, no text, no recipient).
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { URGENCIES } from '../exchange/types.js';
import { CLI_SUBJECT, callerToken, heraldUrl, postJson } from './api-client.js';
import { parseDuration } from './duration.js';
import { CommandFailed, UsageError } from './errors.js';

export interface SendCommand {
  name: string;
  summary: string;
  help: string;
  run(config: Config, args: string[], env?: NodeJS.ProcessEnv): Promise<void>;
}

const OPTS_USAGE = '[--urgency <level>] [--title <text>] [--link <url>] [--channels a,b] [--ttl <duration>] [--topic <key>] [--delay <duration>]';

const OPTS_HELP = `  --urgency   ${URGENCIES.join(' | ')} (default normal)
  --title     the notification title
  --link      a URL opened on click
  --channels  only these channels, comma-separated (realtime, webpush, apns, fcm, email, sms)
  --ttl       not delivered after this long: seconds, or a number with s, m, h or d
  --topic     collapse key for push services
  --delay     send this much later: seconds, or a number with s, m, h or d`;

const CONNECTION_HELP = `Herald is reached at HERALD_URL (default http://127.0.0.1:8080, or HERALD_PORT's port). The call
carries HERALD_TOKEN; without it, an admin token (sub ${CLI_SUBJECT}, valid 60 s) is minted with
HERALD_JWT_SECRET, or with the secret the running Herald keeps in HERALD_DATA_DIR (HS256 only).
Prints the message id. Exit 1 when Herald refuses (its status, code and detail on stderr) or
cannot be reached; exit 2 on a bad command line.`;

const OPTIONS = {
  urgency: { type: 'string' },
  title: { type: 'string' },
  link: { type: 'string' },
  channels: { type: 'string' },
  ttl: { type: 'string' },
  topic: { type: 'string' },
  delay: { type: 'string' },
} as const;

type Parsed = { text: string; values: Record<string, string | undefined> };

function parse(args: string[], usage: string, extra: Record<string, { type: 'string' }> = {}): Parsed {
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: { ...OPTIONS, ...extra }, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
  if (parsed.positionals.length !== 1) {
    throw new UsageError(
      parsed.positionals.length === 0
        ? 'the message text is missing'
        : `one message text expected, got ${parsed.positionals.length} arguments (quote the text)`,
      usage,
    );
  }
  return { text: parsed.positionals[0] as string, values: parsed.values as Record<string, string | undefined> };
}

const list = (text: string) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/** The request's `opts` from the command line, undefined when none is given. */
function optsOf(values: Record<string, string | undefined>, usage: string): Record<string, unknown> | undefined {
  const opts: Record<string, unknown> = {};
  const duration = (option: 'ttl' | 'delay') => {
    try {
      return parseDuration(values[option] as string, `--${option}`);
    } catch (error) {
      throw new UsageError((error as Error).message, usage);
    }
  };
  if (values.urgency !== undefined) {
    if (!(URGENCIES as readonly string[]).includes(values.urgency))
      throw new UsageError(`--urgency "${values.urgency}": expected ${URGENCIES.join(', ')}`, usage);
    opts.urgency = values.urgency;
  }
  if (values.title !== undefined) opts.title = values.title;
  if (values.link !== undefined) opts.link = values.link;
  if (values.channels !== undefined) opts.channels = list(values.channels);
  if (values.ttl !== undefined) opts.ttl = duration('ttl');
  if (values.topic !== undefined) opts.topic = values.topic;
  if (values.delay !== undefined) opts.delay = duration('delay');
  return Object.keys(opts).length > 0 ? opts : undefined;
}

async function submit(config: Config, env: NodeJS.ProcessEnv, route: string, body: Record<string, unknown>): Promise<void> {
  const url = heraldUrl(config, env);
  const token = await callerToken(config, env);
  const answer = (await postJson(url, route, token, body)) as { id?: unknown } | null;
  if (typeof answer?.id !== 'string') throw new CommandFailed(`${url}${route} answered without a message id: is HERALD_URL a Herald?`);
  process.stdout.write(`${answer.id}\n`);
}

const withOpts = (body: Record<string, unknown>, opts: Record<string, unknown> | undefined) => (opts ? { ...body, opts } : body);

const SEND_USAGE = `Usage: herald send --to <uid> "text" ${OPTS_USAGE}`;
const MULTICAST_USAGE = `Usage: herald multicast --uids <uid,uid,…> "text" ${OPTS_USAGE}`;
const BROADCAST_USAGE = `Usage: herald broadcast "text" ${OPTS_USAGE}`;

export const SEND_COMMANDS: readonly SendCommand[] = [
  {
    name: 'send',
    summary: 'send a message to one user through a running Herald',
    help: `${SEND_USAGE}

Sends "text" to one user (POST /api/v1/send).
  --to        the recipient's uid
${OPTS_HELP}

${CONNECTION_HELP}`,
    async run(config, args, env = process.env) {
      const { text, values } = parse(args, SEND_USAGE, { to: { type: 'string' } });
      if (!values.to) throw new UsageError('--to is required (the recipient uid)', SEND_USAGE);
      await submit(config, env, '/api/v1/send', withOpts({ msg: text, uid: values.to }, optsOf(values, SEND_USAGE)));
    },
  },
  {
    name: 'multicast',
    summary: 'send a message to a list of users (admin)',
    help: `${MULTICAST_USAGE}

Sends "text" to each of the users (POST /api/v1/multicast; an admin token).
  --uids      the recipients' uids, comma-separated (repeats are sent once)
${OPTS_HELP}

${CONNECTION_HELP}`,
    async run(config, args, env = process.env) {
      const { text, values } = parse(args, MULTICAST_USAGE, { uids: { type: 'string' } });
      const uids = values.uids === undefined ? [] : list(values.uids);
      if (uids.length === 0) throw new UsageError('--uids is required (the recipients, comma-separated)', MULTICAST_USAGE);
      await submit(config, env, '/api/v1/multicast', withOpts({ msg: text, uids }, optsOf(values, MULTICAST_USAGE)));
    },
  },
  {
    name: 'broadcast',
    summary: 'send a message to every user (admin)',
    help: `${BROADCAST_USAGE}

Sends "text" to every known user (POST /api/v1/broadcast; an admin token).
${OPTS_HELP}

${CONNECTION_HELP}`,
    async run(config, args, env = process.env) {
      const { text, values } = parse(args, BROADCAST_USAGE);
      await submit(config, env, '/api/v1/broadcast', withOpts({ msg: text }, optsOf(values, BROADCAST_USAGE)));
    },
  },
];
