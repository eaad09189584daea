/** Durations given on the command line: seconds, or a number with s, m, h or d (`90`, `15m`, `1h`). */
import { ConfigError } from '../config.js';

/** Seconds in `text`; a ConfigError naming `option` when it is not a duration. */
export function parseDuration(text: string, option = '--ttl'): number {
  const match = /^(\d+)([smhd]?)$/.exec(text);
  if (!match) throw new ConfigError(`${option} "${text}": expected seconds or a number with s, m, h or d`);
  const factor = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * factor;
}
