// The project file's pure parts: validateProject takes any JSON value and returns a checked project or a
// sentence (a newer format version says to update; anything inconsistent says the file is damaged), class
// folders are safe, unique file-system names, and the listed samples (images, or point clouds in a version 2
// project) map back to their sample keys; projectJson writes an image project as version 1 wrote it.
import { describe, expect, it } from 'vitest';
import { classFolders, listedSamples, ProjectError, projectJson, sampleFileName, seqOfSampleFile, validateProject, type ProjectFile } from '../../src/io/project-file';

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
    expect(p).toMatchObject({ kind: 'images', points: null, format_version: 1 });
    expect(p.checkpoint).toMatchObject({ runId: 'run-abc', step: 2, accuracy: [{ validation: null }] });
    expect([...listedSamples(p)]).toEqual([
      ['images/cat/000000001.png', { classId: 'c1', seq: 1 }],
      ['images/cat/000000003.png', { classId: 'c1', seq: 3 }],
      ['images/dog_wolf/000000002.png', { classId: 'c2', seq: 2 }],
    ]);
    expect(validateProject(project({ checkpoint: null })).checkpoint).toBeNull();
  });

  it('refuses a newer format version with what to do, and what is not a project', () => {
    expect(refusal(project({ format_version: 3 }))).toMatch(/^This project was saved by a newer version of clora-web \(project format version 3; this page reads version 2\)\. Open it in an updated clora-web/);
    expect(refusal({ format: 'something' })).toMatch(/^This is not a clora-web project/);
    expect(refusal(null)).toMatch(/^This is not a clora-web project/);
    expect(refusal([1, 2])).toMatch(/^This is not a clora-web project/);
    expect(refusal(project({ format_version: '1' }))).toMatch(/damaged.*"format_version" is "1", not 1 or 2/);
    // Found by the fuzz pass (tests/fuzz/readers-project.ts): a missing version was quoted as "undefined".
    expect(refusal(project({ format_version: undefined }))).toMatch(/damaged or was not saved by clora-web: its project.json has no "format_version" \(1 or 2\)\. Open the original/);
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
    expect(sampleFileName('images', 17)).toBe('000000017.png');
    expect(sampleFileName('points', 17)).toBe('000000017.npy');
    expect(seqOfSampleFile('images', '000000017.png')).toBe(17);
    expect(seqOfSampleFile('points', '000000017.npy')).toBe(17);
    expect(seqOfSampleFile('images', '17.jpg')).toBeUndefined();
    expect(seqOfSampleFile('images', '000000017.npy')).toBeUndefined();
    expect(seqOfSampleFile('points', '000000017.png')).toBeUndefined();
  });

  it('reads a version 2 point project: its kind, point settings and clouds, at their paths', () => {
    const points = pointProject();
    const p = validateProject(points);
    expect(p).toMatchObject({ format_version: 2, kind: 'points', points: { count: 48, groups: 8, groupSize: 8 } });
    expect(p.classes.map((c) => c.files)).toEqual([['000000001.npy', '000000003.npy'], ['000000002.npy']]);
    expect([...listedSamples(p)]).toEqual([
      ['clouds/cat/000000001.npy', { classId: 'c1', seq: 1 }],
      ['clouds/cat/000000003.npy', { classId: 'c1', seq: 3 }],
      ['clouds/dog_wolf/000000002.npy', { classId: 'c2', seq: 2 }],
    ]);
    // A version 2 project of images reads as images.
    expect(validateProject(project({ format_version: 2 })).kind).toBe('images');
  });

  it('refuses a point project that does not hold together', () => {
    const damaged: [Record<string, unknown>, RegExp][] = [
      [{ format_version: 1 }, /it says "kind": "points", which needs format version 2/],
      [{ kind: 'meshes' }, /its "kind" is "meshes", not "images" or "points"/],
      [{ points: undefined }, /"points" \(the point settings of a point project\) is not an object/],
      [{ points: { count: 0, groups: 1, groupSize: 1 } }, /"points\.count" is not a whole number from 1/],
      [{ points: { count: 48, groups: 64, groupSize: 8 } }, /"points\.groups" is not a whole number from 1 to 48/],
      [{ classes: [{ id: 'c1', name: 'a', folder: 'a', clouds: ['000000001.png'] }] }, /lists "000000001\.png", which is not a point cloud file name like 000000001\.npy/],
      [{ classes: [{ id: 'c1', name: 'a', folder: 'a', images: ['000000001.npy'] }] }, /the clouds of class "a" are not a list/],
      [{ classes: [{ id: 'c1', name: 'a', folder: 'a', clouds: ['000000001.npy', '1.npy'] }] }, /lists point cloud 1 twice/],
    ];
    for (const [patch, pattern] of damaged) {
      const message = refusal(pointProject(patch));
      expect(message, JSON.stringify(patch)).toMatch(/^The project file is damaged or was not saved by clora-web: /);
      expect(message, JSON.stringify(patch)).toMatch(pattern);
    }
  });

  it('writes an image project exactly as version 1 did, and a point project as version 2, each read back the same', () => {
    const images = validateProject(project());
    const imageJson = projectJson(images);
    expect(imageJson).toEqual(project());
    expect(Object.keys(imageJson)).not.toContain('kind');
    const points = validateProject(pointProject());
    expect(projectJson(points)).toEqual(pointProject());
    expect(validateProject(JSON.parse(JSON.stringify(projectJson(points))))).toEqual(points);
  });
});

function pointProject(patch: Record<string, unknown> = {}): Record<string, unknown> {
  const base = project();
  return {
    ...base,
    format_version: 2,
    kind: 'points',
    points: { count: 48, groups: 8, groupSize: 8 },
    classes: [
      { id: 'c1', name: 'cat', folder: 'cat', clouds: ['000000001.npy', '000000003.npy'] },
      { id: 'c2', name: 'dog/wolf', folder: 'dog_wolf', clouds: ['000000002.npy'] },
    ],
    ...patch,
  };
}
