/** The projector's gather indices against the reference's unpad → reshape → pixel-unshuffle order. */
import { LfmkitError } from "@lfmkit/core";
import { expect, test } from "vitest";
import { projectorIndices } from "../src/projector.js";

test("token n of tile t reads the f×f block of patches (i·f + m, j·f + k) of that tile's own grid, tiles in order", () => {
  const grids: [number, number][] = [[2, 6], [4, 2], [2, 2]];
  const [maxPatches, f] = [12, 2];
  const { canvasPatches, canvasDims, tokenCells, tokens } = projectorIndices(grids, maxPatches, f);
  const [, height, width] = canvasDims;
  expect(canvasDims).toEqual([3, 4, 6]);
  expect(tokens).toBe(3 + 2 + 1);

  let n = 0;
  grids.forEach(([rows, columns], tile) => {
    for (let i = 0; i < rows / f; i++) {
      for (let j = 0; j < columns / f; j++, n++) {
        // The unshuffled canvas is [tiles, height/f, width/f]; its cell covers canvas rows i·f + m, columns j·f + k.
        const cell = Number(tokenCells[n]);
        const [cellTile, cellRow, cellColumn] = [Math.floor(cell / ((height / f) * (width / f))), Math.floor(cell / (width / f)) % (height / f), cell % (width / f)];
        expect([cellTile, cellRow, cellColumn]).toEqual([tile, i, j]);
        for (let m = 0; m < f; m++) {
          for (let k = 0; k < f; k++) {
            const patch = Number(canvasPatches[(tile * height + i * f + m) * width + j * f + k]);
            expect(patch).toBe(tile * maxPatches + (i * f + m) * columns + j * f + k);
          }
        }
      }
    }
  });
});

test.each([
  [[[3, 4]], 16, /cannot be pixel-unshuffled by 2/],
  [[[4, 6]], 16, /does not fit in 16 patches/],
])("refuses the grids %j in %i patches", (grids, maxPatches, message) => {
  expect(() => projectorIndices(grids as [number, number][], maxPatches, 2)).toThrow(LfmkitError);
  expect(() => projectorIndices(grids as [number, number][], maxPatches, 2)).toThrow(message);
});
