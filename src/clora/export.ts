// Exports (clora-spec §2.3, §2.4, §4): a PEFT LoRA adapter that loads with stock `peft` on the backbone (a timm
// ViT, or Point-MAE's module names for a point backbone), and the merged model (deltas folded into the
// weights, new head) in the backbone's own keys. Both are exact expansions of the adapter, computed on the
// CPU in float64 once per export.
import type { TensorToWrite } from '../io/safetensors';
import { backboneModulePath, featureWidth, isPointConfig, type BackboneConfig } from '../nn/backbone';
import { CORES, planBranches, type Branch } from './model';
import type { AdapterFile } from './files';

/** The backbone module a branch adds to (its own key), and its [out, in] weight shape. */
function moduleOf(cfg: BackboneConfig, b: Branch): { name: string; out: number; in: number } {
  const d = cfg.dim;
  const name = backboneModulePath(cfg, b.block, b.module);
  switch (b.module) {
    case 'qkv':
      return { name, out: 3 * d, in: d };
    case 'proj':
      return { name, out: d, in: d };
    case 'fc1':
      return { name, out: cfg.mlpDim, in: d };
    case 'fc2':
      return { name, out: d, in: cfg.mlpDim };
  }
}

/** lora_A [R, a] and s·lora_B [b, R] of one branch: lora_A stacks (D_h·Q_h)ᵀ over h, lora_B stacks s·U_hᵀ. */
export function branchFactors(adapter: AdapterFile, b: Branch): { a: Float64Array; bMat: Float64Array; rank: number } {
  const { settings, tensors } = adapter;
  const r = settings.rank;
  const p = settings.method === 'clora' ? settings.spaces : 1;
  const down = tensors.get(b.downName)!;
  const up = tensors.get(b.upName)!;
  const cores = settings.method === 'clora' ? tensors.get(CORES)!.subarray(b.coreIndex * p * r * r, (b.coreIndex + 1) * p * r * r) : undefined;
  const R = p * r;
  const a = new Float64Array(R * b.inWidth);
  const bMat = new Float64Array(b.outWidth * R);
  for (let h = 0; h < p; h++) {
    for (let k = 0; k < r; k++) {
      const row = h * r + k;
      for (let i = 0; i < b.inWidth; i++) {
        let v = 0;
        if (cores) for (let l = 0; l < r; l++) v += down[(h * b.inWidth + i) * r + l]! * cores[(h * r + l) * r + k]!;
        else v = down[i * r + k]!;
        a[row * b.inWidth + i] = v;
      }
      for (let o = 0; o < b.outWidth; o++) bMat[o * R + row] = settings.scale * up[(h * r + k) * b.outWidth + o]!;
    }
  }
  return { a, bMat, rank: R };
}

export interface ModuleDelta {
  name: string;
  out: number;
  in: number;
  /** Rows of lora_A (stacked over the module's targets) and lora_B [out, R]. */
  loraA: Float64Array;
  loraB: Float64Array;
  rank: number;
}

/** Every adapted timm module with its stacked factors (q/k/v targets share qkv, placed in their rows). */
export function moduleDeltas(cfg: BackboneConfig, adapter: AdapterFile): ModuleDelta[] {
  const grouped = new Map<string, { info: ReturnType<typeof moduleOf>; parts: { b: Branch; f: ReturnType<typeof branchFactors> }[] }>();
  for (const b of planBranches(cfg, adapter.settings)) {
    const info = moduleOf(cfg, b);
    const entry = grouped.get(info.name) ?? { info, parts: [] };
    entry.parts.push({ b, f: branchFactors(adapter, b) });
    grouped.set(info.name, entry);
  }
  const out: ModuleDelta[] = [];
  const byBlock = [...grouped.values()].sort((x, y) => blockOf(x.info.name) - blockOf(y.info.name) || order(x.info.name) - order(y.info.name));
  for (const { info, parts } of byBlock) {
    parts.sort((x, y) => x.b.colStart - y.b.colStart);
    const rank = parts.reduce((n, p) => n + p.f.rank, 0);
    const loraA = new Float64Array(rank * info.in);
    const loraB = new Float64Array(info.out * rank);
    let offset = 0;
    for (const { b, f } of parts) {
      loraA.set(f.a, offset * info.in);
      for (let o = 0; o < b.outWidth; o++) for (let k = 0; k < f.rank; k++) loraB[(b.colStart + o) * rank + offset + k] = f.bMat[o * f.rank + k]!;
      offset += f.rank;
    }
    out.push({ name: info.name, out: info.out, in: info.in, loraA, loraB, rank });
  }
  return out;
}

const blockOf = (name: string): number => Number(/blocks\.(\d+)\./.exec(name)![1]);
const order = (name: string): number => ['attn.qkv', 'attn.proj', 'mlp.fc1', 'mlp.fc2'].findIndex((m) => name.endsWith(m));

