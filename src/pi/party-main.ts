// One role of a `polynas pi` session in its own process: `node party-main.js <config.json> <report.json>`.
import { readFileSync } from 'node:fs';
import { writeJsonAtomic } from '../io/atomic.js';
import { runDealer, runParty, type RoleConfig } from './roles.js';

const [configFile, reportFile] = process.argv.slice(2);
let role = 'party';
try {
  const cfg = JSON.parse(readFileSync(configFile!, 'utf8')) as RoleConfig;
  role = cfg.role;
  const report = cfg.role === 'dealer' ? await runDealer(cfg) : await runParty(cfg);
  writeJsonAtomic(reportFile!, report);
  process.exit(0);
} catch (e) {
  process.stderr.write(`polynas pi ${role}: ${(e as Error).message}\n`);
  process.exit(1);
}
