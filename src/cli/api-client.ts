/**
 * The CLI as a client of a running Herald (`herald send`, `multicast`, `broadcast`): where it is
 * (HERALD_URL, else this machine on HERALD_PORT), the token it calls with (HERALD_TOKEN, else a
 * short-lived admin token minted with the HS256 secret the configuration or the data dir holds,
 * the one that Herald verifies with) and one JSON request, whose refusal becomes a CommandFailed
 * naming the status, the problem's code, its detail and the invalid fields.
 *
 * Neither the token nor the secret is ever written anywhere: messages name where they came from.
 */
import { storedJwtSecret } from '../auth/secrets.js';
import { mintToken } from '../auth/tokens.js';
import { type Config, ConfigError } from '../config.js';
import { CommandFailed } from './errors.js';

/** The uid of the admin token minted for a command (Herald creates the user on first sight). */
export const CLI_SUBJECT = 'herald-cli';
/** Lifetime of a minted token: one request's. */
const MINTED_TTL_SECONDS = 60;
/** How long a request may go unanswered. */
const REQUEST_TIMEOUT_MS = 30_000;

/** Herald's base URL: HERALD_URL, else http://127.0.0.1:<HERALD_PORT> (or HERALD_HOST when it names one interface). */
export function heraldUrl(config: Config, env: NodeJS.ProcessEnv): string {
  const configured = env.HERALD_URL;
  if (configured) {
    let url: URL;
    try {
      url = new URL(configured);
    } catch {
      throw new ConfigError(`HERALD_URL "${configured}" is not a URL (e.g. http://127.0.0.1:8080)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`HERALD_URL "${configured}": expected http: or https:`);
    return url.href.replace(/\/+$/, '');
  }
  const everyInterface = config.host === '0.0.0.0' || config.host === '::';
  const host = everyInterface ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

/** The bearer token: HERALD_TOKEN, else an admin token minted with the embedded HS256 secret. */
export async function callerToken(config: Config, env: NodeJS.ProcessEnv): Promise<string> {
  if (env.HERALD_TOKEN) return env.HERALD_TOKEN;
  if (config.jwtAlgorithm !== 'HS256') {
    throw new ConfigError(
      `HERALD_TOKEN is not set, and HERALD_JWT_ALGORITHM is ${config.jwtAlgorithm}: only HS256 tokens can be minted here; set HERALD_TOKEN to a token from your identity provider`,
    );
  }
  let secret = config.jwtSecret;
  if (secret === undefined) {
    try {
      secret = storedJwtSecret(config.dataDir);
    } catch (error) {
      throw new ConfigError(`HERALD_TOKEN is not set, and the secret in ${config.dataDir}/secrets.json cannot be read (${(error as Error).message})`);
    }
  }
  if (secret === undefined) {
    throw new ConfigError(
      `HERALD_TOKEN is not set, and HERALD_DATA_DIR (${config.dataDir}) holds no secrets.json: point HERALD_DATA_DIR at the running Herald's data dir, or set HERALD_JWT_SECRET or HERALD_TOKEN`,
    );
  }
  return mintToken(secret, {
    sub: CLI_SUBJECT,
    admin: true,
    ttlSeconds: MINTED_TTL_SECONDS,
    adminClaim: config.adminClaim,
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  });
}

interface Problem {
  code?: unknown;
  detail?: unknown;
  errors?: unknown;
}

/** POSTs `body` as JSON to `route` of `baseUrl`; resolves the answer's JSON on a 2xx, else throws CommandFailed. */
export async function postJson(baseUrl: string, route: string, token: string, body: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(baseUrl + route, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new CommandFailed(`cannot reach Herald at ${baseUrl} (${unreachableReason(error)}): is it running there? (HERALD_URL)`);
  }
  const text = await response.text().catch(() => '');
  const type = response.headers.get('content-type') ?? '';
  const json = type.includes('json') ? parseJson(text) : undefined;
  if (response.ok) {
    if (json === undefined) throw new CommandFailed(`${response.status} from ${baseUrl}${route}, but not a JSON answer: is HERALD_URL a Herald?`);
    return json;
  }
  if (type.includes('application/problem+json') && json !== null && typeof json === 'object') {
    throw new CommandFailed(describeProblem(response.status, json as Problem));
  }
  throw new CommandFailed(`${response.status} ${response.statusText || 'error'} from ${baseUrl}${route}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `<status> <code>: <detail>`, then every invalid field the detail does not already name. */
function describeProblem(status: number, problem: Problem): string {
  const head = `${status} ${String(problem.code ?? 'error')}: ${String(problem.detail ?? '')}`;
  const fields = Array.isArray(problem.errors) ? (problem.errors as Array<{ path?: unknown; message?: unknown }>) : [];
  const lines = fields.map((f) => `${String(f.path)}: ${String(f.message)}`).filter((line) => !head.includes(line));
  return [head, ...lines.map((line) => `  ${line}`)].join('\n');
}

function unreachableReason(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return (error as Error).message;
}
