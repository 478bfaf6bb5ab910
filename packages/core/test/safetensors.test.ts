import { copyFileSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir, textFixtures } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { Checkpoint, writeSafetensors } from "../src/index.js";

const source = join(textFixtures()[0], "model.safetensors");

function headerOf(file: string): { length: number; json: Record<string, any> } {
  const bytes = readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  return { length, json: JSON.parse(bytes.subarray(8, 8 + length).toString("utf8")) };
}

/** A copy of `source` whose header is replaced (data kept), to fake a lying or unknown entry. */
function withHeader(edit: (json: Record<string, any>) => void): string {
  const bytes = readFileSync(source);
  const { length, json } = headerOf(source);
  edit(json);
  const header = Buffer.from(JSON.stringify(json).padEnd(length, " "));
  if (header.length !== length) throw new Error("edited header must not grow");
  const file = join(scratchDir("st"), "model.safetensors");
  writeFileSync(file, Buffer.concat([bytes.subarray(0, 8), header, bytes.subarray(8 + length)]));
  return file;
}

function lastTensor(json: Record<string, any>): string {
  return Object.entries(json)
    .filter(([k]) => k !== "__metadata__")
    .sort((a, b) => b[1].data_offsets[1] - a[1].data_offsets[1])[0][0];
}

test("reads every tensor of a fixture checkpoint", () => {
  const checkpoint = Checkpoint.openFile(source);
  for (const name of checkpoint.names()) {
    const info = checkpoint.info(name);
    expect(checkpoint.readF32(name).length).toBe(info.shape.reduce((a, b) => a * b, 1));
  }
});

test("a truncated file names the file and the tensor that runs past its end", () => {
  const dir = scratchDir("st");
  const file = join(dir, "model.safetensors");
  copyFileSync(source, file);
  truncateSync(file, readFileSync(source).length - 100);
  const tensor = lastTensor(headerOf(source).json);
  expect(() => Checkpoint.open(dir)).toThrow(new RegExp(`model\\.safetensors: tensor ${tensor.replace(/\./g, "\\.")}: .*truncated`));
});

test("a file cut inside its header is rejected", () => {
  const file = join(scratchDir("st"), "model.safetensors");
  copyFileSync(source, file);
  truncateSync(file, 40);
  expect(() => Checkpoint.openFile(file)).toThrow(/header length .* does not fit/);
});

test("offsets that disagree with the shape are rejected", () => {
  let name = "";
  const file = withHeader((json) => {
    name = lastTensor(json);
    json[name].shape = [...json[name].shape.slice(0, -1), json[name].shape.at(-1) + 1];
  });
  expect(() => Checkpoint.openFile(file)).toThrow(new RegExp(`tensor ${name.replace(/\./g, "\\.")}: data offsets span`));
});

test("an unknown dtype names the tensor", () => {
  let name = "";
  const file = withHeader((json) => {
    name = lastTensor(json);
    json[name].dtype = "F8X";
  });
  expect(() => Checkpoint.openFile(file)).toThrow(/unsupported dtype F8X/);
});

test("a sharded checkpoint with an index reads the same tensors", () => {
  const whole = Checkpoint.openFile(source);
  const names = whole.names();
  const dir = scratchDir("shards");
  const shards = [names.slice(0, names.length / 2), names.slice(names.length / 2)];
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const fileName = `model-0000${i + 1}-of-00002.safetensors`;
    for (const name of shard) weightMap[name] = fileName;
    const f32 = (name: string) => {
      const values = whole.readF32(name);
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    };
    writeSafetensors(join(dir, fileName), shard.map((name) => ({ name, dtype: "F32", shape: whole.info(name).shape, bytes: () => f32(name) })));
  });
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  const sharded = Checkpoint.open(dir);
  expect(sharded.files.length).toBe(2);
  expect(sharded.names().sort()).toEqual([...names].sort());
  for (const name of names) expect(sharded.readF32(name)).toEqual(whole.readF32(name));
});
