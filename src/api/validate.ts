/** Runs a zod schema over input and turns every issue into a field error naming its path. */
import type { z } from 'zod';
import { type FieldError, invalid } from '../errors.js';

export function validate<S extends z.ZodType>(schema: S, input: unknown, prefix = ''): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    return { path: path || '(body)', message: issue.message };
  });
  throw invalid(errors);
}

/** Query parameters as a plain object (first value of each), for validation with a schema. */
export const queryObject = (query: URLSearchParams): Record<string, string> => {
  const result: Record<string, string> = {};
  for (const [name, value] of query) if (!(name in result)) result[name] = value;
  return result;
};
