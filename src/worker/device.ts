// The worker's GPU device and its loss. A device is made on first use and again after a loss; when one is
// lost, whatever was built on it is released (listeners), then the page hears of it.
import { createBrowserGpuContext } from '../gpu/browser';
import type { GpuContext } from '../gpu/context';
import { countBuffers } from './gpu-usage';
import { emit } from './scope';

let ctx: GpuContext | undefined;
const lostListeners: (() => void)[] = [];

/** The device, or a fresh one when there is none or it was lost. */
export async function device(): Promise<GpuContext> {
  if (ctx && !ctx.lostError) return ctx;
  const fresh = await createBrowserGpuContext();
  countBuffers(fresh.device);
  fresh.onLost((error) => {
    if (ctx !== fresh) return;
    // Everything on the device is gone; the backbone file itself is still here for a fresh device.
    ctx = undefined;
    for (const listener of lostListeners) listener();
    emit({ kind: 'deviceLost', message: error.message });
  });
  ctx = fresh;
  return fresh;
}

/** Called when the device is lost, before the page is told. */
export function onDeviceLost(listener: () => void): void {
  lostListeners.push(listener);
}

/** Tests: destroys the device as a driver reset would. */
export function loseDevice(): void {
  ctx?.destroy();
}
