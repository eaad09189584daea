/**
 * How a command of the CLI fails, as src/main.ts reports it: a UsageError (the command line is
 * wrong: its message and the command's usage, exit 2) or a CommandFailed (the command ran and
 * did not succeed, e.g. the server refused: its message alone, no stack, exit 1).
 */

export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The command's usage, printed after the message. */
    readonly usage: string,
  ) {
    super(message);
  }
}

export class CommandFailed extends Error {
  override name = 'CommandFailed';
}
