import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import onnxProto, { type onnx as Onnx } from "onnx-proto";
import { BackgroundFileWriter } from "./background-writer.js";

const { onnx } = onnxProto;

export type ElementType = "float32" | "int64" | "int32" | "uint8";
export type Dim = number | string;

const ELEMENT_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** Attribute values: integers and integer lists as-is, floats wrapped so their type is explicit. */
export type Attribute = number | number[] | string | { float: number };

type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

export interface FileDigest {
  readonly size: number;
  readonly sha256: string;
}

/** Initializers at least this large go to the external data file, page-aligned so ORT can map them. */
const EXTERNAL_MIN_BYTES = 1024;
const EXTERNAL_ALIGN = 4096;

/**
 * Builds one ONNX graph. Large initializers are written to `dataPath` as soon as they are added,
 * so a model's weights pass through memory one tensor at a time.
 */
export class GraphBuilder {
  private readonly nodes: Onnx.INodeProto[] = [];
  private readonly inputs: Onnx.IValueInfoProto[] = [];
  private readonly outputs: Onnx.IValueInfoProto[] = [];
  private readonly initializers: Onnx.ITensorProto[] = [];
  private readonly constants = new Map<string, string>();
  private readonly usedNames = new Set<string>();
  /** Files written beside the data file for the runtime to read itself, outside the graph. */
  readonly sideFiles: string[] = [];
  /** Writes and hashes the data file beside the build (so the cache need not read it back). */
  private data: BackgroundFileWriter | undefined;
  private dataOffset = 0;
  private readonly digests = new Map<string, FileDigest>();
  private scratchValues = new Float32Array(0);
  private scratchByteValues = new Uint8Array(0);

  constructor(
    private readonly dataPath: string,
    private readonly dataFileName: string,
  ) {}

  has(name: string): boolean {
    return this.usedNames.has(name);
  }

  input(name: string, type: ElementType, dims: Dim[]): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(value: string, name: string, type: ElementType, dims: Dim[]): void {
    if (value !== name) this.op("Identity", [value], {}, { outputs: [name] });
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A named weight; stored externally when large. */
  weight(name: string, data: TensorData, dims: number[]): string {
    this.claim(name);
    const tensor: Onnx.ITensorProto = { name, dims, dataType: elementTypeOf(data) };
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength >= EXTERNAL_MIN_BYTES) {
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = this.writeExternal(bytes);
    } else {
      tensor.rawData = bytes.slice();
    }
    this.initializers.push(tensor);
    return name;
  }

  /**
   * A float32 buffer of at least `count` values, the same one for the whole build (grown as needed),
   * for weights read only to be transformed and written: fresh memory is slow to fault in, and a
   * model's weights would otherwise pass through a new buffer each.
   */
  scratch(count: number): Float32Array {
    if (this.scratchValues.length < count) this.scratchValues = new Float32Array(count);
    return this.scratchValues;
  }

  /** Like `scratch`, a second buffer of at least `count` bytes, for what is made from the values read into the first. */
  scratchBytes(count: number): Uint8Array {
    if (this.scratchByteValues.length < count) this.scratchByteValues = new Uint8Array(count);
    return this.scratchByteValues.subarray(0, count);
  }

  /** Writes `data` to a file beside the data file, for the runtime to read outside ORT. */
  sideFile(fileName: string, data: ArrayBufferView): void {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    writeFileSync(join(dirname(this.dataPath), fileName), bytes);
    this.sideFiles.push(fileName);
    this.digests.set(fileName, { size: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") });
  }

  /** Size and sha256 of each file written so far (the data file once `finish` has closed it), by file name. */
  fileDigests(): ReadonlyMap<string, FileDigest> {
    return this.digests;
  }

  /** A small constant (shapes, axes, scalars), deduplicated by value. */
  constant(values: readonly number[], type: "int64" | "float32" = "int64", dims: number[] = [values.length]): string {
    const key = `${type}:${dims}:${values}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const data = type === "int64" ? BigInt64Array.from(values, (v) => BigInt(v)) : Float32Array.from(values);
    const name = this.weight(this.unusedName("const"), data, dims);
    this.constants.set(key, name);
    return name;
  }

  scalar(value: number, type: "int64" | "float32" = "int64"): string {
    return this.constant([value], type, []);
  }

  /** Adds a node and returns its output names (fresh ones unless `outputs` names them). */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, Attribute> = {},
    options: { outputs?: number | string[]; domain?: string } = {},
  ): string[] {
    const outputs = Array.isArray(options.outputs)
      ? options.outputs.map((n) => this.claim(n))
      : Array.from({ length: options.outputs ?? 1 }, () => this.fresh(opType));
    this.nodes.push({
      opType,
      domain: options.domain ?? "",
      input: [...inputs],
      output: outputs,
      name: `${opType}_${this.nodes.length}`,
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return outputs;
  }

  /** `op` for the common single-output case. */
  op1(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}, domain?: string): string {
    return this.op(opType, inputs, attributes, { domain })[0];
  }

  /** Stops writing the data file, for a build that failed before `finish`. */
  discard(): void {
    this.data?.discard();
    this.data = undefined;
  }

  /** Closes the data file and returns the serialized model. */
  finish(name: string): Uint8Array {
    if (this.data) this.digests.set(this.dataFileName, this.data.finish());
    this.data = undefined;
    this.scratchValues = new Float32Array(0);
    this.scratchByteValues = new Uint8Array(0);
    const model: Onnx.IModelProto = {
      irVersion: 8,
      producerName: "lfmkit",
      opsetImport: [
        { domain: "", version: 17 },
        { domain: "com.microsoft", version: 1 },
      ],
      graph: {
        name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }

  private writeExternal(bytes: Uint8Array): Onnx.IStringStringEntryProto[] {
    this.data ??= new BackgroundFileWriter(this.dataPath);
    const offset = Math.ceil(this.dataOffset / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
    this.data.write(bytes, offset);
    this.dataOffset = offset + bytes.byteLength;
    return [
      { key: "location", value: this.dataFileName },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(bytes.byteLength) },
    ];
  }

  private claim(name: string): string {
    if (this.usedNames.has(name)) throw new Error(`graph value ${name} defined twice`);
    this.usedNames.add(name);
    return name;
  }

  private fresh(prefix: string): string {
    return this.claim(this.unusedName(prefix));
  }

  private unusedName(prefix: string): string {
    let i = this.usedNames.size;
    while (this.usedNames.has(`${prefix}_${i}`)) i++;
    return `${prefix}_${i}`;
  }
}

function elementTypeOf(data: TensorData): number {
  if (data instanceof Float32Array) return ELEMENT_TYPE.float32;
  if (data instanceof BigInt64Array) return ELEMENT_TYPE.int64;
  if (data instanceof Int32Array) return ELEMENT_TYPE.int32;
  return ELEMENT_TYPE.uint8;
}

function valueInfo(name: string, type: ElementType, dims: Dim[]): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

function attribute(name: string, value: Attribute): Onnx.IAttributeProto {
  const type = onnx.AttributeProto.AttributeType;
  if (typeof value === "number") return { name, type: type.INT, i: value };
  if (typeof value === "string") return { name, type: type.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: type.INTS, ints: value };
  return { name, type: type.FLOAT, f: value.float };
}
