import type { GpuContext } from '../gpu/context';
import { addInto, fill } from '../kernels/elementwise';
import { activeTape, setActiveTape, shapeText, Tensor } from './tensor';

/** Returns the gradient of each input (null where the input needs none) from the gradients of the outputs. */
export type BackwardRule = (gradOutputs: (Tensor | null)[]) => (Tensor | null)[];

/** One recorded op: forward already ran; `backward` is its local rule (see src/autodiff/ops). */
export interface Node {
  op: string;
  inputs: Tensor[];
  outputs: Tensor[];
  backward: BackwardRule;
}

/**
 * Records ops while active and owns every tensor created meanwhile. `backward(loss)` walks the recorded
 * nodes once in reverse order (a topological order, since a node is recorded after its inputs exist),
 * accumulating gradients; `dispose()` gives every intermediate buffer back to the pool.
 */
export class Tape {
  private nodes: Node[] = [];
  private tensors: Tensor[] = [];
  // How many tensors hold a gradient buffer as their `.grad`: a shared buffer is never added into in place.
  private gradOwners = new Map<Tensor, number>();
  private ended = false;

  constructor(readonly ctx: GpuContext) {
    if (activeTape(ctx)) throw new Error('Another tape is still recording on this device: dispose it first.');
    setActiveTape(ctx, this);
  }

  track(tensor: Tensor): void {
    this.tensors.push(tensor);
  }

  record(node: Node): void {
    this.nodes.push(node);
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Tensors that recorded ops read but that no op on this tape produced and that need a gradient. */
  externalInputs(): Tensor[] {
    const produced = new Set<Tensor>(this.nodes.flatMap((n) => n.outputs));
    const seen = new Set<Tensor>();
    for (const node of this.nodes) {
      for (const input of node.inputs) if (input.requiresGrad && !produced.has(input)) seen.add(input);
    }
    return [...seen];
  }

  /** Whether this tape created (and so will release) the tensor. */
  owns(tensor: Tensor): boolean {
    return this.tensors.includes(tensor);
  }

  /** A position in the list of tensors this tape owns (see releaseSince). */
  mark(): number {
    return this.tensors.length;
  }

  /**
   * Releases the tensors created since `mark` except `keep`. Only for work no backward will visit (inference):
   * a forward pass then holds one block's activations at a time instead of all of them.
   */
  releaseSince(mark: number, keep: Tensor[]): void {
    const kept = new Set(keep.flatMap((t) => (t.base ? [t, t.base] : [t])));
    const survivors: Tensor[] = [];
    for (const t of this.tensors.splice(mark)) {
      if (kept.has(t)) survivors.push(t);
      else t.dispose();
    }
    this.tensors.push(...survivors);
  }

  /** Stops recording; tensors stay alive until dispose(). */
  end(): void {
    if (!this.ended && activeTape(this.ctx) === this) setActiveTape(this.ctx, undefined);
    this.ended = true;
  }

