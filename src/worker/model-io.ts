// The model in the slot, in and out: predictions for Try it (the trained, imported or checkpoint model, else
// the backbone's own head) on an image or a point file, each saying which model answered; the four exports
// (native adapter, PEFT zip, merged safetensors, merged ONNX for image models); adapter imports; and a saved
// checkpoint's weights made the model.
import { mergedExport, peftExport } from '../clora/export';
import { modelFile, readAdapterFile } from '../clora/files';
import { createFineTuneModel, type FineTuneModel } from '../clora/model';
import { SettingsError } from '../clora/settings';
import { decodeImageBlob } from '../data/decode-browser';
import { preprocessImages } from '../data/preprocess';
import { blobSource, openSafetensors, writeSafetensors } from '../io/safetensors';
import { zipFiles } from '../io/zip';
import { backboneShapes } from '../nn/backbone';
import { backboneHeadAdapter, logitsOf, predictLogits, topClasses } from '../train/predict';
import { requireBackbone, requireImageBackbone } from './backbone';
import { device } from './device';
import { heldModel, heldSession, hold, slotVersion, type HeldModel } from './model-slot';
import { readCloud } from './points';
import type { ExportedFile, ExportFormat, ImportedAdapter, ModelWeights, Prediction } from './protocol';

/** The slot's model, or the backbone's own head put there (as a `head` adapter) when it is empty. */
async function predictionModel(): Promise<HeldModel> {
  const held = heldModel();
  if (held) return held;
  const b = requireBackbone();
  if (b.meta.cfg.classes === 0) throw new SettingsError('This backbone has no classifier head of its own: train or import an adapter first.');
  const head = await backboneHeadAdapter(b.info.headClasses, b.read);
  await holdBuilt(async () => createFineTuneModel(await device(), b.meta.cfg, head.settings, head.classes, b.read, head.tensors), 'backbone head', `the backbone's own head (${head.classes.length} classes)`);
  return heldModel()!;
}

/**
 * Builds a model (which awaits uploads) and puts it in the slot, unless the slot changed meanwhile — a run
 * started, another model came — in which case the new one is disposed and the request refused.
 */
async function holdBuilt(build: () => Promise<FineTuneModel>, source: HeldModel['source'], label: string): Promise<void> {
  const before = slotVersion();
  const model = await build();
  if (slotVersion() !== before) {
    model.dispose();
    throw new SettingsError('Another model was loaded while this one was being prepared (a run started, or another file was chosen); try again.');
  }
  hold(model, source, label);
}

export async function predict(image: Blob): Promise<Prediction> {
  const b = requireImageBackbone('Trying an image');
  const decoded = await decodeImageBlob(image, image instanceof File ? image.name : 'The image');
  const { model, source, label } = await predictionModel();
  const logits = await logitsOf(model, 1, () => preprocessImages(model.ctx, [decoded], b.meta.preprocess));
  const classes = model.parts.classes;
  return { classes, top: topClasses(logits, classes), model: source, label };
}

/** Top classes of one point file, read as intake reads it; the cloud comes back for the page to show. */
export async function predictCloud(file: Blob, name: string): Promise<Prediction> {
  const cloud = await readCloud(file, name, 'Trying a point file');
  const { model, source, label } = await predictionModel();
  const logits = await predictLogits(model, cloud.points, 1, [cloud.points.length / 3, 3]);
  const classes = model.parts.classes;
  return { classes, top: topClasses(logits, classes), model: source, label, cloud: cloud.points };
}

function exportModel(): FineTuneModel {
  const held = heldModel();
  if (!held || held.source === 'backbone head') throw new SettingsError('There is no adapter to export yet: train one, use a saved checkpoint or import an adapter file.');
  return held.model;
}

