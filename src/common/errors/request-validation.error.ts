/** One entry of a 422 body's `exception_detail`, in FastAPI's shape. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
  input?: unknown;
}

/** Thrown by the validation pipe (and by hand-written validators) for a request that fails its schema. */
export class RequestValidationError extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super(issues.map((i) => `${i.loc.join('.')}: ${i.msg}`).join('; ') || 'Invalid request received.');
    this.name = 'RequestValidationError';
  }
}
