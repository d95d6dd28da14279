// How the webcam's camera list names cameras: which way each faces from its capabilities or its label, or
// that it is plugged in (Chromium's USB "(vendor:product)" suffix), and "Camera N" when the browser gives no
// label yet (before the page may use a camera).
import { describe, expect, it } from 'vitest';
import { cameraChoices, cameraFacing } from '../../src/ui/cameras';

describe('camera names', () => {
  it('front, back and external from capabilities, labels and USB ids', () => {
    expect(cameraFacing('', ['user'])).toBe('front');
    expect(cameraFacing('Camera 2', ['environment'])).toBe('back');
    expect(cameraFacing('Front Camera')).toBe('front');
    expect(cameraFacing('camera2 1, facing back')).toBe('back');
    expect(cameraFacing('Rear camera')).toBe('back');
    expect(cameraFacing('FaceTime HD Camera')).toBe('front');
    expect(cameraFacing('HD Pro Webcam C920 (046d:082d)')).toBe('external');
    expect(cameraFacing('Integrated Camera')).toBeUndefined();
    expect(cameraFacing('fake_device_0')).toBeUndefined();
  });

  it('a list as the camera choice shows it', () => {
    const choices = cameraChoices([
      { deviceId: 'a', label: 'Integrated Camera', facingModes: [] },
      { deviceId: 'b', label: 'HD Pro Webcam C920 (046d:082d)' },
      { deviceId: 'c', label: '', facingModes: ['environment'] },
      { deviceId: 'd', label: 'Front Camera', facingModes: ['user'] },
    ]);
    expect(choices).toEqual([
      { deviceId: 'a', name: 'Integrated Camera', facing: undefined },
      { deviceId: 'b', name: 'HD Pro Webcam C920 (external)', facing: 'external' },
      { deviceId: 'c', name: 'Camera 3 (back)', facing: 'back' },
      { deviceId: 'd', name: 'Front Camera (front)', facing: 'front' },
    ]);
  });
});
