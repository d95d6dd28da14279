// The project file's pure parts: validateProject takes any JSON value and returns a checked project or a
// sentence (a newer format version says to update; anything inconsistent says the file is damaged), class
// folders are safe, unique file-system names, and the listed images map back to their sample keys.
import { describe, expect, it } from 'vitest';
import { classFolders, imageFileName, listedImages, ProjectError, seqOfImageFile, validateProject, type ProjectFile } from '../../src/io/project-file';

function project(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 'clora-web-project',
    format_version: 1,
    savedAt: '2026-12-07T00:00:00.000Z',
    backbone: { spec: 'clora-web/vit-mnist', label: 'Bundled ViT', url: 'http://127.0.0.1/models/vit-mnist.safetensors' },
    classes: [
      { id: 'c1', name: 'cat', folder: 'cat', images: ['000000001.png', '000000003.png'] },
      { id: 'c2', name: 'dog/wolf', folder: 'dog_wolf', images: ['000000002.png'] },
    ],
    validationShare: 0.2,
    nextSeq: 4,
    settings: { method: 'clora', epochs: 3 },
    checkpoint: {
      file: 'checkpoint.safetensors',
      runId: 'run-abc',
      step: 2,
      totalSteps: 6,
      createdAt: 1_700_000_000_000,
      reason: 'pause',
      checkpointEvery: 2,
      quick: false,
      fingerprint: '0123abcd-3',
      accuracy: [{ step: 3, epoch: 1, train: 0.5, validation: null }],
    },
    ...patch,
  };
}

function refusal(value: unknown): string {
  try {
    validateProject(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ProjectError);
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('project file', () => {
  it('accepts a project and maps its images to sample keys', () => {
    const p: ProjectFile = validateProject(project());
    expect(p.classes.map((c) => c.name)).toEqual(['cat', 'dog/wolf']);
    expect(p.checkpoint).toMatchObject({ runId: 'run-abc', step: 2, accuracy: [{ validation: null }] });
    expect([...listedImages(p)]).toEqual([
      ['images/cat/000000001.png', { classId: 'c1', seq: 1 }],
      ['images/cat/000000003.png', { classId: 'c1', seq: 3 }],
      ['images/dog_wolf/000000002.png', { classId: 'c2', seq: 2 }],
    ]);
    expect(validateProject(project({ checkpoint: null })).checkpoint).toBeNull();
  });

  it('refuses a newer format version with what to do, and what is not a project', () => {
    expect(refusal(project({ format_version: 2 }))).toMatch(/^This project was saved by a newer version of clora-web \(project format version 2; this page reads version 1\)\. Open it in an updated clora-web/);
    expect(refusal({ format: 'something' })).toMatch(/^This is not a clora-web project/);
    expect(refusal(null)).toMatch(/^This is not a clora-web project/);
    expect(refusal([1, 2])).toMatch(/^This is not a clora-web project/);
    expect(refusal(project({ format_version: '1' }))).toMatch(/damaged.*"format_version" is "1", not 1/);
  });

  it('refuses every inconsistency as damaged, naming it', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ classes: [{ id: 'c1', name: 'a', folder: '../up', images: [] }] }, /folder of class "a" "\.\.\/up" is not a plain folder name/],
      [{ classes: [{ id: 'c1', name: 'a', folder: '..', images: [] }] }, /not a plain folder name/],
      [{ classes: [{ id: 'c 1', name: 'a', folder: 'a', images: [] }] }, /id of class 1 \("c 1"\) has characters/],
      [{ classes: [{ id: 'c1', name: 'a', folder: 'a', images: [] }, { id: 'c1', name: 'b', folder: 'b', images: [] }] }, /two classes have the id "c1"/],
      [{ classes: [{ id: 'c1', name: 'a', folder: 'a', images: [] }, { id: 'c2', name: 'a', folder: 'b', images: [] }] }, /two classes are named "a"/],
      [{ classes: [{ id: 'c1', name: 'a', folder: 'x', images: [] }, { id: 'c2', name: 'b', folder: 'X', images: [] }] }, /two classes use the folder "X"/],
      [{ classes: [{ id: 'c1', name: 'a', folder: 'a', images: ['1.jpg'] }] }, /lists "1\.jpg", which is not an image file name/],
      [{ classes: [{ id: 'c1', name: 'a', folder: 'a', images: ['000000009.png'] }] }, /at or past nextSeq 4/],
      [{ classes: [{ id: 'c1', name: 'a', folder: 'a', images: ['1.png', '000000001.png'] }] }, /lists image 1 twice/],
      [{ classes: 'cat' }, /"classes" is not a list/],
      [{ validationShare: 0.95 }, /"validationShare" is over 0\.9/],
      [{ validationShare: -1 }, /"validationShare" is not a share/],
      [{ nextSeq: 0 }, /"nextSeq" is not a whole number from 1/],
      [{ settings: [] }, /"settings" is not an object/],
      [{ backbone: { label: 'x' } }, /"backbone\.spec" is not a name/],
      [{ checkpoint: { ...(project().checkpoint as object), step: 7 } }, /"checkpoint\.step" is not a whole number from 0 to 6/],
      [{ checkpoint: { ...(project().checkpoint as object), file: '../x' } }, /"checkpoint\.file" is not "checkpoint\.safetensors"/],
      [{ checkpoint: { ...(project().checkpoint as object), reason: 'later' } }, /"checkpoint\.reason"/],
      [{ checkpoint: { ...(project().checkpoint as object), accuracy: [{ step: 1, epoch: 1, train: 2 }] } }, /"checkpoint\.accuracy\[0\]\.train" is not a share/],
    ];
    for (const [patch, pattern] of cases) {
      const message = refusal(project(patch));
      expect(message, JSON.stringify(patch)).toMatch(/^The project file is damaged or was not saved by clora-web: /);
      expect(message, JSON.stringify(patch)).toMatch(pattern);
      expect(message).toMatch(/Open the original \.zip again/);
    }
  });

  it('makes safe, unique folder names and image file names', () => {
    expect(classFolders(['cat', 'dog/wolf', 'Cat', 'a:b*c?', '..', '', ' con ', 'nul', 'x'.repeat(100)])).toEqual([
      'cat',
      'dog_wolf',
      'Cat (2)',
      'a_b_c_',
      'class_5',
      'class_6',
      'class_con',
      'class_nul',
      'x'.repeat(80),
    ]);
    expect(imageFileName(17)).toBe('000000017.png');
    expect(seqOfImageFile('000000017.png')).toBe(17);
    expect(seqOfImageFile('17.jpg')).toBeUndefined();
  });
});
