// The .pth reader on genuine torch.save files (tools/make_pth_fixtures.py, Debian's PyTorch): every tensor
// reads back exactly (f16, bf16, f64, integer and bool storages; views with offsets and strides; zip64;
// deflated entries), the state dict is found in each checkpoint layout with its prefixes stripped, tensors
// are read as slices of the file, and every hostile or broken file is refused with its sentence.
import { readFileSync } from 'node:fs';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { PthError, type PthFile } from '../../src/io/pth';
import { blobSource, bytesSource, openSafetensors, writeSafetensors, type ByteSource } from '../../src/io/safetensors';
import { openWeightsFile, shapesOf } from '../../src/io/weights-file';
import { vitConfigFromShapes } from '../../src/nn/vit';
import { f32Bytes, PickleWriter, pthZip, stateDictPickle, type TensorSpec } from '../helpers/pth-writer';
import { makeZip } from '../helpers/zip-bomb';

const dir = new URL('../fixtures/pth/', import.meta.url).pathname;
const bytesOf = (name: string): Uint8Array<ArrayBuffer> => new Uint8Array(readFileSync(dir + name));
const source = (name: string): ByteSource => bytesSource(bytesOf(name), name.split('/').pop());
const expected = await openSafetensors(bytesSource(bytesOf('expected.safetensors')));

async function openPthFixture(name: string, from: ByteSource = source(`${name}.pth`)): Promise<PthFile> {
  return (await openWeightsFile(from)) as PthFile;
}

async function expectExact(name: string, file: PthFile): Promise<void> {
  const names = JSON.parse(expected.metadata[`${name}.names`]!) as string[];
  const shapes = JSON.parse(expected.metadata[`${name}.shapes`]!) as number[][];
  expect(file.names()).toEqual(names);
  expect(names.map((n) => file.tensors.get(n)!.shape)).toEqual(shapes);
  expect(file.metadata).toEqual({});
  expect(file.stateDictKey).toBe(expected.metadata[`${name}.key`]);
  for (const tensor of names) {
    const got = await file.readF32(tensor);
    expect(got, tensor).toEqual(await expected.readF32(`${name}/${tensor}`));
  }
}

describe('genuine torch.save checkpoints', () => {
  it('a timm ViT state dict: every tensor exact, and the ViT loader reads its shapes', async () => {
    const file = await openPthFixture('vit_timm');
    await expectExact('vit_timm', file);
    // As the app's worker gets a local file: a Blob.
    await expectExact('vit_timm', await openPthFixture('vit_timm', blobSource(new Blob([bytesOf('vit_timm.pth')]), 'vit_timm.pth')));
    expect(vitConfigFromShapes(shapesOf(file), 2)).toMatchObject({ depth: 2, dim: 8, heads: 2, patch: 4, imageSize: 8, mlpDim: 16, classes: 3 });
  });

  it("Point-MAE's fine-tuning checkpoint: base_model chosen over the optimizer's tensors, module. stripped, int64 buffers read", async () => {
    const file = await openPthFixture('pointmae_finetune');
    await expectExact('pointmae_finetune', file);
    expect(file.names()).toContain('encoder.first_conv.1.running_var');
    expect(file.tensors.get('encoder.first_conv.1.num_batches_tracked')).toEqual({ shape: [], dtype: 'I64' });
    expect([...(await file.readF32('encoder.first_conv.1.num_batches_tracked'))]).toEqual([1234]);
    expect(file.has('blocks.blocks.0.attn.qkv.bias')).toBe(false);
  });

  it("Point-MAE's pretraining checkpoint (pickle protocol 4): MAE_encoder. stripped, decoder keys kept", async () => {
    const file = await openPthFixture('pointmae_pretrain');
    await expectExact('pointmae_pretrain', file);
    expect(file.has('blocks.blocks.0.attn.qkv.weight')).toBe(true);
    expect(file.has('MAE_decoder.blocks.blocks.0.norm1.weight')).toBe(true);
  });

  it('every dtype and view: f16, bf16, f64 (rounded), int64/int32/uint8/bool, transposes, slices, expands, shared storages', async () => {
    const file = await openPthFixture('dtypes');
    await expectExact('dtypes', file);
    expect(file.tensors.get('half')!.dtype).toBe('F16');
    expect(file.tensors.get('bfloat16')!.dtype).toBe('BF16');
    expect(file.tensors.get('double')!.dtype).toBe('F64');
    expect([...(await file.readF32('long'))]).toEqual([-3, 0, 2 ** 40, 5, -(2 ** 20), 7]);
  });

  it('a zip64 directory (as torch writes over 4 GB) reads the same', async () => {
    await expectExact('dtypes', await openPthFixture('zip64', source('zip64.pth')));
  });

  it('deflated entries (a checkpoint re-zipped by another tool) read the same', async () => {
    const { unzipSync } = await import('fflate');
    const entries = unzipSync(bytesOf('dtypes.pth'));
    const deflated = zipSync(entries, { level: 6 });
    await expectExact('dtypes', await openPthFixture('dtypes', bytesSource(deflated, 'deflated.pth')));
  });

  it('reads a tensor as a slice of the file, not the whole archive', async () => {
    const bytes = bytesOf('vit_timm.pth');
    const reads: number[] = [];
    const counting: ByteSource = { size: bytes.length, name: 'vit_timm.pth', read: (offset, length) => (reads.push(length), Promise.resolve(bytes.subarray(offset, offset + length))) };
    const file = await openPthFixture('vit_timm', counting);
    reads.length = 0;
    await file.readF32('blocks.1.attn.qkv.weight');
    // The local header once (30 bytes), then exactly the tensor's 24 × 8 f32.
    expect(reads).toEqual([30, 24 * 8 * 4]);
  });

  it('safetensors files still open through the same entry point', async () => {
    const st = writeSafetensors([{ name: 'w', shape: [2], data: new Float32Array([1, 2]) }], { num_heads: '3' });
    const file = await openWeightsFile(bytesSource(st, 'w.safetensors'));
    expect(file.metadata).toEqual({ num_heads: '3' });
    expect([...(await file.readF32('w'))]).toEqual([1, 2]);
  });
});

