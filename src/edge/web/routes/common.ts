// Helpers the route files share: id parameters, files named by the database, and camera restarts.

import { join, normalize } from 'node:path';
import type express from 'express';
import { z } from 'zod';

import { GuardianError, ValidationError } from '../../../shared/errors.ts';
import { servableFile } from '../../../shared/fs-perms.ts';
import { sendError } from '../../../shared/http/api.ts';
import type { EdgeContext } from '../context.ts';

export const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected an id of letters, digits, _ and -');

/** An id from the request path, or a field error. */
export function param(v: unknown): string {
  const r = id.safeParse(v);
  if (!r.success) throw new ValidationError([{ field: 'id', message: r.error.issues[0]?.message ?? 'invalid id' }]);
  return r.data;
}

/** A file the database names, resolved inside the data dir (a stored name can never point elsewhere). */
export function dataFile(ctx: EdgeContext, rel: string | null): string {
  if (!rel) throw new GuardianError('NOT_FOUND', 'no such file');
  const p = normalize(join(ctx.dataDir, rel));
  if (!p.startsWith(`${normalize(ctx.dataDir)}/`)) throw new GuardianError('NOT_FOUND', 'no such file');
  return p;
}

/** dataFile, and only a regular file whose real path is inside the data dir (no symbolic link out of it). */
export function servableDataFile(ctx: EdgeContext, rel: string | null): string {
  return servableFile(ctx.dataDir, dataFile(ctx, rel), ctx.log);
}

/**
 * Sends a file the database names. `dotfiles: 'allow'` because the data dir itself may live under a dot-directory
 * (~/.cache/guardian); the path never comes from the request, so no dotfile can be asked for by name.
 */
export function sendDataFile(
  res: express.Response,
  file: string,
  options: { download?: string; headers?: Record<string, string>; acceptRanges?: boolean } = {},
): Promise<void> {
  return new Promise((resolve) => {
    const done = (err?: unknown) => {
      if (err && !res.headersSent) {
        const status = (err as { status?: number }).status;
        sendError(res, status === 404 ? new GuardianError('NOT_FOUND', 'the file is gone') : err);
      }
      resolve();
    };
    const opts = { dotfiles: 'allow' as const, ...(options.headers ? { headers: options.headers } : {}) };
    if (options.download) res.download(file, options.download, opts, done);
    else res.sendFile(file, { ...opts, acceptRanges: options.acceptRanges ?? true }, done);
  });
}

/** Restarts a changed camera; the change is saved either way, so a failure is logged rather than failing the call. */
export function reloadCamera(ctx: EdgeContext, cameraId: string): Promise<void> {
  return ctx.reloadCamera(cameraId);
}
