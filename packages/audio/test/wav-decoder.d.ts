// wav-decoder ships no types; the tests use it as a second, independent WAV reader.
declare module "wav-decoder" {
  interface AudioData {
    sampleRate: number;
    numberOfChannels: number;
    length: number;
    channelData: Float32Array[];
  }
  const wavDecoder: {
    decode: { sync(buffer: ArrayBuffer | Uint8Array, options?: { symmetric?: boolean }): AudioData };
  };
  export default wavDecoder;
}