/** s·ΔWᵀ of a module as [out, in] = lora_B · lora_A. */
export function deltaWeight(m: ModuleDelta): Float64Array {
  const w = new Float64Array(m.out * m.in);
  for (let o = 0; o < m.out; o++)
    for (let k = 0; k < m.rank; k++) {
      const bv = m.loraB[o * m.rank + k]!;
      if (bv === 0) continue;
      const row = k * m.in;
      for (let i = 0; i < m.in; i++) w[o * m.in + i] = w[o * m.in + i]! + bv * m.loraA[row + i]!;
    }
  return w;
}

export interface PeftExport {
  config: Record<string, unknown>;
  tensors: TensorToWrite[];
}

/** §2.3: adapter_model.safetensors tensors and adapter_config.json for stock PEFT on the backbone's modules. */
export function peftExport(cfg: BackboneConfig, adapter: AdapterFile, baseModel: string): PeftExport {
  if (adapter.settings.method !== 'clora' && adapter.settings.method !== 'lora') {
    throw new Error(`A ${adapter.settings.method} adapter has no low-rank factors to export to PEFT; export it as a merged model instead.`);
  }
  const modules = moduleDeltas(cfg, adapter);
  const tensors: TensorToWrite[] = [];
  for (const m of modules) {
    tensors.push({ name: `base_model.model.${m.name}.lora_A.weight`, shape: [m.rank, m.in], data: Float32Array.from(m.loraA) });
    tensors.push({ name: `base_model.model.${m.name}.lora_B.weight`, shape: [m.out, m.rank], data: Float32Array.from(m.loraB) });
  }
  tensors.push({ name: 'base_model.model.head.weight', shape: [adapter.classes.length, featureWidth(cfg)], data: adapter.tensors.get('head.weight')! });
  tensors.push({ name: 'base_model.model.head.bias', shape: [adapter.classes.length], data: adapter.tensors.get('head.bias')! });
  // r = the most common module rank; modules that differ keep scaling 1 through rank_pattern/alpha_pattern.
  const counts = new Map<number, number>();
  for (const m of modules) counts.set(m.rank, (counts.get(m.rank) ?? 0) + 1);
  const r = [...counts].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0]![0];
  const rankPattern: Record<string, number> = {};
  for (const m of modules) if (m.rank !== r) rankPattern[m.name] = m.rank;
  const config = {
    peft_type: 'LORA',
    task_type: null,
    base_model_name_or_path: baseModel,
    r,
    lora_alpha: r,
    lora_dropout: 0,
    bias: 'none',
    fan_in_fan_out: false,
    init_lora_weights: true,
    target_modules: modules.map((m) => m.name),
    modules_to_save: ['head'],
    rank_pattern: rankPattern,
    alpha_pattern: { ...rankPattern },
    inference_mode: true,
    auto_mapping: isPointConfig(cfg)
      ? { base_model_class: 'PointTransformer', parent_library: 'models.Point_MAE' }
      : { base_model_class: 'VisionTransformer', parent_library: 'timm.models.vision_transformer' },
    revision: null,
  };
  return { config, tensors };
}

/**
 * §2.4: the whole fine-tuned network in the backbone's own keys: each adapted module's weight plus s·ΔWᵀ, the
 * new head; for `full` the adapter's own tensors. `readBackbone` gives the frozen weights one at a time.
 */
export async function mergedExport(cfg: BackboneConfig, adapter: AdapterFile, backboneNames: string[], readBackbone: (name: string) => Promise<Float32Array>, shapes: Map<string, number[]>): Promise<TensorToWrite[]> {
  const deltas = new Map<string, ModuleDelta>();
  if (adapter.settings.method === 'clora' || adapter.settings.method === 'lora') for (const m of moduleDeltas(cfg, adapter)) deltas.set(`${m.name}.weight`, m);
  const out: TensorToWrite[] = [];
  for (const name of backboneNames) {
    let data = adapter.settings.method === 'full' ? (adapter.tensors.get(name) ?? (await readBackbone(name))) : await readBackbone(name);
    const delta = deltas.get(name);
    if (delta) {
      const dw = deltaWeight(delta);
      const merged = new Float32Array(data.length);
      for (let i = 0; i < data.length; i++) merged[i] = data[i]! + dw[i]!;
      data = merged;
    }
    out.push({ name, shape: shapes.get(name)!, data });
  }
  out.push({ name: 'head.weight', shape: [adapter.classes.length, featureWidth(cfg)], data: adapter.tensors.get('head.weight')! });
  out.push({ name: 'head.bias', shape: [adapter.classes.length], data: adapter.tensors.get('head.bias')! });
  return out;
}
