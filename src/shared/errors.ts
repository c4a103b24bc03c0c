// Errors that carry a stable code and, for bad input, every problem found at once with the field it concerns.
// GuardianError and the one list of codes live in bindings/errors.ts, so that the native addon's errors are
// GuardianErrors too; the app's own kinds extend it here.
import { GuardianError } from '../../bindings/errors.ts';

export { ERROR_CODES, type ErrorCode, GuardianError, isErrorCode } from '../../bindings/errors.ts';

export interface FieldIssue {
  field: string;
  message: string;
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
