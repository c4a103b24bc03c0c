// The configuration: read, its JSON Schema, and replace (applied live, or saying what restarted).
import { z } from 'zod';
import { configJsonSchema, validateConfig } from '../../../shared/config.ts';
import type { Api } from '../../../shared/http/api.ts';
import type { EdgeContext } from '../context.ts';

export function registerConfigRoutes(api: Api, ctx: EdgeContext): void {
  api.route('get', '/config', { summary: 'The configuration', tag: 'config' }, () => ctx.config);
  api.route('get', '/config/schema', { summary: 'JSON Schema of the configuration', tag: 'config' }, () =>
    configJsonSchema(),
  );
  api.route(
    'put',
    '/config',
    {
      summary:
        'Replace the configuration (every invalid field listed); returns it with how it was applied (live, or by restarting the camera streams)',
      tag: 'config',
      body: z.record(z.string(), z.unknown()),
    },
    async ({ body }) => {
      const next = validateConfig({ ...body, dataDir: ctx.config.dataDir });
      const applied = await ctx.saveConfig(next);
      return { config: ctx.config, applied };
    },
  );
}
