// Pairing with the owner's server from the UI, in two steps: the code is shown for what it is (the server's
// address and WireGuard key, and whether it replaces the current pairing) and nothing is contacted until the owner
// confirms it. A pasted code can point anywhere; the owner must see where before the edge goes there.
import { z } from 'zod';

import { ValidationError } from '../../../shared/errors.ts';
import type { Api } from '../../../shared/http/api.ts';
import { decodePairingCode } from '../../../shared/link/pairing-code.ts';
import type { EdgeContext } from '../context.ts';

const code = z.string().min(10).max(4000);

export function registerLinkRoutes(api: Api, ctx: EdgeContext): void {
  const decode = (text: string) => {
    try {
      return decodePairingCode(text);
    } catch (err) {
      throw new ValidationError([{ field: 'code', message: (err as Error).message }]);
    }
  };
  api.route(
    'post',
    '/link/pair/preview',
    {
      summary: 'What a pairing code would connect this edge to (nothing is contacted)',
      tag: 'status',
      body: z.strictObject({ code }),
    },
    ({ body }) => {
      const c = decode(body.code);
      const current = ctx.linkState();
      return {
        pairUrl: c.pairUrl,
        link: c.grpc,
        tunnel: c.tunnel
          ? { vmPublicKey: c.tunnel.vmPublicKey, endpoint: c.tunnel.endpoint, edgeAddress: c.tunnel.edgeAddress }
          : null,
        replaces: current.configured ? { edgeId: current.edgeId, server: current.vm } : null,
      };
    },
  );
  api.route(
    'post',
    '/link/pair',
    {
      summary: "Pair with the owner's server (code from `guardian keys pair`) after the owner confirmed its preview",
      tag: 'status',
      body: z.strictObject({
        code,
        name: z
          .string()
          .regex(/^[\w .-]{1,40}$/)
          .optional(),
        confirm: z.literal(true, { error: 'confirm the server shown by /link/pair/preview first (confirm: true)' }),
      }),
    },
    async ({ body }) => {
      decode(body.code);
      try {
        return await ctx.pairLink(body.code, body.name);
      } catch (err) {
        throw new ValidationError([{ field: 'code', message: (err as Error).message }]);
      }
    },
  );
}
