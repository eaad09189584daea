/**
 * npm run check:imports: the import walls of .dependency-cruiser.cjs, checked over the given
 * folders (src channels schedulers). Exits 1 and names each offending import, its rule and why
 * the rule exists.
 *
 * dependency-cruiser 17 cannot parse TypeScript 7 sources (it cruises 0 modules and passes), so
 * this reads its config and implements the part of the rule format that config uses:
 * from.path/pathNot, to.path/pathNot (with $1.. from from.path's groups), to.dependencyTypes
 * (local, npm, core, type-only) and to.circular. Imports are read from the source text:
 * `import`/`export … from`, side-effect `import '…'`, `import('…')` and `require('…')`, each
 * with a string literal (anything else is not an import this check can follow).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

type DependencyType = 'local' | 'npm' | 'core' | 'type-only';
type Patterns = string | string[];
interface Rule {
  name: string;
  comment?: string;
  from: { path?: Patterns; pathNot?: Patterns };
  to: { path?: Patterns; pathNot?: Patterns; dependencyTypes?: DependencyType[]; circular?: boolean };
}
interface Dependency {
  resolved: string;
  types: DependencyType[];
}

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const rules: Rule[] = createRequire(import.meta.url)(CONFIG).forbidden;

const IMPORT_PATTERNS = [
  /^\s*(import|export)\s+(type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/gm,
  /^\s*import\s*()()['"]([^'"]+)['"]/gm,
  /\b(import|require)\(\s*()['"]([^'"]+)['"]\s*\)/g,
];
const BUILTINS = new Set(builtinModules);
const toPosix = (path: string) => path.split(sep).join('/');

function sourcesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((entry) => {
    const path = join(folder, entry);
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Where a specifier leads: a repo-relative file, node_modules/<package> or node:<builtin>. */
function resolveSpecifier(fromFile: string, specifier: string): Dependency {
  if (specifier.startsWith('.')) {
    const target = resolve(dirname(fromFile), specifier);
    const candidates = [target.replace(/\.js$/, '.ts'), target, `${target}.ts`, join(target, 'index.ts')];
    const found = candidates.find((file) => existsSync(file) && statSync(file).isFile()) ?? target;
    return { resolved: toPosix(relative(ROOT, found)), types: ['local'] };
  }
  const bare = specifier.replace(/^node:/, '');
  if (specifier.startsWith('node:') || BUILTINS.has(bare)) return { resolved: `node:${bare}`, types: ['core'] };
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return { resolved: `node_modules/${name}`, types: ['npm'] };
}

function dependenciesOf(file: string): Dependency[] {
  const source = readFileSync(file, 'utf8');
  const found = new Map<string, Dependency>();
  for (const pattern of IMPORT_PATTERNS) {
    for (const [, keyword, typeOnly, specifier] of source.matchAll(pattern)) {
      if (!specifier) continue;
      const dependency = resolveSpecifier(file, specifier);
      const isTypeOnly = Boolean(typeOnly) && keyword !== 'require';
      const seen = found.get(dependency.resolved);
      // One import of a module that is not type-only makes the dependency a runtime one.
      if (seen) seen.types = seen.types.includes('type-only') && !isTypeOnly ? seen.types.filter((t) => t !== 'type-only') : seen.types;
      else found.set(dependency.resolved, { ...dependency, types: isTypeOnly ? [...dependency.types, 'type-only'] : dependency.types });
    }
  }
  return [...found.values()];
}

/** The module graph reachable from the given folders (local imports followed, packages not). */
function cruise(folders: string[]): Map<string, Dependency[]> {
  const graph = new Map<string, Dependency[]>();
  const queue = folders.flatMap((folder) => sourcesUnder(join(ROOT, folder)));
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    const module = toPosix(relative(ROOT, file));
    if (graph.has(module)) continue;
    const dependencies = dependenciesOf(file);
    graph.set(module, dependencies);
    for (const { resolved, types } of dependencies) {
      if (types.includes('local') && resolved.endsWith('.ts') && !graph.has(resolved)) queue.push(join(ROOT, resolved));
    }
  }
  return graph;
}

