// fft.js ships a declaration generated from its JavaScript in which every parameter is `any`;
// this ambient module takes precedence and types the part lfmkit uses.
declare module "fft.js" {
  type NumberBuffer = { length: number; [index: number]: number };

  class FFT {
    /** `size` must be a power of two greater than 1. */
    constructor(size: number);
    readonly size: number;
    /** Fills `out[0 .. size + 1]` with the interleaved re/im of bins 0 .. size/2 of the real input. */
    realTransform(out: NumberBuffer, data: ArrayLike<number>): void;
  }

  export = FFT;
}
