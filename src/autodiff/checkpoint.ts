// Activation checkpointing: run a piece of the network keeping only its output, and run it again during the
// backward pass to get the activations its gradient needs. Costs one more forward of the piece; saves all of
// its intermediate tensors between the forward and the backward (for a ViT block at batch 32 on ViT-B,
// about 330 MB per block against 20 MB for the block's output).
import { Tape } from './tape';
import { activeTape, setActiveTape, type Tensor } from './tensor';

/**
 * y = fn(x), recorded on the active tape as ONE node whose backward recomputes fn. `fn` must be
 * deterministic given x and the tensors it closes over (dropout masks drawn from a fixed seed qualify), and
 * must build its result only from recorded ops. Tensors fn reads that need a gradient (x, trainable weights)
 * become the node's inputs, found from the ops fn records. Without an active tape this is just fn(x).
 */
export function checkpoint(x: Tensor, fn: (x: Tensor) => Tensor, op = 'checkpoint'): Tensor {
  const ctx = x.ctx;
  const outer = activeTape(ctx);
  if (!outer) return fn(x);

  // Forward on a tape of its own, to find fn's inputs and release its intermediates at once.
  setActiveTape(ctx, undefined);
  let y: Tensor;
  let inputs: Tensor[];
  let owner: Tensor;
  let ownedByRun: boolean;
  const run = new Tape(ctx);
  try {
    y = fn(x);
    inputs = run.externalInputs();
    owner = y.base ?? y;
    ownedByRun = run.owns(owner);
    run.dispose([owner]);
  } finally {
    run.end();
    setActiveTape(ctx, outer);
  }
  if (ownedByRun) outer.track(owner);
  if (inputs.length === 0) return y;

  // The output's producer is now the checkpoint node (record() re-points y.node and y.requiresGrad).
  recordCheckpoint(op, x, y, inputs, fn, outer);
  return y;
}

function recordCheckpoint(op: string, x: Tensor, y: Tensor, inputs: Tensor[], fn: (x: Tensor) => Tensor, outer: Tape): void {
  const ctx = x.ctx;
  const node = {
    op,
    inputs,
    outputs: [y],
    backward: ([dy]: (Tensor | null)[]): (Tensor | null)[] => {
      if (!dy) return inputs.map(() => null);
      // Gradients are collected fresh on the inner tape, then handed to the outer tape, which adds them
      // where they belong (the flat gradient buffer for weights): park whatever the inputs already hold.
      const parked = inputs.map((t) => t.grad);
      for (const t of inputs) t.grad = null;
      setActiveTape(ctx, undefined);
      const again = new Tape(ctx);
      let grads: (Tensor | null)[] = [];
      try {
        const y2 = fn(x);
        again.backward(y2, dy, { keepSeeds: true });
        grads = inputs.map((t) => t.grad);
        const owners = grads.flatMap((g) => (g ? [g.base ?? g] : []));
        const created = owners.filter((g) => again.owns(g));
        again.dispose([...new Set([...grads.filter((g): g is Tensor => g !== null), ...owners])]);
        // Whatever survives is released by the outer tape's gradient bookkeeping, or at its dispose().
        for (const g of new Set(created)) outer.track(g);
      } finally {
        inputs.forEach((t, i) => (t.grad = parked[i]!));
        again.end();
        setActiveTape(ctx, outer);
      }
      return grads;
    },
  };
  for (const input of inputs) if (input === y) throw new Error(`${op}: the output cannot be one of its own inputs.`);
  y.requiresGrad = true;
  y.node = node;
  outer.record(node);
}
