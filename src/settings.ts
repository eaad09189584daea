/**
 * What a setting is: its environment variable, its default (as the text a user would type), its
 * meaning and its schema. Shared by the core table (src/config.ts) and each channel's own table
 * (channels/<name>/settings.ts), which src/config.ts merges into one. Pure: zod only.
 */
import { z } from 'zod';

export interface Setting {
  env: string;
  default: string;
  doc: string;
  schema: z.ZodType;
}

export type SettingsTable = Readonly<Record<string, Setting>>;

/** The parsed values of a table of settings. */
export type ConfigOf<S extends SettingsTable> = { -readonly [K in keyof S]: z.output<S[K]['schema']> };

/** Bad configuration: stops start-up (and the command line) with a message naming the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const portNumber = z.coerce.number().int().min(0).max(65535);
export const positiveInt = z.coerce.number().int().positive();
export const nonNegativeInt = z.coerce.number().int().min(0);
export const optionalString = z.string().min(1).optional();
/** `true` or `false`, parsed to a boolean. */
export const booleanFlag = z.enum(['true', 'false']).transform((v) => v === 'true');

/** A comma-separated list: entries trimmed, empty ones dropped; unset is []. */
export const commaList = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  );
