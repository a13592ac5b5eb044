// Usage errors: a bad option or an impossible scenario. The CLI prints one line and exits 2.

/** A user mistake in options or a scenario file; `option` names the flag (or JSON field) at fault. */
export class UsageError extends Error {
  readonly option: string;
  constructor(option: string, message: string) {
    super(`${option}: ${message}`);
    this.name = 'UsageError';
    this.option = option;
  }
}

/** Exit code for usage errors (like most CLIs: 2 = bad invocation). */
export const EXIT_USAGE = 2;
