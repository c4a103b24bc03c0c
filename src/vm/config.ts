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
      token: z
        .string()
        .min(16)
        .optional()
        .describe('bearer token of the owner API (default: issued at first start; the VM keeps only its SHA-256)'),
      tokenSha256: z
        .string()
        .regex(/^[0-9a-fA-F]{64}$/, 'expected the SHA-256 of the token in hex (sha256sum)')
        .optional()
        .describe('instead of token: only its SHA-256, so the configuration holds no secret'),
      tokenFile: z
        .union([z.string().min(1), z.literal(false)])
        .optional()
        .describe(
          'where an issued token is written for the owner, 0600 (default dataDir/api-token; delete it once the ' +
            'token is kept elsewhere); false: only printed once on the console',
        ),
    })
    .refine((a) => !(a.token && a.tokenSha256), { message: 'give token or tokenSha256, not both', path: ['token'] })
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
  alerts: z
    .strictObject({
      silentMinutes: z
        .number()
        .min(1)
        .max(1440)
        .default(10)
        .describe('an edge not heard from this long is an alert (the edges send every other alert themselves)'),
      webhook: z
        .strictObject({
          url: z.url({ protocol: /^https?$/ }),
          secretFile: z.string().min(1).describe('a 0600 file with the HMAC-SHA256 signing key'),
        })
        .optional(),
      ntfy: z
        .strictObject({
          url: z.url({ protocol: /^https?$/ }).describe('the ntfy server and topic'),
          tokenFile: z.string().min(1).optional().describe('a 0600 file with the access token'),
        })
        .optional(),
    })
    .prefault({})
    .describe('alerts the VM raises: an edge gone silent'),
  datasets: z
    .strictObject({
      quotaBytesPerEdge: z
        .number()
        .int()
        .positive()
        .default(2 * 1024 ** 3)
        .describe('bytes of labelled datasets each edge may store here for training; past it uploads are refused'),
    })
    .prefault({})
    .describe('labelled stills the edges send for training (the only clear pictures this server holds)'),
  training: z
    .strictObject({
      concurrency: z.number().int().min(1).max(8).default(1).describe('training jobs run at once'),
      maxFramesPerJob: z
        .number()
        .int()
        .min(50)
        .optional()
        .describe('train on at most this many frames of a dataset, evenly spaced (small machines, tests)'),
    })
    .prefault({})
    .describe('the training queue (PyTorch through /usr/bin/python3, or GUARDIAN_PYTHON)'),
  archive: z
    .strictObject({
      store: z
        .enum(['fs', 's3'])
        .default('fs')
        .describe('where encrypted archive objects go: fs (dataDir/archive) or s3 (any S3 API, see archive.s3)'),
      s3: z
        .strictObject({
          endpoint: z.url().optional().describe('e.g. http://127.0.0.1:7070 (absent: AWS S3 itself)'),
          region: z.string().min(1).default('us-east-1'),
          accessKeyId: z.string().min(1),
          secretAccessKey: z.string().min(1).optional().describe('or secretAccessKeyFile'),
          secretAccessKeyFile: z.string().min(1).optional().describe('a file holding the secret access key'),
          forcePathStyle: z
            .boolean()
            .default(true)
            .describe('bucket in the path (http://host/bucket/key), as most self-hosted S3 servers want'),
        })
        .optional()
        .describe('buckets camera-<id> are created on demand'),
      quotaBytesPerCamera: z
        .number()
        .int()
        .positive()
        .default(50 * 1024 ** 3)
        .describe('archive bytes per camera; past it the oldest unprotected objects go (warning at 80 %)'),
      retentionDays: z
        .number()
        .positive()
        .default(90)
        .describe('unprotected objects of events older than this are deleted'),
    })
    .superRefine((a, ctx) => {
      if (a.store === 's3' && !a.s3)
        ctx.addIssue({ code: 'custom', path: ['s3'], message: 'required with store: s3 (endpoint, accessKeyId, ...)' });
      if (a.s3 && !a.s3.secretAccessKey === !a.s3.secretAccessKeyFile)
        ctx.addIssue({
          code: 'custom',
          path: ['s3', 'secretAccessKey'],
          message: 'give exactly one of secretAccessKey and secretAccessKeyFile',
        });
    })
    .prefault({}),
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
