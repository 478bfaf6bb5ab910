import ort from "onnxruntime-node";
const [path, level, extra] = process.argv.slice(2);
const t = performance.now();
const s = await ort.InferenceSession.create(path, { executionProviders: ["cpu"], graphOptimizationLevel: level, executionMode: "sequential", intraOpNumThreads: 2, interOpNumThreads: 1, logSeverityLevel: 3, enableMemPattern: false, ...(extra ? { extra: JSON.parse(extra) } : {}) });
console.log(level, extra ?? "", Math.round(performance.now() - t), "ms", (process.resourceUsage().maxRSS / 1e6).toFixed(2), "GB");
