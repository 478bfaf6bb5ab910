#!/usr/bin/env node
/**
 * One model load in a fresh process, so that its peak RSS is the load's: prints one JSON line with the
 * load time, whether the graph was built, the peak RSS, the loaded weight bytes (the graph's data
 * file) and the decode speed after a short prompt.
 */
import { statSync } from "node:fs";
import { argmax } from "@lfmkit/core";
import { TextModel } from "@lfmkit/text";
import { z } from "zod";

const args = z
  .tuple([z.string(), z.enum(["f32", "q8", "q4"]), z.coerce.number().int().positive(), z.coerce.number().int().positive().optional()])
  .parse(process.argv.slice(2));
const [model, dtype, decodeTokens, threads] = args;

const start = performance.now();
const loaded = await TextModel.load(model, { dtype, threads });
const loadMs = performance.now() - start;
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
const weightBytes = statSync(`${loaded.graph.path}.data`).size;

const vocab = loaded.config.vocabSize;
const state = loaded.newState();
// A 256-token prompt first, so decode is measured with the weights paged in (not first-touch faults).
let { logits } = await loaded.forward(state, Array.from({ length: 256 }, (_, i) => 100 + ((i * 7919) % (vocab - 100))));
const decodeStart = performance.now();
for (let i = 0; i < decodeTokens; i++) ({ logits } = await loaded.forward(state, [argmax(logits.subarray(logits.length - vocab))]));
const decodeTokensPerSecond = (decodeTokens / (performance.now() - decodeStart)) * 1000;
await loaded.dispose();
console.log(JSON.stringify({ loadMs, built: loaded.graph.built, peakRssBytes, weightBytes, decodeTokensPerSecond }));
