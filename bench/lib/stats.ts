/** Percentiles, medians and the result rows every benchmark returns. */

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when empty. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function summarize(samples: ArrayLike<number>): { n: number; p50: number; p99: number; max: number; mean: number } {
  if (samples.length === 0) return { n: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { n: sorted.length, p50: at(50), p99: at(99), max: sorted[sorted.length - 1] as number, mean: sum / sorted.length };
}

export const median = (values: number[]) => percentile(values, 50);

/** One line of the final table (and one JSON line). */
export interface ResultRow {
  bench: string;
  metric: string;
  herald: number;
  /** The same figure for the reference measured in the same run, if any. */
  reference?: number;
  referenceName?: string;
  unit: string;
  /** herald ÷ reference (or reference ÷ herald when lower is better), as printed. */
  ratio?: number;
  target?: string;
  /** Whether the target is met; undefined when the row has no target. */
  pass?: boolean;
  note?: string;
}

export const round = (value: number, digits = 2) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : value);

export function formatNumber(value: number | undefined): string {
  if (value === undefined) return '—';
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function renderTable(rows: ResultRow[]): string {
  const header = ['bench', 'metric', 'herald', 'reference', 'ref', 'unit', 'ratio', 'target', 'ok'];
  const body = rows.map((r) => [
    r.bench,
    r.metric,
    formatNumber(r.herald),
    formatNumber(r.reference),
    r.referenceName ?? '',
    r.unit,
    r.ratio === undefined ? '' : `${formatNumber(r.ratio)}×`,
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 2 && i <= 3 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
