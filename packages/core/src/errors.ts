/**
 * The one error type lfmkit throws for bad input: a message that says what was wrong,
 * plus where (a file, a tensor, a config key), so a CLI can print it as one line.
 */
export class LfmkitError extends Error {
  readonly where: string | undefined;

  constructor(message: string, where?: string) {
    super(where ? `${where}: ${message}` : message);
    this.name = "LfmkitError";
    this.where = where;
  }
}
