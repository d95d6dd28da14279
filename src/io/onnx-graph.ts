// Builds an ONNX model (a graph of standard operators, weights as initializers, typed inputs and outputs,
// metadata) and serialises it to the protobuf bytes of an `.onnx` file. The message classes come from
// `onnx-buf` (generated from ONNX's official onnx.proto) and the wire encoding from `@bufbuild/protobuf`, so
// no protobuf is written by hand here. Browser-safe: no Node APIs.
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  TensorProto_DataType,
  TensorProtoSchema,
  ValueInfoProtoSchema,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { shapeText } from '../gpu/errors';

/** A dimension: a fixed size, or a name for a size chosen when the model runs (e.g. the batch). */
export type OnnxDim = number | string;

/** Node attributes: `{ i }` an integer, `{ ints }` a list of integers, `{ f }` a float. */
export type OnnxAttribute = { i: number } | { ints: readonly number[] } | { f: number };

export interface OnnxModelInfo {
  /** Version of the default ("ai.onnx") operator set the graph uses. */
  opset: number;
  /** ONNX IR version of the file (8 goes with opset 17). */
  irVersion: number;
  producerName: string;
  docString?: string;
  /** String key/value pairs stored as the model's `metadata_props`. */
  metadata?: Record<string, string>;
}

/**
 * A protobuf message may not exceed 2 GiB − 1 bytes (its lengths are 32-bit signed): the protobuf libraries
 * ONNX Runtime and the `onnx` package use refuse larger files. Weights beyond that need ONNX's external-data
 * files, which a single downloaded file cannot carry.
 */
export const MAX_ONNX_FILE_BYTES = 2 ** 31 - 1;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The little-endian bytes ONNX's raw_data holds: a view of the array itself on little-endian machines (no copy). */
function littleEndianBytes(data: Float32Array | BigInt64Array): Uint8Array<ArrayBuffer> {
  const view = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return view;
  const out = new Uint8Array(view.length);
  const size = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < view.length; i += size) for (let b = 0; b < size; b++) out[i + b] = view[i + size - 1 - b]!;
  return out;
}

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

export class OnnxGraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  /** Every value name in the graph (inputs, initializers, node outputs): each must be unique. */
  private readonly names = new Set<string>();
  private readonly int64Constants = new Map<string, string>();
  private readonly floatConstants = new Map<number, string>();
  private weightBytes = 0;

  constructor(private readonly name: string) {}

  /** Bytes of every initializer added so far. */
  get initializerBytes(): number {
    return this.weightBytes;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`Internal: the ONNX graph already has a value named "${name}".`);
    this.names.add(name);
    return name;
  }

  private valueInfo(name: string, dims: readonly OnnxDim[]): ValueInfoProto {
    return create(ValueInfoProtoSchema, {
      name,
      type: {
        value: {
          case: 'tensorType',
          value: {
            elemType: TensorProto_DataType.FLOAT,
            shape: { dim: dims.map((d) => ({ value: typeof d === 'number' ? { case: 'dimValue' as const, value: BigInt(d) } : { case: 'dimParam' as const, value: d } })) },
          },
        },
      },
    });
  }

  /** A float32 graph input. */
  input(name: string, dims: readonly OnnxDim[]): string {
    this.inputs.push(this.valueInfo(this.claim(name), dims));
    return name;
  }

  /** Declares an existing value as a float32 graph output. */
  output(name: string, dims: readonly OnnxDim[]): void {
    if (!this.names.has(name)) throw new Error(`Internal: the ONNX graph has no value "${name}" to output.`);
    this.outputs.push(this.valueInfo(name, dims));
  }

  private tensor(name: string, dims: readonly number[], dataType: TensorProto_DataType, data: Float32Array | BigInt64Array): string {
    if (product(dims) !== data.length) throw new Error(`Internal: initializer "${name}" has ${data.length} values for dims ${shapeText(dims)}.`);
    this.initializers.push(create(TensorProtoSchema, { name: this.claim(name), dims: dims.map(BigInt), dataType, rawData: littleEndianBytes(data) }));
    this.weightBytes += data.byteLength;
    return name;
  }

  /** A float32 weight stored as raw little-endian bytes (a view of `data`, not a copy, where the machine is little-endian). */
  weight(name: string, dims: readonly number[], data: Float32Array): string {
    return this.tensor(name, dims, TensorProto_DataType.FLOAT, data);
  }

  /** An int64 constant (shapes, indices): a 1-D list, or a scalar with `scalar`. Equal constants are shared. */
  int64(values: readonly number[], scalar = false): string {
    const key = `${scalar ? 's' : 'v'}:${values.join(',')}`;
    const known = this.int64Constants.get(key);
    if (known) return known;
    const name = this.tensor(`const.i64.${scalar ? 'scalar.' : ''}${values.join('_').replace(/-/g, 'm')}`, scalar ? [] : [values.length], TensorProto_DataType.INT64, BigInt64Array.from(values.map(BigInt)));
    this.int64Constants.set(key, name);
    return name;
  }

  /** A float32 scalar constant. Equal constants are shared. */
  scalar(value: number): string {
    const known = this.floatConstants.get(value);
    if (known) return known;
    const name = this.tensor(`const.f32.${this.floatConstants.size}`, [], TensorProto_DataType.FLOAT, Float32Array.of(value));
    this.floatConstants.set(value, name);
    return name;
  }

  /** Adds a node of the default operator set with one output, named `output` (default: the op and a counter). */
  node(opType: string, inputs: readonly string[], attributes: Record<string, OnnxAttribute> = {}, output?: string): string {
    for (const i of inputs) if (!this.names.has(i)) throw new Error(`Internal: ${opType} reads "${i}", which the ONNX graph does not have yet.`);
    const index = this.nodes.length;
    const out = this.claim(output ?? `${opType}_${index}`);
    this.nodes.push(
      create(NodeProtoSchema, {
        name: `${opType}_${index}`,
        opType,
        input: [...inputs],
        output: [out],
        attribute: Object.entries(attributes).map(([name, a]) => create(AttributeProtoSchema, attributeInit(name, a))),
      }),
    );
    return out;
  }

  /** The `.onnx` file's bytes. */
  bytes(info: OnnxModelInfo): Uint8Array {
    if (this.outputs.length === 0) throw new Error('Internal: the ONNX graph has no output.');
    const model = create(ModelProtoSchema, {
      irVersion: BigInt(info.irVersion),
      opsetImport: [{ domain: '', version: BigInt(info.opset) }],
      producerName: info.producerName,
      docString: info.docString ?? '',
      metadataProps: Object.entries(info.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return toBinary(ModelProtoSchema, model);
  }
}

function attributeInit(name: string, a: OnnxAttribute): MessageInitShape<typeof AttributeProtoSchema> {
  if ('i' in a) return { name, type: AttributeProto_AttributeType.INT, i: BigInt(a.i) };
  if ('ints' in a) return { name, type: AttributeProto_AttributeType.INTS, ints: a.ints.map(BigInt) };
  return { name, type: AttributeProto_AttributeType.FLOAT, f: a.f };
}
