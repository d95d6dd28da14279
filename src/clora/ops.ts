// CLoRA's differentiable ops: the shared-base low-rank branch (one module, or several on one input), the Gram tensors of a bank and the SADE sum.
// Forward and backward side by side; the kernels are in src/kernels/clora.ts and src/kernels/sade.ts.
import { record } from '../autodiff/tape';
import { activeTape, shapeText, Tensor } from '../autodiff/tensor';
import { ShapeError } from '../gpu/errors';
import { coreGrad, coreMix, lowRankIn, lowRankOut, MAX_BOTTLENECK, weightGrad } from '../kernels/clora';
import { addAt, addInto } from '../kernels/elementwise';
import { gramBackwardInto, gramInto, sadeBackwardInto, sadeForwardInto, SADE_MAX_RANK, SADE_MAX_SPACES, type BankGeometry } from '../kernels/sade';

export interface BranchOptions {
  /** First column of `base` that the branch adds into (q/k/v of a fused qkv output: 0, d, 2d). */
  colStart: number;
  /** The branch scale s. */
  scale: number;
  /** Dropout probability on (X·D_h)·Q_h (inverted: survivors × 1/(1−p)); 0 in evaluation. */
  dropout: number;
  /** Picks the dropout mask: vary it per layer and per step (the mask is a hash of seed and element index). */
  seed: number;
}

const sameDims = (x: readonly number[], y: readonly number[]): boolean => x.length === y.length && x.every((d, i) => d === y[i]);
const isCount = (n: number): boolean => Number.isInteger(n) && n >= 0;

/**
 * base[..., colStart : colStart + b] += s · Σ_h dropout((X·D_h)·Q_h^j) · U_h, IN PLACE.
 *
 * x [..., a], down [p, a, r], cores [m, p, r, r] (module j = `module`), up [p, r, b], base [..., B] with x's
 * leading dimensions. The result is a view of base's buffer (no copy of the frozen output): after the call,
 * use base only through the result. That is what the ViT does with its frozen linear output, whose backward
 * needs only its gradient, never its value. The gradient of base is the result's gradient itself. The result
 * is an untracked view: to keep it past a tape's dispose(), keep `base`, which owns the buffer.
 *
 * Cost: 2 dispatches forward, at most 8 backward (see src/kernels/clora.ts). Z = X·D_cat and W = dropout(Z·Q)
 * ([T, p·r] each, a few percent of X) are kept for the backward only when a gradient will be taken.
 */
export function cloraBranch(x: Tensor, down: Tensor, cores: Tensor, module: number, up: Tensor, base: Tensor, opts: BranchOptions): Tensor {
  return cloraBranches(x, down, cores, up, base, [{ module, colStart: opts.colStart, seed: opts.seed }], opts);
}

/** One module of cloraBranches: its cores, where its output goes, its dropout seed. */
export interface BranchModule {
  /** Index of its cores in the cores tensor. */
  module: number;
  /** First column of `base` its branch adds into. */
  colStart: number;
  /** Its dropout mask's seed (see BranchOptions.seed). */
  seed: number;
}

/**
 * cloraBranch for several modules that read the same input through the same banks (q, k and v of one fused
 * qkv): base[..., colStart_j : colStart_j + b] += s · Σ_h dropout((X·D_h)·Q_h^j) · U_h for each module j, IN
 * PLACE (the result is a view of base, as in cloraBranch). Exactly the modules' cloraBranch calls one after the
 * other, but the products on the input side run once for all of them: Z = X·D_cat forward, and backward
 * dX = (Σ_j dZ_j)·D_catᵀ and dD = Xᵀ·Σ_j dZ_j, where one call per module would repeat each.
 *
 * Cost for n modules: 2n dispatches forward (lowrank_in, then core_mix for each further module, and a
 * lowrank_out each); backward per module lowrank_in, core_grad and weight_grad for dU (with their chunk sums,
 * and an add for each further module), once lowrank_out for dX and weight_grad for dD. Z is kept for the
 * backward only when the cores train, each W only when the up bank does.
 */
