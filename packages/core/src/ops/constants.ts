/** ONNX values shared by the operator files. */
export const INT64_MAX = Number.MAX_SAFE_INTEGER;
export const ONNX_BOOL = 9;
export const ONNX_INT64 = 7;
export const ONNX_FLOAT = 1;
/** The most negative float32, which transformers adds to masked attention scores. */
export const FLOAT32_LOWEST = -3.4028234663852886e38;
