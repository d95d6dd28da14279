// `npm run clora -- <command> [options]`: the engine from the command line, on Dawn's WebGPU (clora-spec §3).
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Tape } from '../autodiff/tape';
import { Tensor } from '../autodiff/tensor';
import type { GpuContext } from '../gpu/context';
import { createNodeGpuContext } from '../gpu/node';
import { bytesSource, openSafetensors, writeSafetensors } from '../io/safetensors';
import { loadVit } from '../nn/load';
import { VisionTransformer } from '../nn/vit';
import { openModel, UsageError } from './model-source';

const USAGE = `usage: npm run clora -- <command> [options]

commands:
  forward --model M [--adapter A] [--heads H] --input X --output Y
      logits of the backbone (plus adapter) for the pixel_values [N,3,H,W] in X, written to Y as logits [N,C]

M is a .safetensors file, a URL (downloaded once into ~/.cache/clora-web), or a known model id.`;

/** Images per forward pass: bounds GPU memory for large inputs. */
const FORWARD_CHUNK = 16;

function requireOption(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required.\n\n${USAGE}`);
  return v;
}

function parseHeads(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--heads must be a whole number ≥ 1, got "${String(value)}".`);
  return n;
}

async function readTensorFile(path: string, key: string): Promise<{ shape: number[]; data: Float32Array<ArrayBuffer> }> {
  if (!existsSync(path)) throw new UsageError(`${path}: no such file.`);
  const file = await openSafetensors(bytesSource(new Uint8Array(await readFile(path)), path));
  const info = file.tensors.get(key);
  if (!info) throw new UsageError(`${path} has no "${key}" tensor (it has: ${file.names().slice(0, 8).join(', ') || 'nothing'}).`);
  return { shape: info.shape, data: await file.readF32(key) };
}

async function forward(ctx: GpuContext, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, adapter: { type: 'string' }, heads: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' } } });
  const modelSpec = requireOption(values, 'model');
  const inputPath = requireOption(values, 'input');
  const outputPath = requireOption(values, 'output');
  if (values.adapter !== undefined) throw new UsageError('--adapter: adapters are not supported by this build yet.');
  const pixels = await readTensorFile(inputPath, 'pixel_values');
  const model = await openModel(modelSpec);
  try {
    const heads = parseHeads(values.heads) ?? model.known?.heads;
    const { cfg, store } = await loadVit(ctx, model.file, { heads });
    if (cfg.classes === 0) throw new UsageError(`${modelSpec} has no classifier head (head.weight), so it has no logits to give.`);
    const [n, c, h, w] = pixels.shape as [number, number, number, number];
    if (pixels.shape.length !== 4 || c !== cfg.channels || h !== cfg.imageSize || w !== cfg.imageSize) {
      throw new UsageError(`pixel_values in ${inputPath} is [${pixels.shape.join(', ')}]; this model takes [N, ${cfg.channels}, ${cfg.imageSize}, ${cfg.imageSize}].`);
    }
    const vit = new VisionTransformer(cfg, (name) => store.get(name));
    const logits = new Float32Array(n * cfg.classes);
    const perImage = c * h * w;
    for (let start = 0; start < n; start += FORWARD_CHUNK) {
      const count = Math.min(FORWARD_CHUNK, n - start);
      const tape = new Tape(ctx);
      try {
        const batch = Tensor.fromData(ctx, [count, c, h, w], pixels.data.subarray(start * perImage, (start + count) * perImage));
        logits.set(await vit.forward(batch).read(), start * cfg.classes);
      } finally {
        tape.dispose();
      }
    }
    await writeFile(outputPath, writeSafetensors([{ name: 'logits', shape: [n, cfg.classes], data: logits }], { format: 'logits', model: modelSpec }));
    process.stderr.write(`wrote logits [${n}, ${cfg.classes}] to ${outputPath}\n`);
    store.dispose();
  } finally {
    await model.close();
  }
}

const COMMANDS: Record<string, (ctx: GpuContext, argv: string[]) => Promise<void>> = { forward };

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
    return 2;
  }
  let ctx: GpuContext | undefined;
  try {
    ctx = await createNodeGpuContext();
    await run(ctx, rest);
    return 0;
  } catch (error) {
    // User-caused errors are sentences already; anything else keeps its stack for a bug report.
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    const known = error instanceof Error && error.name !== 'Error' && error.name !== 'TypeError';
    process.stderr.write(`error: ${known ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  } finally {
    ctx?.destroy();
  }
}

const invokedDirectly = process.argv[1] !== undefined && /src[\\/]cli[\\/]main\.ts$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
