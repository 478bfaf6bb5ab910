import ort from "onnxruntime-node";
import { LfmkitError } from "../errors.js";

export { ort };
export type Session = ort.InferenceSession;

export interface SessionSettings {
  /** Intra-op threads; defaults to ORT's choice (all cores). */
  readonly threads?: number;
  /**
   * Whether kernels may repack their constant weights into private copies when the session opens
   * (default true). `MatMulNBits` needs it to run at speed. Without it, f32 weights are used in place
   * from the mapped graph data file: no copy to build and hold, at the price of repacking per prefill call.
   */
  readonly prepackWeights?: boolean;
}

/** Opens an ONNX graph from disk for CPU execution with full graph optimization. */
export async function openSession(modelPath: string, settings: SessionSettings = {}): Promise<Session> {
  try {
    return await ort.InferenceSession.create(modelPath, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      intraOpNumThreads: settings.threads ?? 0,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
      enableMemPattern: false,
      ...(settings.prepackWeights === false && { extra: { session: { disable_prepacking: "1" } } }),
    });
  } catch (error) {
    throw new LfmkitError(`ONNX Runtime could not load the graph (${(error as Error).message.split("\n")[0]})`, modelPath);
  }
}
