/**
 * The link rule: which URLs a message may carry to where a client or an email opens them.
 * Pure; the API applies it to `opts.link` and to the string values of `opts.email.vars`.
 *
 *  - A link's scheme must be `http` or `https`, or one of the operator's app schemes
 *    (HERALD_LINK_SCHEMES, e.g. `myapp` for `myapp://orders/1`).
 *  - `javascript:`, `data:`, `vbscript:` and `file:` are refused always, whatever the setting.
 *  - Schemes are read the way browsers read them: tabs and newlines anywhere and leading
 *    spaces and control characters are ignored (`" java\tscript:"` is `javascript:`), and
 *    case does not matter.
 *  - A template var is a link when its text starts with `<scheme>:` (a letter, then letters,
 *    digits, `+`, `-` or `.`) followed by anything but whitespace; such a value must pass the
 *    rule. So `https://shop.example/o/1` passes, `myapp://x` passes only when `myapp` is
 *    configured, `mailto:a@b.example` needs `mailto` in the setting, and prose such as
 *    `Note: bring ID` or `10:30` is not a link. A value starting with one of the always-refused
 *    schemes is refused even with a space after the colon (`javascript: alert(1)` runs too).
 *    Nested objects and arrays of vars are checked the same way.
 */

export const ALWAYS_REFUSED_SCHEMES: ReadonlySet<string> = new Set(['javascript', 'data', 'vbscript', 'file']);
export const WEB_SCHEMES: ReadonlySet<string> = new Set(['http', 'https']);
export const SCHEME_NAME = /^[a-z][a-z0-9+.-]*$/;

/** What browsers ignore when they read a URL's scheme. */
function normalise(text: string): string {
  const joined = text.replace(/[\t\n\r]/g, '');
  let start = 0;
  while (start < joined.length && joined.charCodeAt(start) <= 0x20) start++;
  return joined.slice(start);
}
const SCHEME_PREFIX = /^([A-Za-z][A-Za-z0-9+.-]*):(.?)/s;

/** Why `link` may not be sent, or undefined when it may. */
export function linkProblem(link: string, extraSchemes: ReadonlySet<string>): string | undefined {
  const match = SCHEME_PREFIX.exec(normalise(link));
  if (!match?.[1]) return 'must be an absolute URL with a scheme';
  return schemeProblem(match[1].toLowerCase(), extraSchemes);
}

function schemeProblem(scheme: string, extraSchemes: ReadonlySet<string>): string | undefined {
  if (ALWAYS_REFUSED_SCHEMES.has(scheme)) return `${scheme}: links are never accepted`;
  if (WEB_SCHEMES.has(scheme) || extraSchemes.has(scheme)) return undefined;
  return `${scheme}: links are not accepted (http, https${extraSchemes.size > 0 ? `, ${[...extraSchemes].join(', ')}` : ''}; see HERALD_LINK_SCHEMES)`;
}

/** Why a template var's value may not be sent, or undefined (not a link, or an accepted one). */
export function varLinkProblem(value: string, extraSchemes: ReadonlySet<string>): string | undefined {
  const match = SCHEME_PREFIX.exec(normalise(value));
  if (!match?.[1]) return undefined;
  const scheme = match[1].toLowerCase();
  if (ALWAYS_REFUSED_SCHEMES.has(scheme)) return schemeProblem(scheme, extraSchemes);
  const after = match[2] ?? '';
  if (after === '' || /\s/.test(after)) return undefined;
  return schemeProblem(scheme, extraSchemes);
}

/** Every string in `vars` (nested too) that breaks the link rule, as `{ path, message }` under `prefix`. */
export function varsLinkProblems(vars: unknown, extraSchemes: ReadonlySet<string>, prefix: string): Array<{ path: string; message: string }> {
  const problems: Array<{ path: string; message: string }> = [];
  const stack: Array<{ value: unknown; path: string }> = [{ value: vars, path: prefix }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: string };
    if (typeof value === 'string') {
      const problem = varLinkProblem(value, extraSchemes);
      if (problem) problems.push({ path, message: problem });
    } else if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) stack.push({ value: item, path: `${path}.${index}` });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) stack.push({ value: item, path: `${path}.${key}` });
    }
  }
  return problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
