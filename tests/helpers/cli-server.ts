// The engine's command line as one long-lived process, for the PyTorch companion's tests
// (python/tests/conftest.py): each line on stdin is a JSON argument list for `main` (`npm run clora -- …`),
// answered by one JSON line {code, stdout, stderr} on stdout. The runs are the command line's own, one after
// the other; they share one start-up (tsx compiling the sources, loading Dawn) instead of paying it every time.
import { createInterface } from 'node:readline';
import { main } from '../../src/cli/main';

type Write = typeof process.stdout.write;

const text = (chunk: string | Uint8Array): string => (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));

/** Runs `main(argv)` with what it writes to stdout and stderr captured. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [out, err] = [process.stdout.write, process.stderr.write];
  let stdout = '';
  let stderr = '';
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += text(chunk)), true)) as Write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += text(chunk)), true)) as Write;
  try {
    return { code: await main(argv), stdout, stderr };
  } catch (error) {
    return { code: 1, stdout, stderr: `${stderr}${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n` };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  const argv: unknown = JSON.parse(line);
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) throw new Error(`cli-server: expected a JSON list of strings, got ${line.slice(0, 200)}`);
  process.stdout.write(`${JSON.stringify(await run(argv))}\n`);
}
