// Seeded mutations of structured values (what IndexedDB hands back: objects, lists, Maps, typed arrays):
// fields removed or given another type, numbers made hostile, lists and typed arrays cut short or grown,
// elements made NaN. The value is deep-copied first (structuredClone), so the seed stays intact.
import { Rng } from '../../src/train/rng';

type Container = Record<string | number, unknown> | unknown[] | Map<unknown, unknown>;
interface Slot {
  path: string;
  get(): unknown;
  set(value: unknown): void;
  remove(): void;
}

const HOSTILE: (() => unknown)[] = [
  () => undefined,
  () => null,
  () => NaN,
  () => -1,
  () => 1e308,
  () => 2 ** 53 + 2,
  () => 0.5,
  () => '',
  () => '<img src=x onerror=alert(1)>',
  () => '12',
  () => true,
  () => ({}),
  () => [],
  () => new Float32Array(3),
  () => new Map(),
];

function slots(value: unknown, path: string, out: Slot[]): void {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
  const container = value as Container;
  if (container instanceof Map) {
    for (const key of container.keys()) {
      out.push({ path: `${path}.get(${JSON.stringify(key)})`, get: () => container.get(key), set: (v) => container.set(key, v), remove: () => container.delete(key) });
      slots(container.get(key), `${path}.get(${JSON.stringify(key)})`, out);
    }
    return;
  }
  const keys = Array.isArray(container) ? container.map((_, i) => i) : Object.keys(container);
  for (const key of keys) {
    const record = container as Record<string | number, unknown>;
    out.push({
      path: `${path}.${key}`,
      get: () => record[key],
      set: (v) => (record[key] = v),
      remove: () => (Array.isArray(container) ? container.splice(Number(key), 1) : delete record[key]),
    });
    slots(record[key], `${path}.${key}`, out);
  }
}

function resized(value: unknown, rng: Rng): { value: unknown; step: string } | undefined {
  if (value instanceof Float32Array) {
    const length = rng.next() < 0.5 ? rng.int(value.length + 1) : value.length + 1 + rng.int(64);
    const out = new Float32Array(length);
    out.set(value.subarray(0, length));
    return { value: out, step: `resize Float32Array from ${value.length} to ${length}` };
  }
  if (Array.isArray(value)) {
    const length = rng.next() < 0.5 ? rng.int(value.length + 1) : value.length + 1 + rng.int(8);
    const out = Array.from({ length }, (_, i) => (i < value.length ? value[i] : value[rng.int(Math.max(1, value.length))]));
    return { value: out, step: `resize list from ${value.length} to ${length}` };
  }
  return undefined;
}

/** One to three mutations inside a deep copy of `value` (an object or list: its own identity is kept). */
export function mutateValue(value: unknown, rng: Rng): { value: unknown; steps: string[] } {
  const copy = structuredClone(value);
  const steps: string[] = [];
  const count = 1 + rng.int(3);
  for (let tries = 0; steps.length < count && tries < 16; tries++) {
    const all: Slot[] = [];
    slots(copy, '', all);
    if (all.length === 0) break;
    const slot = all[rng.int(all.length)]!;
    const current = slot.get();
    const pick = rng.next();
    if (pick < 0.2) {
      slot.remove();
      steps.push(`remove ${slot.path}`);
    } else if (pick < 0.45) {
      const made = resized(current, rng);
      if (!made) continue;
      slot.set(made.value);
      steps.push(`${made.step} at ${slot.path}`);
    } else if (pick < 0.6 && current instanceof Float32Array && current.length > 0) {
      const at = rng.int(current.length);
      const bad = [NaN, Infinity, -Infinity, 3e38][rng.int(4)]!;
      current[at] = bad;
      steps.push(`set ${slot.path}[${at}] to ${bad}`);
    } else if (pick < 0.75 && typeof current === 'number') {
      const bad = [current + 1, current - 1, -current, current * 1000, Math.floor(current / 2), 2 ** 31][rng.int(6)]!;
      slot.set(bad);
      steps.push(`change ${slot.path} from ${current} to ${bad}`);
    } else {
      const replacement = HOSTILE[rng.int(HOSTILE.length)]!();
      slot.set(replacement);
      steps.push(`set ${slot.path} to ${describe(replacement)}`);
    }
  }
  return { value: copy, steps };
}

function describe(value: unknown): string {
  if (value instanceof Map) return 'an empty Map';
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as Float32Array).length})`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return '[]';
  if (typeof value === 'object' && value !== null) return '{}';
  return String(value);
}
