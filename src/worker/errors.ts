// What sort of problem an error is, so the page can say what to do (resume, change a setting, fix the data…).
import { SettingsError } from '../clora/settings';
import { DatasetError } from '../data/dataset';
import { PointCloudError } from '../data/points/cloud';
import { ImageDecodeError } from '../data/preprocess';
import { DeviceLostError, GpuUnavailableError, ShapeError } from '../gpu/errors';
import { DownloadError } from '../io/download';
import { SafetensorsError } from '../io/safetensors';
import { TrainingDiverged } from '../train/trainer';
import type { ErrorKind } from './protocol';

export function errorKind(error: unknown): ErrorKind {
  if (error instanceof DeviceLostError) return 'deviceLost';
  if (error instanceof GpuUnavailableError) return 'gpuUnavailable';
  if (error instanceof SettingsError || error instanceof ShapeError) return 'settings';
  if (error instanceof DatasetError || error instanceof ImageDecodeError || error instanceof PointCloudError) return 'data';
  if (error instanceof TrainingDiverged) return 'diverged';
  if (error instanceof DownloadError || error instanceof SafetensorsError) return 'download';
  return 'other';
}