function safeName(text: string): string {
  return text.replace(/^.*\//, '').replace(/\.safetensors$/, '').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60) || 'model';
}

/** The native adapter file (clora-spec §2.2), with how the run went when the model is being trained. */
async function nativeFile(model: FineTuneModel): Promise<Uint8Array<ArrayBuffer>> {
  const b = requireBackbone();
  const extra: Record<string, string> = { ...b.meta.describe() };
  const session = heldSession();
  if (session?.model === model) {
    const last = session.trainer.history.at(-1);
    extra.training = JSON.stringify({ ...session.trainer.options, steps: session.trainer.totalSteps, step: session.trainer.currentStep });
    if (last) extra.final_loss = String(last.loss);
    const acc = session.accuracy.at(-1);
    if (acc?.validation !== undefined) extra.validation_accuracy = String(acc.validation);
  }
  const { tensors, metadata } = await modelFile(model, extra);
  return writeSafetensors(tensors, metadata);
}

export async function exportFile(format: ExportFormat): Promise<ExportedFile> {
  const b = requireBackbone();
  const cfg = b.meta.cfg;
  const model = exportModel();
  const method = model.parts.settings.method;
  const bytes = await nativeFile(model);
  const base = `${safeName(b.info.spec)}-${method}`;
  if (format === 'native') return { blob: new Blob([bytes], { type: 'application/octet-stream' }), filename: `${base}-adapter.safetensors` };
  const adapter = await readAdapterFile(await openSafetensors(blobSource(new Blob([bytes]), 'adapter')), cfg);
  if (format === 'peft') {
    const { config, tensors } = peftExport(cfg, adapter, b.info.spec);
    const zip = zipFiles({
      'adapter_config.json': new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`),
      'adapter_model.safetensors': writeSafetensors(tensors, { format: 'pt' }),
    });
    return { blob: new Blob([zip], { type: 'application/zip' }), filename: `${base}-peft.zip` };
  }
  const shapes = backboneShapes(cfg);
  const tensors = await mergedExport(cfg, adapter, [...shapes.keys()], b.read, shapes);
  if (format === 'onnx') {
    const vit = requireImageBackbone('The ONNX export (a ViT graph; export the merged model as safetensors for a point backbone)');
    // The protobuf code (about 82 KB) is fetched only when someone exports to ONNX.
    const { mergedModelToOnnx } = await import('../clora/onnx-export');
    const onnx = mergedModelToOnnx(vit.meta.cfg, tensors, { classes: adapter.classes, preprocess: vit.meta.preprocess, metadata: { ...b.meta.describe(), merged_from: method } });
    return { blob: new Blob([onnx as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }), filename: `${base}-merged.onnx` };
  }
  const merged = writeSafetensors(tensors, { ...b.meta.describe(), classes: JSON.stringify(adapter.classes), merged_from: method });
  return { blob: new Blob([merged], { type: 'application/octet-stream' }), filename: `${base}-merged.safetensors` };
}

function refuseWhileTraining(what: string): void {
  if (heldSession()?.state === 'training') throw new SettingsError(`A run is training: pause or stop it before ${what}.`);
}

/** The label Try it shows for an imported adapter. */
export function importedLabel(method: string, name: string, classes: number): string {
  return `imported ${method} adapter ${name} (${classes} classes)`;
}

export async function importAdapter(fileBlob: Blob, name: string): Promise<ImportedAdapter> {
  const b = requireBackbone();
  refuseWhileTraining('importing an adapter');
  const adapter = await readAdapterFile(await openSafetensors(blobSource(fileBlob, name)), b.meta.cfg);
  const label = importedLabel(adapter.settings.method, name, adapter.classes.length);
  await holdBuilt(async () => createFineTuneModel(await device(), b.meta.cfg, adapter.settings, adapter.classes, b.read, adapter.tensors), 'imported', label);
  return { method: adapter.settings.method, label, classes: adapter.classes, settings: adapter.settings, metadata: adapter.metadata };
}

/** A saved checkpoint's weights become the model Try it and the exports use (no training session). */
export async function useWeights(weights: ModelWeights): Promise<null> {
  const b = requireBackbone();
  refuseWhileTraining('using a saved checkpoint');
  await holdBuilt(async () => createFineTuneModel(await device(), b.meta.cfg, weights.settings, weights.classes, b.read, weights.tensors), weights.source, weights.label);
  return null;
}