describe('refused files', () => {
  async function refusal(name: string): Promise<string> {
    const error = await openWeightsFile(source(`hostile/${name}`)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error, name).toBeInstanceOf(PthError);
    return (error as Error).message;
  }

  it('a pickle that asks for anything but a state dict is refused, naming what it asked for', async () => {
    expect(await refusal('os_system.pth')).toBe(
      '"os_system.pth" asks for os.system, which a weights file never needs: refused, and nothing in it was run. ' +
        'Only open checkpoints from sources you trust; if you trust this one, load it in Python and save its state dict as .safetensors.',
    );
    expect(await refusal('posix_system.pth')).toMatch(/^"posix_system.pth" asks for posix\.system, which a weights file never needs: refused/);
    expect(await refusal('builtins_eval.pth')).toMatch(/^"builtins_eval.pth" asks for builtins\.eval, which a weights file never needs: refused/);
    expect(await refusal('argparse_namespace.pth')).toMatch(/^"argparse_namespace.pth" asks for argparse\.Namespace, which a weights file never needs/);
    expect(await refusal('whole_model.pth')).toMatch(/asks for torch\.nn\.modules\.linear\.Linear.*a whole pickled model rather than its weights: in Python, save model\.state_dict\(\)/);
  });

  it('broken files are refused with what is wrong and what to do', async () => {
    expect(await refusal('truncated.pth')).toMatch(/^"truncated.pth" has a damaged pickle \(archive\/data.pkl\): it ends in the middle of its data \(it is truncated\)\. Download or save the checkpoint again\.$/);
    expect(await refusal('no_data_pkl.pth')).toMatch(/^"no_data_pkl.pth" is a zip archive without a data\.pkl, so it is not a PyTorch checkpoint/);
    expect(await refusal('missing_storage.pth')).toMatch(/^"missing_storage.pth" refers to the tensor storage "1" \(archive\/data\/1\), which the archive does not hold: the file is incomplete or damaged/);
    expect(await refusal('big_endian.pth')).toMatch(/^"big_endian.pth" was saved on a big-endian machine \(byteorder "big"\), which this reader does not convert/);
    expect(await refusal('legacy.pth')).toMatch(/^"legacy.pth" is a PyTorch checkpoint in the legacy format \(before PyTorch 1\.6\).*save it again with torch\.save/);
    expect(await refusal('two_models.pth')).toMatch(/holds several sets of weights \("encoder", "decoder"\) and none under a usual name/);
    expect(await refusal('no_state_dict.pth')).toMatch(/holds no state dict .*its keys are "epoch", "note"/);
  });

  it('hand-made files that fuzzing found passing the checks are refused with a sentence (tests/fuzz/readers-pth.ts)', async () => {
    const six = { '0': f32Bytes([1, 2, 3, 4, 5, 6]) };
    const tensor = (spec: Partial<TensorSpec>): TensorSpec => ({ name: 'w', key: '0', numel: 6, shape: [2, 3], ...spec });
    const read = async (bytes: Uint8Array): Promise<string> => {
      try {
        const file = await openWeightsFile(bytesSource(bytes, 'made.pth'));
        for (const name of file.names()) await file.readF32(name);
        return 'opened';
      } catch (error) {
        expect(error).toBeInstanceOf(PthError);
        return (error as Error).message;
      }
    };
    // A negative or fractional offset reached the zip reader's range check as a RangeError.
    expect(await read(pthZip(stateDictPickle([tensor({ offset: -4 })]), six))).toMatch(/has a damaged pickle .*_rebuild_tensor_v2 was called with arguments that are not \(storage, offset, size, stride\)/);
    expect(await read(pthZip(stateDictPickle([tensor({ offset: 0.5 })]), six))).toMatch(/arguments that are not \(storage, offset, size, stride\)/);
    // Zero strides over one value allocated 1 GB from a 543-byte file (or threw a RangeError at 2^90 elements).
    expect(await read(pthZip(stateDictPickle([tensor({ shape: [2 ** 14, 2 ** 14], stride: [0, 0] })]), six))).toMatch(/a tensor of shape \[16384, 16384\] repeats the 6 values of storage "0" to 268,435,456 elements \(an expanded view\); save it with \.contiguous\(\) first/);
    // A small expanded view still reads (torch.save keeps expand() as zero strides).
    expect(await read(pthZip(stateDictPickle([tensor({ shape: [4, 6], stride: [0, 1] })]), six))).toBe('opened');
    // A list appended in one go overflowed the call stack; a negative string length walked back over the pickle.
    const many = new PickleWriter().proto(2).emptyList().mark();
    for (let i = 0; i < 300_000; i++) many.raw('N');
    expect(await read(pthZip(many.raw('e').stop(), six))).toMatch(/holds a list, not a dict of tensors/);
    expect(await read(pthZip(new PickleWriter().proto(2).raw('T', 0xf8, 0xff, 0xff, 0xff).stop(), six))).toMatch(/it declares a length of -8 bytes: it is corrupt/);
    // Sizes a zip entry cannot have: refused before anything is allocated for them.
    expect(await read(makeZip([{ name: 'archive/data.pkl', data: stateDictPickle([tensor({})]), method: 'store' }, { name: 'archive/data/0', data: six['0'], declaredSize: 200 << 20 }]))).toMatch(
      /entry "archive\/data\/0" declares 209,715,200 bytes, more than its \d+ compressed bytes can hold: it is truncated or corrupt/,
    );
    expect(await read(makeZip([{ name: 'archive/data.pkl', data: stateDictPickle([tensor({ numel: 1000 })]), method: 'store' }, { name: 'archive/data/0', data: six['0'], method: 'store', declaredSize: 4000 }]))).toMatch(
      /stored entry "archive\/data\/0" declares 4000 bytes but holds 24/,
    );
    // Garbage where a global's name belongs is damage, quoted short, not a request for a strange global.
    expect(await read(pthZip(new PickleWriter().proto(2).global('torch\u0000\u0001', 'x'.repeat(200)).stop(), six))).toMatch(/names a global that is not a Python name \("torch\\u0000\\u0001\.x{52}…"\): it is corrupt/);
  });

  it('a damaged zip directory is refused', async () => {
    const bytes = bytesOf('vit_timm.pth').slice(0, -30);
    await expect(openWeightsFile(bytesSource(bytes, 'cut.pth'))).rejects.toThrow(/"cut.pth" is a zip archive whose .*: it is truncated or corrupt/);
  });
});