  /**
   * Backpropagates from `loss` (seeded with ones, or `seed`). Several roots may be given with one seed
   * each. Parameter gradients are added to what their `.grad` already holds, so micro-batches accumulate;
   * zero the gradient buffer between steps. `keepSeeds`: the given seeds stay the caller's (never written
   * into, never released).
   */
  backward(loss: Tensor | Tensor[], seed?: Tensor | Tensor[], options: { keepSeeds?: boolean } = {}): void {
    const roots = Array.isArray(loss) ? loss : [loss];
    const seeds = seed === undefined ? [] : Array.isArray(seed) ? seed : [seed];
    const reachable = new Set<Node>();
    const stack: Node[] = [];
    for (const root of roots) {
      if (!root.requiresGrad || !root.node) throw new Error(`backward: ${root.name ?? 'the loss'} does not depend on any tensor that requires a gradient.`);
      stack.push(root.node);
    }
    while (stack.length) {
      const node = stack.pop()!;
      if (reachable.has(node)) continue;
      reachable.add(node);
      for (const input of node.inputs) if (input.node && input.requiresGrad) stack.push(input.node);
    }
    roots.forEach((root, i) => {
      let s = seeds[i];
      if (s && s.size !== root.size) throw new Error(`backward: the seed ${shapeText(s.shape)} does not match the loss ${shapeText(root.shape)}.`);
      if (!s) {
        s = Tensor.like(root);
        fill(this.ctx, s, 1);
      } else if (options.keepSeeds) {
        // One extra owner that is never given up: the seed belongs to the caller, so it is never added
        // into in place nor released here (a nested backward seeded with an outer tape's gradient).
        this.own(s);
      }
      this.accumulate(root, s);
    });
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i]!;
      if (!reachable.has(node)) continue;
      const gradOutputs = node.outputs.map((o) => o.grad);
      if (gradOutputs.every((g) => g === null)) continue;
      const gradInputs = node.backward(gradOutputs);
      node.inputs.forEach((input, k) => {
        const g = gradInputs[k];
        if (g && input.requiresGrad) this.accumulate(input, g);
        else if (g && !gradOutputs.includes(g)) this.releaseIfUnowned(g);
      });
      // The outputs' gradients are consumed: give them back unless another tensor shares the buffer.
      for (const output of node.outputs) {
        const g = output.grad;
        if (!g) continue;
        output.grad = null;
        this.unown(g);
      }
    }
  }

  // Ownership is counted on the tensor that owns the buffer, so views of one gradient share a count.
  private own(g: Tensor): void {
    const key = g.base ?? g;
    this.gradOwners.set(key, (this.gradOwners.get(key) ?? 0) + 1);
  }

  private unown(g: Tensor): void {
    const key = g.base ?? g;
    const count = (this.gradOwners.get(key) ?? 1) - 1;
    if (count > 0) this.gradOwners.set(key, count);
    else {
      this.gradOwners.delete(key);
      if (key.pooled) key.dispose();
    }
  }

  private releaseIfUnowned(g: Tensor): void {
    const key = g.base ?? g;
    if (!this.gradOwners.has(key) && key.pooled) key.dispose();
  }

  private accumulate(target: Tensor, g: Tensor): void {
    if (g.size !== target.size) throw new Error(`Internal: gradient ${shapeText(g.shape)} does not match ${shapeText(target.shape)} in backward.`);
    if (target.grad === null) {
      target.grad = g;
      this.own(g);
      return;
    }
    if ((this.gradOwners.get(target.grad.base ?? target.grad) ?? 0) > 1) {
      // Shared with another tensor: replace by a private sum instead of writing into the shared buffer.
      const sum = Tensor.like(target.grad, target.shape);
      this.ctx.copy(target.grad, sum);
      this.unown(target.grad);
      target.grad = sum;
      this.own(sum);
    }
    addInto(this.ctx, target.grad, g);
    this.releaseIfUnowned(g);
  }

  /** Stops recording and releases every tensor created under this tape except those in `keep`. */
  dispose(keep: Tensor[] = []): void {
    this.end();
    const kept = new Set(keep);
    for (const t of this.tensors) if (!kept.has(t)) t.dispose();
    this.tensors = [];
    this.nodes = [];
    this.gradOwners.clear();
  }
}

/** Records an op on the active tape when any input needs a gradient; marks the outputs accordingly. */
export function record(op: string, inputs: Tensor[], outputs: Tensor[], backward: BackwardRule): void {
  const needsGrad = inputs.some((t) => t.requiresGrad);
  for (const o of outputs) o.requiresGrad = needsGrad;
  if (!needsGrad) return;
  const tape = activeTape(outputs[0]!.ctx);
  if (!tape) return;
  const node: Node = { op, inputs, outputs, backward };
  for (const o of outputs) o.node = node;
  tape.record(node);
}
