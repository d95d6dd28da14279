// The training worker's entry: owns the GPU device, the backbone, the model and its training session, so the
// page's main thread never runs engine work. It answers each request of protocol.ts with one reply, and
// streams events (download progress, metrics, accuracy, checkpoints, run state, device loss).
//
// Only one Tape may record on a device at a time; every GPU section of the worker is synchronous up to the
// point where its reads are submitted, so predictions and intake can interleave with training safely.
import { SettingsError } from '../clora/settings';
import { adapterName } from '../gpu/context';
import { cancelDownload, loadBackbone } from './backbone';
import { checkpointFileOf, readCheckpointFile } from './checkpoint-files';
import { device, loseDevice, onDeviceLost } from './device';
import { errorKind } from './errors';
import { decodeExact, prepare } from './images';
import { exportFile, importAdapter, predict, predictCloud, useWeights } from './model-io';
import { heldSession, release } from './model-slot';
import { preparePoints } from './points';
import { transferablesOf, type ReplyMessage, type RequestMessage } from './protocol';
import { messageOf, scope } from './scope';
import { TrainingSession } from './session';

/** Features worth naming on the page. */
const SHOWN_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'];

onDeviceLost(() => release({ deviceLost: true }));

/** Takes the page's lock and holds it for as long as this worker lives (src/app/worker-client.ts waits on it). */
function holdLock(name: string): Promise<void> {
  return new Promise((held) => void navigator.locks.request(name, () => new Promise<never>(() => held())));
}

async function handle(request: RequestMessage): Promise<{ value: unknown; transfer?: Transferable[] }> {
  switch (request.type) {
    case 'init': {
      await holdLock(request.lock);
      const gpu = await device();
      const { kind, reason } = gpu.profile;
      return { value: { adapter: adapterName(gpu.adapter), features: [...gpu.features].filter((f) => SHOWN_FEATURES.includes(f)), profile: { kind, reason } } };
    }
    case 'loadBackbone':
      return { value: await loadBackbone(request.source) };
    case 'cancelDownload':
      cancelDownload();
      return { value: null };
    case 'prepare': {
      // Exact: a project's own samples, kept as saved; otherwise new files, resized for the model.
      const results = request.exact ? await decodeExact(request.items) : await prepare(request.items);
      return { value: results, transfer: transferablesOf(results.flatMap((r) => (r.ok ? [r.rgb] : []))) };
    }
    case 'preparePoints': {
      const results = await preparePoints(request.items);
      return { value: results, transfer: transferablesOf(results.flatMap((r) => (r.ok ? [r.points] : []))) };
    }
    case 'train':
      return { value: await TrainingSession.start(request.start) };
    case 'pause':
      heldSession()?.pause();
      return { value: null };
    case 'resume': {
      const session = heldSession();
      if (!session) throw new SettingsError('Nothing is paused in this tab: resume from a checkpoint instead.');
      session.resume();
      return { value: null };
    }
    case 'stop':
      heldSession()?.stop();
      return { value: null };
    case 'predict':
      return { value: await predict(request.image) };
    case 'predictCloud': {
      const prediction = await predictCloud(request.file, request.name);
      return { value: prediction, transfer: transferablesOf(prediction.cloud ? [prediction.cloud] : []) };
    }
    case 'export':
      return { value: await exportFile(request.format) };
    case 'importAdapter':
      return { value: await importAdapter(request.file, request.name) };
    case 'useWeights':
      return { value: await useWeights(request.weights) };
    case 'writeCheckpointFile':
      return { value: await checkpointFileOf(request.run) };
    case 'readCheckpointFile':
      return { value: await readCheckpointFile(request.file, request.name) };
    case 'loseDevice':
      loseDevice();
      return { value: null };
  }
}

scope.onmessage = (event: MessageEvent<RequestMessage>) => {
  const request = event.data;
  handle(request).then(
    ({ value, transfer }) => {
      const reply: ReplyMessage = { kind: 'reply', id: request.id, ok: true, value };
      scope.postMessage(reply, transfer ?? []);
    },
    (error: unknown) => {
      const reply: ReplyMessage = { kind: 'reply', id: request.id, ok: false, error: { message: messageOf(error), kind: errorKind(error) } };
      scope.postMessage(reply);
    },
  );
};
