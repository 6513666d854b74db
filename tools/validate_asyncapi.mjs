// Validate an AsyncAPI document with the official parser (@asyncapi/parser, from the
// local node_modules: `npm ci`). Exits 1 on any error-level diagnostic, and also on
// warnings unless --allow-warnings is given. Usage:
//   node tools/validate_asyncapi.mjs schemas/asyncapi.yaml
import { Parser, fromFile } from '@asyncapi/parser';

const args = process.argv.slice(2);
const allowWarnings = args.includes('--allow-warnings');
const path = args.find((a) => !a.startsWith('--')) ?? 'schemas/asyncapi.yaml';
const SEVERITY = ['error', 'warning', 'info', 'hint'];

const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, path).parse();
let failed = !document;
for (const d of diagnostics) {
  const level = SEVERITY[d.severity] ?? String(d.severity);
  const where = (d.path ?? []).join('.');
  console.log(`${level}: ${d.code}: ${d.message}${where ? ` (at ${where})` : ''}`);
  if (d.severity === 0 || (d.severity === 1 && !allowWarnings)) failed = true;
}
if (failed) {
  console.error(`${path}: INVALID`);
  process.exit(1);
}
const channels = document.channels().all().map((c) => c.address());
const operations = document.operations().all().map((o) => `${o.action()} ${o.channels().all().map((c) => c.address()).join(',')}`);
console.log(`${path}: valid AsyncAPI ${document.version()} — ${channels.length} channels (${channels.join(', ')}); operations: ${operations.join('; ')}`);
