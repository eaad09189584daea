// Rewrites the configuration table of README.md from SETTINGS (src/config.ts): `npm run docs:config`.
import fs from 'node:fs';
import { SETTINGS } from '../src/config.js';

const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';
const rows = Object.values(SETTINGS).map((s) => `| \`${s.env}\` | ${s.default ? `\`${s.default}\`` : '—'} | ${s.doc.replace(/\|/g, '\\|')} |`);
const table = ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
const readme = fs.readFileSync('README.md', 'utf8');
const start = readme.indexOf(START);
const end = readme.indexOf(END);
if (start < 0 || end < start) throw new Error(`README.md lacks the ${START} … ${END} markers`);
fs.writeFileSync('README.md', `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`);
