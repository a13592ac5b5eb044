// Usage errors: a bad option or an impossible scenario. The CLI prints one line and exits 2.
// Output errors: a file the user asked for could not be written after the run. One line, exit 1.

/**
 * A user mistake in options or a scenario file; `option` names the flag (or JSON field) at fault.
 * An empty `option` means the message stands alone (`unknown command 'rn' ...`).
 */
export class UsageError extends Error {
  readonly option: string;
  /** The message without the option. */
  readonly detail: string;
  /** The scenario field (JSON path) at fault, when the error is about one; lets a caller name the file it came from. */
  readonly field: string | null;
  constructor(option: string, message: string, field: string | null = null) {
    super(option === '' ? message : `${option}: ${message}`);
    this.name = 'UsageError';
    this.option = option;
    this.detail = message;
    this.field = field;
  }
}

/** Exit code for usage errors (like most CLIs: 2 = bad invocation). */
export const EXIT_USAGE = 2;

/** An output file (--trace, --html, --record) that failed to write after the checks passed (disk full, ...): exit 1. */
export class OutputError extends Error {
  readonly option: string;
  constructor(option: string, message: string) {
    super(`${option}: ${message}`);
    this.name = 'OutputError';
    this.option = option;
  }
}

/** Exit code when the work ran but an output could not be written. */
export const EXIT_OUTPUT = 1;
