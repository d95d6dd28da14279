// What the model gets wrong: the samples behind the final evaluation. The worker reports each evaluated
// sample's top predictions by position; this maps positions to the stored samples (whose keys the run noted
// when it packed the data) and opens any cell of the confusion matrix with thumbnails of its images (or
// its point clouds, to turn).
import { isStoredCloud } from '../data/point-samples';
import { dequantizeCloud } from '../data/points/quantize';
import type { WorkerEvent } from '../worker/protocol';
import { messageOf, type AppContext } from './context';
import type { DataController } from './data-set';
import type { CellImage } from './state';
import { thumbnailUrl } from './thumbnails';

/** Thumbnails shown per cell (a cell of a big data set can hold thousands). */
export const CELL_IMAGES = 60;

export class EvaluationController {
  /** Sample keys of the images the run evaluates, in the worker's order. */
  private evaluatedKeys: string[] = [];

  constructor(
    private readonly ctx: AppContext,
    private readonly data: DataController,
  ) {}

  /** A run starts: these are the images its final evaluation will score, in order. */
  track(keys: string[]): void {
    this.evaluatedKeys = keys;
  }

  onEvaluation(e: Extract<WorkerEvent, { kind: 'evaluation' }>): void {
    this.ctx.store.patch('run', { evaluation: { evaluation: e.evaluation, on: e.on, samples: e.samples }, cell: undefined });
  }

  /** The images counted in row `actual`, column `predicted`, with their top predictions. */
  async openCell(actual: number, predicted: number): Promise<void> {
    const { store } = this.ctx;
    const evaluation = store.state.run.evaluation;
    if (!evaluation) return;
    const inCell = evaluation.samples.filter((s) => s.label === actual && s.top[0]?.index === predicted);
    store.patch('run', { cell: { actual, predicted, count: inCell.length, images: [], loading: true } });
    try {
      const shown = inCell.slice(0, CELL_IMAGES);
      const keys = shown.map((s) => this.evaluatedKeys[s.index]);
      const stored = new Map((await this.data.samples.get(keys.filter((k): k is string => k !== undefined))).map((s) => [s.key, s]));
      const images: CellImage[] = shown.map((s, i) => {
        const key = keys[i] ?? `#${s.index}`;
        const sample = stored.get(keys[i] ?? '');
        if (sample && isStoredCloud(sample)) return { key, thumbnail: '', cloud: dequantizeCloud(sample.points), top: s.top };
        return { key, thumbnail: sample ? thumbnailUrl(sample.rgb, sample.size) : '', top: s.top };
      });
      // Another cell may have been opened meanwhile.
      if (store.state.run.cell?.actual !== actual || store.state.run.cell.predicted !== predicted) return;
      store.patch('run', { cell: { actual, predicted, count: inCell.length, images, loading: false } });
    } catch (error) {
      store.patch('run', { cell: undefined, message: `The images could not be read from this browser's storage (${messageOf(error)}).` });
    }
  }

  closeCell(): void {
    this.ctx.store.patch('run', { cell: undefined });
  }
}
