/** Whether `now` falls in a user's quiet hours, read on the user's own clock. */
import type { Preferences } from './types.js';

const minutes = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

export function inQuietHours(preferences: Preferences, timezone: string | undefined, now: number): boolean {
  const window = preferences.quietHours;
  if (!window) return false;
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone ?? 'UTC',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(now);
  const at = Number(parts.find((p) => p.type === 'hour')?.value) * 60 + Number(parts.find((p) => p.type === 'minute')?.value);
  const start = minutes(window.start);
  const end = minutes(window.end);
  // A window like 22:00-07:00 wraps past midnight.
  return start <= end ? at >= start && at < end : at >= start || at < end;
}
