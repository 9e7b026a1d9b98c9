// GET /v1/metrics (admins) on the API listener. The same text is served without a credential on
// COFFER_METRICS_ADDR, a separate listener meant for loopback or a private network (server.ts).
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, BEARER } from '../routes/openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import { requireAdmin } from '../services/vault-access.ts';
import type { Metrics } from './metrics.ts';

export function metricsRoutes(metrics: Metrics) {
  const r = createRouter();
  r.openapi(createRoute({ method: 'get', path: '/v1/metrics', tags: ['Operations'], security: BEARER,
    summary: 'Prometheus metrics of this gateway (admin); also on COFFER_METRICS_ADDR without a credential',
    responses: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } }, ...commonErrors } }),
  async (c) => {
    requireAdmin(actorOf(c));
    return c.text(await metrics.text(), 200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
  });
  return r;
}
