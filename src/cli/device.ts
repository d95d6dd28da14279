// `clora device [--json]`: the adapter, the device profile the engine chose from it, and the programs that
// profile picks for a ViT-B/16 training step.
import { parseArgs } from 'node:util';
import type { GpuContext } from '../gpu/context';
import { deviceReport, type DeviceReport } from '../gpu/device-report';
import { formatBytes } from '../gpu/errors';
import { describeProfile } from '../gpu/profile';
import { vitStepPrograms, type ProgramChoice } from '../kernels/vit-programs';

/** The step the table describes: ViT-B/16 at 224², batch 32, CLoRA r8 p4 (p·r = 32) on q, v and a 10-class head. */
const VIT_B_STEP = { dim: 768, mlpDim: 3072, heads: 12, tokens: 197, batch: 32, bottleneck: 32, classes: 10 };

export function formatDeviceReport(r: DeviceReport, programs: ProgramChoice[]): string {
  const width = Math.max(...programs.map((p) => `${p.work} ${p.shape}`.length));
  return [
    `adapter: ${r.adapter}${r.fallback ? ' (fallback adapter)' : ''}`,
    ...(r.description ? [`  ${r.description}`] : []),
    `profile: ${describeProfile(r.profile)}`,
    `features: ${r.features.join(', ') || 'none'}${r.subgroupSize ? ` (subgroups of ${r.subgroupSize})` : ''}`,
    `limits: workgroup memory ${formatBytes(r.limits.maxComputeWorkgroupStorageSize)}, ${r.limits.maxComputeInvocationsPerWorkgroup} invocations, ` +
      `storage binding ${formatBytes(r.limits.maxStorageBufferBindingSize)}, buffer ${formatBytes(r.limits.maxBufferSize)}`,
    'programs for a ViT-B/16 training step (224², batch 32, CLoRA r8 p4 on q, v):',
    ...programs.map((p) => `  ${`${p.work} ${p.shape}`.padEnd(width)}  ${p.program}`),
    '',
  ].join('\n');
}

export async function deviceCommand(ctx: GpuContext, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } } });
  const report = deviceReport(ctx);
  const programs = vitStepPrograms(VIT_B_STEP, ctx.profile);
  process.stdout.write(values.json ? `${JSON.stringify({ ...report, vitB16Step: programs }, null, 2)}\n` : formatDeviceReport(report, programs));
}
