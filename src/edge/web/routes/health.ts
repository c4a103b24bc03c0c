// Liveness and readiness (no login: for supervisors and load balancers).
import type { Api } from '../../../shared/http/api.ts';
import type { EdgeContext } from '../context.ts';

export function registerHealthRoutes(api: Api, ctx: EdgeContext): void {
  api.route('get', '/health', { summary: 'Liveness', tag: 'health', auth: false }, () => ({ status: 'ok' }));
  api.route(
    'get',
    '/health/ready',
    { summary: 'Readiness: the media process runs', tag: 'health', auth: false },
    ({ res }) => {
      const ready = ctx.media.ready;
      res.status(ready ? 200 : 503);
      return { ready, media: ready ? 'running' : 'starting' };
    },
  );
}
