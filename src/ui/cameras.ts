// The cameras a page can use, named so a person can tell them apart: which way each faces (front, back),
// or that it is plugged in (external), from what the browser says about it.

export type CameraFacing = 'front' | 'back' | 'external' | undefined;

export interface CameraChoice {
  deviceId: string;
  /** What the camera list shows: the browser's label (or "Camera N") and which way it faces, if known. */
  name: string;
  facing: CameraFacing;
}

/** What a camera faces: its capabilities' facingMode first, then words in its label, then a USB id (external). */
export function cameraFacing(label: string, facingModes: readonly string[] = []): CameraFacing {
  if (facingModes.includes('user')) return 'front';
  if (facingModes.includes('environment')) return 'back';
  if (/\b(front|user|facetime|selfie)\b/i.test(label)) return 'front';
  if (/\b(back|rear|environment|world)\b/i.test(label)) return 'back';
  // Chromium appends a USB camera's vendor and product ids: "HD Webcam (046d:0825)".
  if (/\([0-9a-f]{4}:[0-9a-f]{4}\)/i.test(label) || /\b(usb|external)\b/i.test(label)) return 'external';
  return undefined;
}

/** Names for a list of video inputs, in the browser's order. */
export function cameraChoices(devices: readonly { deviceId: string; label: string; facingModes?: readonly string[] }[]): CameraChoice[] {
  return devices.map((d, i) => {
    const facing = cameraFacing(d.label, d.facingModes);
    const label = d.label.replace(/\s*\([0-9a-f]{4}:[0-9a-f]{4}\)\s*$/i, '') || `Camera ${i + 1}`;
    return { deviceId: d.deviceId, facing, name: facing ? `${label} (${facing})` : label };
  });
}

/** The video inputs the browser lists (labels appear once the page may use a camera). */
export async function listCameras(): Promise<CameraChoice[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
  return cameraChoices(
    devices.map((d) => {
      const caps = (d as InputDeviceInfo).getCapabilities?.() as MediaTrackCapabilities | undefined;
      return { deviceId: d.deviceId, label: d.label, facingModes: caps?.facingMode ?? [] };
    }),
  );
}
