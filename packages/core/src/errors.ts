// The one error class of the project: a stable code to branch on, a message for people.

/** Error codes are `<AREA>_ERR_<WHAT>`; branch on `code`, never on message text. */
export class ChaperoneError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChaperoneError';
    this.code = code;
    this.details = details;
  }
}

export function isChaperoneError(err: unknown, code?: string): err is ChaperoneError {
  return err instanceof ChaperoneError && (code === undefined || err.code === code);
}