/** The shortest cycle through from → to (to … from), or undefined when to cannot reach from. */
function cycleThrough(graph: Map<string, Dependency[]>, from: string, to: string): string[] | undefined {
  const cameFrom = new Map<string, string>([[to, '']]);
  const queue = [to];
  for (let module = queue.shift(); module !== undefined; module = queue.shift()) {
    if (module === from) {
      const path = [from];
      for (let step = cameFrom.get(from); step; step = cameFrom.get(step)) path.unshift(step);
      return [from, ...path];
    }
    for (const { resolved } of graph.get(module) ?? []) {
      if (!cameFrom.has(resolved) && graph.has(resolved)) {
        cameFrom.set(resolved, module);
        queue.push(resolved);
      }
    }
  }
  return undefined;
}

const list = (patterns: Patterns | undefined) => (patterns === undefined ? [] : Array.isArray(patterns) ? patterns : [patterns]);
const fill = (pattern: string, groups: RegExpMatchArray | null) => pattern.replace(/\$(\d)/g, (_, n: string) => groups?.[Number(n)] ?? '');
const anyMatch = (patterns: Patterns | undefined, path: string, groups: RegExpMatchArray | null = null) =>
  list(patterns).some((pattern) => new RegExp(fill(pattern, groups)).test(path));

/** The modules reachable from `start` (itself included). */
function reachableFrom(graph: Map<string, Dependency[]>, start: string): Set<string> {
  const seen = new Set([start]);
  for (const module of seen) for (const { resolved } of graph.get(module) ?? []) if (graph.has(resolved)) seen.add(resolved);
  return seen;
}

function violations(graph: Map<string, Dependency[]>): string[] {
  const found: string[] = [];
  /** Cycles are reported once per group of modules that all reach each other. */
  const reportedCycleGroups = new Set<string>();
  const cycleGroupOf = (module: string) => [...reachableFrom(graph, module)].filter((other) => reachableFrom(graph, other).has(module)).sort();
  for (const [module, dependencies] of [...graph].sort(([a], [b]) => a.localeCompare(b))) {
    for (const rule of rules) {
      const { from, to } = rule;
      // A module a rule is about; the groups its from.path captured fill $1.. in the to patterns.
      const groups = list(from.path).length
        ? list(from.path)
            .map((pattern) => module.match(new RegExp(pattern)))
            .find(Boolean)
        : null;
      if (groups === undefined) continue;
      if (anyMatch(from.pathNot, module)) continue;
      for (const dependency of dependencies) {
        if (to.path !== undefined && !anyMatch(to.path, dependency.resolved, groups)) continue;
        if (anyMatch(to.pathNot, dependency.resolved, groups)) continue;
        if (to.dependencyTypes && !to.dependencyTypes.some((type) => dependency.types.includes(type))) continue;
        const cycle = to.circular ? cycleThrough(graph, module, dependency.resolved) : undefined;
        if (to.circular && !cycle) continue;
        let what = `${module} → ${dependency.resolved}`;
        if (cycle) {
          const group = cycleGroupOf(module);
          if (reportedCycleGroups.has(group.join())) continue;
          reportedCycleGroups.add(group.join());
          what = `${cycle.join(' → ')}${group.length > cycle.length - 1 ? `\n        (one of the cycles among ${group.length} modules: ${group.join(', ')})` : ''}`;
        }
        found.push(`  error ${rule.name}: ${what}\n        ${rule.comment ?? ''}`);
      }
    }
  }
  return found;
}

const folders = process.argv.slice(2);
const graph = cruise(folders.length ? folders : ['src', 'channels', 'schedulers']);
const found = violations(graph);
const edges = [...graph.values()].reduce((sum, dependencies) => sum + dependencies.length, 0);
if (found.length) {
  console.error(`${found.join('\n')}\n\n✘ ${found.length} import(s) break the walls of .dependency-cruiser.cjs (${graph.size} modules, ${edges} imports)`);
  process.exit(1);
}
console.log(`✔ no import breaks the walls of .dependency-cruiser.cjs (${graph.size} modules, ${edges} imports)`);
