// The user VM's settings (`guardian vm --config FILE`), validated like the edge's; GUARDIAN_CONFIG__A__B overrides.
import { z } from 'zod';

import { issuesOf, loadYamlConfig } from '../shared/config.ts';
import { ValidationError } from '../shared/errors.ts';

const hostPort = z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'expected host:port');
const cidr = z
  .string()
  .regex(/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2\d|30)$/, 'expected an IPv4 address with prefix, e.g. 10.77.0.1/24');

export const vmConfigSchema = z.strictObject({
  dataDir: z.string().min(1).describe('database and keys'),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1').describe('owner API and pairing endpoint'),
      port: z.number().int().min(0).max(65535).default(8600),
      publicUrl: z.url().optional().describe('how edges reach this API to pair (default http://host:port)'),
      tls: z
        .strictObject({ cert: z.string().min(1), key: z.string().min(1) })
        .optional()
        .describe('PEM certificate and key files: serve the API over HTTPS'),
    })
    .prefault({}),
  api: z
    .strictObject({
      token: z.string().min(16).optional().describe('bearer token of the owner API (default: generated in dataDir)'),
    })
    .prefault({}),
  grpc: z
    .strictObject({
      host: z.string().default('127.0.0.1').describe('used when the tunnel is off; with it, the tunnel address'),
      port: z.number().int().min(0).max(65535).default(50051),
      requireTunnel: z
        .boolean()
        .default(true)
        .describe(
          'refuse edges whose connection does not come from their own tunnel address (off only for tests/demo)',
        ),
    })
    .prefault({}),
  wireguard: z
    .strictObject({
      enabled: z.boolean().default(true),
      interface: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,15}$/)
        .default('guardian0'),
      address: cidr.default('10.77.0.1/24').describe("the VM's tunnel address; edges get the next free ones"),
      listenPort: z.number().int().min(1).max(65535).default(51820),
      endpoint: hostPort.optional().describe('public host:port edges dial (required to pair with the tunnel on)'),
    })
    .prefault({}),
  events: z.strictObject({ retentionDays: z.number().positive().default(90) }).prefault({}),
  telemetry: z.strictObject({ offlineAfterSeconds: z.number().positive().default(90) }).prefault({}),
  pairing: z.strictObject({ validMinutes: z.number().positive().default(15) }).prefault({}),
});

export type VmConfig = z.infer<typeof vmConfigSchema>;

export function loadVmConfig(path: string, env: NodeJS.ProcessEnv = process.env): VmConfig {
  return loadYamlConfig(path, vmConfigSchema, env);
}

export function validateVmConfig(value: unknown): VmConfig {
  const r = vmConfigSchema.safeParse(value);
  if (!r.success) throw new ValidationError(issuesOf(r.error));
  return r.data;
}
