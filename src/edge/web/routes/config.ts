// The configuration: read, its JSON Schema, replace (PUT: the whole of it) and change (PATCH: a JSON merge patch).
// Either is applied live, or says what restarted. A PUT missing sections is refused rather than resetting them to
// their defaults: a script sending only { http } must not silently remove every camera setting.
import { z } from 'zod';

import { configJsonSchema, configSchema, validateConfig } from '../../../shared/config.ts';
import { ValidationError } from '../../../shared/errors.ts';
import type { Api } from '../../../shared/http/api.ts';
import type { EdgeContext } from '../context.ts';

/** Sections a PUT must carry (dataDir is the appliance's own and is never changed from the API). */
const SECTIONS = Object.keys(configSchema.shape).filter((k) => k !== 'dataDir');

/** RFC 7396: objects merge key by key, null removes a key, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function registerConfigRoutes(api: Api, ctx: EdgeContext): void {
  api.route('get', '/config', { summary: 'The configuration', tag: 'config' }, () => ctx.config);
  api.route('get', '/config/schema', { summary: 'JSON Schema of the configuration', tag: 'config' }, () =>
    configJsonSchema(),
  );
  const apply = async (candidate: Record<string, unknown>) => {
    const next = validateConfig({ ...candidate, dataDir: ctx.config.dataDir });
    const applied = await ctx.saveConfig(next);
    return { config: ctx.config, applied };
  };
  api.route(
    'put',
    '/config',
    {
      summary:
        'Replace the whole configuration (every section; every invalid field listed); returns it with how it was applied (live, or by restarting the camera streams)',
      tag: 'config',
      body: z.record(z.string(), z.unknown()),
    },
    ({ body }) => {
      const missing = SECTIONS.filter((s) => !(s in body));
      if (missing.length)
        throw new ValidationError(
          missing.map((s) => ({
            field: s,
            message: 'missing: PUT replaces the whole configuration (send every section, or PATCH only the changes)',
          })),
        );
      return apply(body);
    },
  );
  api.route(
    'patch',
    '/config',
    {
      summary: 'Change part of the configuration (a JSON merge patch, RFC 7396: null removes a setting)',
      tag: 'config',
      body: z.record(z.string(), z.unknown()),
    },
    ({ body }) => apply(mergePatch(structuredClone(ctx.config), body) as Record<string, unknown>),
  );
}
