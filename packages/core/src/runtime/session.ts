import ort from "onnxruntime-node";
import { LfmkitError } from "../errors.js";

export { ort };
export type Session = ort.InferenceSession;

export interface SessionSettings {
  /** Intra-op threads; defaults to ORT's choice (all cores). */
  readonly threads?: number;
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
    });
  } catch (error) {
    throw new LfmkitError(`ONNX Runtime could not load the graph (${(error as Error).message.split("\n")[0]})`, modelPath);
  }
}