export function cloraBranches(x: Tensor, down: Tensor, cores: Tensor, up: Tensor, base: Tensor, modules: readonly BranchModule[], opts: Omit<BranchOptions, 'colStart' | 'seed'>): Tensor {
  const shapes = `x ${shapeText(x.shape)}, down ${shapeText(down.shape)}, cores ${shapeText(cores.shape)}, up ${shapeText(up.shape)}, base ${shapeText(base.shape)}`;
  if (down.rank !== 3 || up.rank !== 3 || cores.rank !== 4) {
    throw new ShapeError(`cloraBranch: ${shapes}: down must be [p, a, r], up [p, r, b] and cores [m, p, r, r].`);
  }
  const [p, a, r] = down.shape as [number, number, number];
  const [pu, ru, b] = up.shape as [number, number, number];
  const [m, pc, rc1, rc2] = cores.shape as [number, number, number, number];
  if (pu !== p || pc !== p || ru !== r || rc1 !== r || rc2 !== r) {
    throw new ShapeError(`cloraBranch: ${shapes}: the banks and cores disagree on the spaces p or the rank r.`);
  }
  if (x.rank < 1 || x.shape[x.rank - 1] !== a) throw new ShapeError(`cloraBranch: input ${shapeText(x.shape)} does not end in the down bank ${shapeText(down.shape)}'s width ${a}.`);
  const lead = x.shape.slice(0, -1);
  if (base.rank !== x.rank || !sameDims(base.shape.slice(0, -1), lead)) {
    throw new ShapeError(`cloraBranch: base ${shapeText(base.shape)} must have the leading dimensions of input ${shapeText(x.shape)}.`);
  }
  const width = base.shape[base.rank - 1]!;
  const { scale, dropout } = opts;
  if (modules.length === 0) throw new ShapeError('cloraBranches: no modules to add.');
  for (const { module, colStart } of modules) {
    if (!isCount(colStart) || colStart + b > width) {
      throw new ShapeError(`cloraBranch: columns [${colStart}, ${colStart + b}) of the up bank ${shapeText(up.shape)} do not fit in base ${shapeText(base.shape)}.`);
    }
    if (!Number.isInteger(module) || module < 0 || module >= m) throw new ShapeError(`cloraBranch: module ${module} is not one of the ${m} modules in cores ${shapeText(cores.shape)}.`);
  }
  if (p * r > MAX_BOTTLENECK) throw new ShapeError(`cloraBranch: p·r = ${p * r} (down ${shapeText(down.shape)}) is over the ${MAX_BOTTLENECK} the kernels take.`);
  if (!(dropout >= 0 && dropout < 1)) throw new RangeError(`cloraBranch: dropout must be in [0, 1), got ${dropout}.`);
  if (!Number.isFinite(scale)) throw new RangeError(`cloraBranch: the scale must be finite, got ${scale}.`);

  const ctx = x.ctx;
  const rows = a === 0 ? 0 : x.size / a;
  const P = p * r;
  const block = P * r;
  const drops = modules.map((mod) => ({ rate: dropout, seed: mod.seed >>> 0 }));
  const inputs = [x, down, cores, up, base];
  const needsGrad = inputs.some((t) => t.requiresGrad) && activeTape(ctx) !== undefined;

  const z = Tensor.empty(ctx, [rows, P]);
  const ws = modules.map(() => Tensor.empty(ctx, [rows, P]));
  modules.forEach((mod, j) => {
    const w = ws[j]!;
    if (j === 0) {
      lowRankIn(ctx, { wide: x, stride: a, offset: 0, k: a, bank: down, cores, coreBase: mod.module * block, stage1: z, stage2: w, rows, p, r, backward: false, alpha: 1, dropout: drops[j]! });
    } else {
      coreMix(ctx, { z, cores, coreBase: mod.module * block, out: w, rows, p, r, dropout: drops[j]! });
    }
    lowRankOut(ctx, { lhs: w, bank: up, bankDown: false, out: base, stride: width, offset: mod.colStart, rows, n: b, p, r, alpha: scale, accumulate: true });
  });
  // What the backward does not read goes back to the pool now; its buffers are reused only by work recorded
  // later, which runs after these dispatches.
  if (!needsGrad || !cores.requiresGrad) z.dispose();
  if (!needsGrad || !up.requiresGrad) for (const w of ws) w.dispose();
  const out = base.view(base.shape);

  record('cloraBranch', inputs, [out], ([g]) => {
    const dOut = g!;
    const inputSide = x.requiresGrad || down.requiresGrad;
    let gCores: Tensor | null = null;
    // dZ = Σ_j dZ_j, the input side's one operand.
    let dz: Tensor | undefined;
    if (inputSide || cores.requiresGrad) {
      dz = Tensor.empty(ctx, [rows, P]);
      const dy = Tensor.empty(ctx, [rows, P]);
      const dzMore = modules.length > 1 ? Tensor.empty(ctx, [rows, P]) : undefined;
      const coreMore = modules.length > 1 && cores.requiresGrad ? Tensor.empty(ctx, [block]) : undefined;
      if (cores.requiresGrad) gCores = Tensor.empty(ctx, cores.shape);
      modules.forEach((mod, j) => {
        const dzj = j === 0 ? dz! : dzMore!;
        lowRankIn(ctx, { wide: dOut, stride: width, offset: mod.colStart, k: b, bank: up, cores, coreBase: mod.module * block, stage1: dy, stage2: dzj, rows, p, r, backward: true, alpha: scale, dropout: drops[j]! });
        if (j > 0 && inputSide) addInto(ctx, dz!, dzj);
        if (!gCores) return;
        // The first module's dQ fills the whole gradient (zeros around its block); the others add their block.
        if (j === 0) coreGrad(ctx, { z, dy, rows, p, r, out: gCores, modules: m, module: mod.module });
        else {
          coreGrad(ctx, { z, dy, rows, p, r, out: coreMore!, modules: 1, module: 0 });
          addAt(ctx, gCores, coreMore!, mod.module * block);
        }
      });
      dy.dispose();
      dzMore?.dispose();
      coreMore?.dispose();
    }
    let gx: Tensor | null = null;
    if (x.requiresGrad) {
      gx = Tensor.empty(ctx, x.shape);
      lowRankOut(ctx, { lhs: dz!, bank: down, bankDown: true, out: gx, stride: a, offset: 0, rows, n: a, p, r, alpha: 1, accumulate: false });
    }
    let gDown: Tensor | null = null;
    if (down.requiresGrad) {
      gDown = Tensor.empty(ctx, down.shape);
      weightGrad(ctx, { lhs: dz!, wide: x, stride: a, offset: 0, rows, n: a, p, r, bankDown: true, out: gDown, alpha: 1 });
    }
    dz?.dispose();
    let gUp: Tensor | null = null;
    if (up.requiresGrad) {
      gUp = Tensor.empty(ctx, up.shape);
      const more = modules.length > 1 ? Tensor.empty(ctx, up.shape) : undefined;
      modules.forEach((mod, j) => {
        weightGrad(ctx, { lhs: ws[j]!, wide: dOut, stride: width, offset: mod.colStart, rows, n: b, p, r, bankDown: false, out: j === 0 ? gUp! : more!, alpha: scale });
        if (j > 0) addInto(ctx, gUp!, more!);
      });
      more?.dispose();
    }
    return [gx, gDown, gCores, gUp, base.requiresGrad ? dOut : null];
  });
  return out;
}

