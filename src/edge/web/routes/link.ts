// Pairing with the owner's server from the UI.
import { z } from 'zod';
import { ValidationError } from '../../../shared/errors.ts';
import type { Api } from '../../../shared/http/api.ts';
import type { EdgeContext } from '../context.ts';

export function registerLinkRoutes(api: Api, ctx: EdgeContext): void {
  api.route(
    'post',
    '/link/pair',
    {
      summary: "Pair with the owner's server (code from `guardian keys pair`) and connect",
      tag: 'status',
      body: z.object({
        code: z.string().min(10).max(4000),
        name: z
          .string()
          .regex(/^[\w .-]{1,40}$/)
          .optional(),
      }),
    },
    async ({ body }) => {
      try {
        return await ctx.pairLink(body.code, body.name);
      } catch (err) {
        throw new ValidationError([{ field: 'code', message: (err as Error).message }]);
      }
    },
  );
}
