/**
 * Email templates: loads `NAME.subject.hbs`, `NAME.html.hbs`, `NAME.txt.hbs` from the built-in
 * folder and then from an operator's folder, compiles each file once and keeps it for the
 * process's life. Guarantees:
 *  - The HTML part is HTML-escaped (`{{x}}`); the subject and text parts are not (they are not
 *    HTML). Handlebars' prototype-access protection stays on.
 *  - A later folder replaces a template of the same NAME as a whole (no mixing of parts).
 *  - A template without an html or txt part, a syntax error, or a missing folder is an error at
 *    load time naming the file, never at send time.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';

export type TemplatePart = 'subject' | 'html' | 'txt';

export interface RenderedEmail {
  subject?: string;
  html?: string;
  text?: string;
}

export interface TemplateSet {
  has(name: string): boolean;
  names(): string[];
  /** Renders every part the template has. Throws when a helper or the data make rendering fail. */
  render(name: string, context: Record<string, unknown>): RenderedEmail;
}

type Compiled = Partial<Record<TemplatePart, Handlebars.TemplateDelegate>>;

const FILE = /^([A-Za-z0-9][A-Za-z0-9_-]*)\.(subject|html|txt)\.hbs$/;

/**
 * The built-in templates, next to this module when running from source (tsx) or when the build
 * copied them into dist/; otherwise the source folder seen from dist/channels/email/.
 */
export function builtInTemplatesDir(): string {
  const candidates = [new URL('./templates/', import.meta.url), new URL('../../../channels/email/templates/', import.meta.url)];
  for (const url of candidates) {
    const dir = fileURLToPath(url);
    if (existsSync(join(dir, 'default.html.hbs'))) return dir;
  }
  throw new Error(`email: built-in templates not found (looked in ${candidates.map((u) => fileURLToPath(u)).join(', ')})`);
}

export function loadTemplates(dirs: string[]): TemplateSet {
  const hb = Handlebars.create();
  const templates = new Map<string, Compiled>();

  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new Error(`email: templates folder ${dir} does not exist`);
    }
    const found = new Map<string, Compiled>();
    for (const file of readdirSync(dir).sort()) {
      const match = FILE.exec(file);
      if (!match) continue;
      const [, name, part] = match as unknown as [string, string, TemplatePart];
      const path = join(dir, file);
      const source = readFileSync(path, 'utf8');
      try {
        hb.parse(source);
      } catch (err) {
        throw new Error(`email: template ${path} does not parse: ${(err as Error).message}`, { cause: err });
      }
      const compiled = found.get(name) ?? {};
      compiled[part] = hb.compile(source, { noEscape: part !== 'html' });
      found.set(name, compiled);
    }
    for (const [name, compiled] of found) {
      if (!compiled.html && !compiled.txt) {
        throw new Error(`email: template ${name} in ${dir} has neither ${name}.html.hbs nor ${name}.txt.hbs`);
      }
      templates.set(name, compiled);
    }
  }

  return {
    has: (name) => templates.has(name),
    names: () => [...templates.keys()].sort(),
    render(name, context) {
      const t = templates.get(name);
      if (!t) throw new Error(`email: unknown template ${name}`);
      const out: RenderedEmail = {};
      if (t.subject) out.subject = t.subject(context);
      if (t.html) out.html = t.html(context);
      if (t.txt) out.text = t.txt(context);
      return out;
    },
  };
}