function bankGeometry(op: string, bank: Tensor, kind: 'down' | 'up'): BankGeometry {
  if (bank.rank !== 3) throw new ShapeError(`${op}: a ${kind} bank must be ${kind === 'down' ? '[p, a, r]' : '[p, r, b]'}, got ${shapeText(bank.shape)}.`);
  const [p, d1, d2] = bank.shape as [number, number, number];
  const up = kind === 'up';
  return { p, r: up ? d1 : d2, len: up ? d2 : d1, up };
}

/**
 * The Gram tensor [p, p, r, r] of a bank: G[h, k] = D_hᵀ·D_k for a down bank [p, a, r], G[k, h] = U_k·U_hᵀ for
 * an up bank [p, r, b]. Computed once per step per bank and shared by every module's SADE term.
 */
export function gram(bank: Tensor, kind: 'down' | 'up'): Tensor {
  const g = bankGeometry('gram', bank, kind);
  if (g.p * g.r > MAX_BOTTLENECK) throw new ShapeError(`gram: p·r = ${g.p * g.r} (bank ${shapeText(bank.shape)}) is over ${MAX_BOTTLENECK}.`);
  const ctx = bank.ctx;
  const out = Tensor.empty(ctx, [g.p, g.p, g.r, g.r]);
  gramInto(ctx, bank, out, g);
  record('gram', [bank], [out], ([dG]) => {
    const dBank = Tensor.empty(ctx, bank.shape);
    gramBackwardInto(ctx, bank, dG!, dBank, g);
    return [dBank];
  });
  return out;
}

