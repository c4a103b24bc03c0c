// Errors that carry a stable code and, for bad input, every problem found at once with the field it concerns.
export interface FieldIssue {
  field: string;
  message: string;
}

export class GuardianError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'GuardianError';
    this.code = code;
  }
}

export class ValidationError extends GuardianError {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[]) {
    super('INVALID_ARGUMENT', issues.map((i) => `${i.field}: ${i.message}`).join('; '));
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

export class NotFoundError extends GuardianError {
  constructor(message: string) {
    super('NOT_FOUND', message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends GuardianError {
  constructor(message: string) {
    super('CONFLICT', message);
    this.name = 'ConflictError';
  }
}
