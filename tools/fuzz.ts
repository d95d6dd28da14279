// `npm run fuzz -- --minutes N [--reader NAME]… [--seed S]`: the fuzz harness of the test pass
// (tests/fuzz/), run for longer. The time is shared equally among the readers; every case is a seeded
// mutation (the seed changes them all), after each reader's hand-made hostile inputs. Prints the counts
// per reader and every failure with what produced it; exits non-zero if anything failed.
import { parseArgs } from 'node:util';
import { formatFailures, formatReports, runFuzz } from '../tests/fuzz/driver';
import { READERS } from '../tests/fuzz/readers';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '5' }, reader: { type: 'string', multiple: true }, seed: { type: 'string' }, 'case-timeout': { type: 'string', default: '10' } },
});
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a number above 0, got "${values.minutes}".`);
const names = values.reader?.length ? values.reader : READERS.map((r) => r.name);
for (const name of names) if (!READERS.some((r) => r.name === name)) throw new Error(`No reader named "${name}"; readers: ${READERS.map((r) => `"${r.name}"`).join(', ')}.`);
const runSeed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const share = (minutes * 60_000) / names.length;
let start = Date.now();
process.stdout.write(`fuzzing ${names.length} readers for ${minutes} min (seed ${runSeed}; rerun with --seed ${runSeed})\n`);
const { reports, maxRssMB } = await runFuzz({
  cases: names.map((reader) => ({ reader, count: Number.MAX_SAFE_INTEGER })),
  runSeed,
  caseTimeoutMs: Number(values['case-timeout']) * 1000,
  stopAt: () => {
    start += share;
    return start;
  },
  onProgress: (r) =>
    process.stdout.write(
      `${r.reader}: ${r.tried} tried, ${r.opened} opened, ${r.refused} refused, ${r.failures.length} failures (${r.seconds.toFixed(0)} s; slowest case ` +
        `${r.slowest.ms.toFixed(0)} ms of CPU; most memory ${(r.largest.bytes / 2 ** 20).toFixed(1)} MiB, ${(100 * r.largest.ofBudget).toFixed(0)} % of that case's budget)\n`,
    ),
});
process.stdout.write(`\n${formatReports(reports)}\n\npeak resident memory of the runner: ${maxRssMB.toFixed(0)} MB\n`);
const failures = formatFailures(reports);
if (failures) process.stdout.write(`\nfailures:\n${failures}\n`);
process.exit(failures ? 1 : 0);