/**
 * Σ over modules j in [first, first + count) and pairs h < k of (c_hk^j)², with ⟨M_h, M_k⟩ =
 * tr(Q_hᵀ·G^D[h, k]·Q_k·G^U[k, h]) and c = ⟨M_h, M_k⟩ / sqrt((‖M_h‖² + eps)(‖M_k‖² + eps)): a scalar []. Only r×r
 * products, one workgroup per module. Gradients flow to the cores of the range (the rest of the cores gradient
 * is zero) and to both Gram tensors, hence through gram() into the banks. With p = 1 there are no pairs: 0.
 * The caller divides the sum over groups by m·p(p−1)/2 to get L_SADE.
 */
export function sadeSum(cores: Tensor, first: number, count: number, gramDown: Tensor, gramUp: Tensor, eps = 1e-8): Tensor {
  if (cores.rank !== 4) throw new ShapeError(`sadeSum: cores must be [m, p, r, r], got ${shapeText(cores.shape)}.`);
  const [m, p, r, r2] = cores.shape as [number, number, number, number];
  const want = [p, p, r, r];
  if (r2 !== r || !sameDims(gramDown.shape, want) || !sameDims(gramUp.shape, want)) {
    throw new ShapeError(
      `sadeSum: cores ${shapeText(cores.shape)} need Gram tensors ${shapeText(want)}, got down ${shapeText(gramDown.shape)} and up ${shapeText(gramUp.shape)}.`,
    );
  }
  if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 1 || first + count > m) {
    throw new ShapeError(`sadeSum: modules [${first}, ${first + count}) are not a non-empty range of the ${m} modules in cores ${shapeText(cores.shape)}.`);
  }
  if (r > SADE_MAX_RANK || p > SADE_MAX_SPACES) {
    throw new ShapeError(`sadeSum: cores ${shapeText(cores.shape)} exceed the kernel's rank ${SADE_MAX_RANK} or ${SADE_MAX_SPACES} spaces.`);
  }
  const ctx = cores.ctx;
  const geometry = { p, r, modules: m, first, count, eps };
  const out = Tensor.empty(ctx, []);
  sadeForwardInto(ctx, cores, gramDown, gramUp, out, geometry);
  record('sadeSum', [cores, gramDown, gramUp], [out], ([g]) => {
    // The kernel writes all three; a gradient nobody wants goes straight back to the pool.
    const dCores = Tensor.empty(ctx, cores.shape);
    const dGd = gramDown.requiresGrad ? Tensor.empty(ctx, gramDown.shape) : null;
    const dGu = gramUp.requiresGrad ? Tensor.empty(ctx, gramUp.shape) : null;
    sadeBackwardInto(ctx, cores, gramDown, gramUp, g!, dCores, dGd, dGu, geometry);
    if (!cores.requiresGrad) dCores.dispose();
    return [cores.requiresGrad ? dCores : null, dGd, dGu];
  });
  return out;
}
