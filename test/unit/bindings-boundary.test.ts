// bindings/ stands alone (it imports nothing from src/), and there is one error class with one list of codes that
// src/ builds on.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ERROR_CODES, type ErrorCode, GuardianError, isErrorCode, MediaError } from '../../bindings/errors.ts';
import * as shared from '../../src/shared/errors.ts';
import { HTTP_STATUS } from '../../src/shared/http/api.ts';

const bindingsDir = join(import.meta.dirname, '..', '..', 'bindings');

describe('bindings boundary', () => {
  it('bindings/ imports nothing from src/', () => {
    for (const file of readdirSync(bindingsDir).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(bindingsDir, file), 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g))
        assert.ok(!/(^|\/)src\//.test(m[1] ?? ''), `${file} imports ${m[1]}`);
    }
  });

  it('src/shared/errors.ts re-exports the one class and list; its kinds extend it', () => {
    assert.equal(shared.GuardianError, GuardianError);
    assert.equal(shared.ERROR_CODES, ERROR_CODES);
    assert.equal(MediaError, GuardianError);
    const kinds: [Error & { code: ErrorCode }, ErrorCode][] = [
      [new shared.ValidationError([{ field: 'a', message: 'b' }]), 'INVALID_ARGUMENT'],
      [new shared.NotFoundError('x'), 'NOT_FOUND'],
      [new shared.ConflictError('x'), 'CONFLICT'],
    ];
    for (const [err, code] of kinds) {
      assert.ok(err instanceof GuardianError, err.name);
      assert.equal(err.code, code);
    }
  });

  it('the list is a runtime array and a type; every code with an HTTP status is on it', () => {
    assert.ok(Array.isArray(ERROR_CODES) && ERROR_CODES.length > 20);
    assert.ok(isErrorCode('NOT_FOUND'));
    assert.ok(!isErrorCode('NOT_A_CODE') && !isErrorCode(undefined));
    for (const code of Object.keys(HTTP_STATUS)) assert.ok(isErrorCode(code), `${code} has an HTTP status`);
    const e = new GuardianError('TIMEOUT', 'slow');
    assert.equal(e.name, 'GuardianError');
    assert.equal(e.message, 'slow');
    assert.ok(e instanceof Error);
  });
});
