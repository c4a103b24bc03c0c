// Configuration: one YAML file plus GUARDIAN_* environment overrides, validated by one zod schema that rejects
// unknown keys and reports every problem at once, in words that say what each key is for and how to fix it. The
// same schema is exported as JSON Schema for the UI and API, and its descriptions and defaults generate the example
// config and docs/configuration.md (src/commands/config.ts), so none of them can drift from the code.
import { readFileSync } from 'node:fs';

import YAML from 'yaml';
import { z } from 'zod';

import { alertsConfigSchema } from './alerts/config.ts';
import type { FieldIssue } from './errors.ts';
import { ValidationError } from './errors.ts';

const point = z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]);
const polygon = z.array(point).min(3).describe('a polygon: 3 or more [x, y] points in 0-1 frame coordinates');

export const classFilterSchema = z.strictObject({
  minScore: z.number().min(0.05).max(1).describe('lowest detection score that counts'),
});

export const cameraSettingsSchema = z.strictObject({
  zones: z
    .array(
      z.strictObject({
        name: z
          .string()
          .regex(/^[\w -]{1,40}$/)
          .describe('up to 40 letters, digits, spaces, - and _'),
        points: polygon,
      }),
    )
    .default([])
    .describe('named areas of the image, e.g. a driveway; events say which zones an object entered'),
  motionMasks: z.array(polygon).default([]).describe('areas where motion is ignored, e.g. a tree in the wind'),
  objectMasks: z
    .array(polygon)
    .default([])
    .describe('areas where detected objects are ignored, e.g. a parked car or a poster'),
  requiredZones: z
    .array(z.string())
    .default([])
    .describe('events only for objects inside one of these zones (empty: anywhere)'),
  recordMode: z
    .enum(['continuous', 'events'])
    .default('continuous')
    .describe('continuous: record all the time; events: keep only the video around events'),
  anomaly: z
    .strictObject({
      enabled: z
        .boolean()
        .default(true)
        .describe('score the picture against what this camera normally shows, once it has learned normal'),
      sensitivity: z
        .enum(['low', 'medium', 'high'])
        .default('medium')
        .describe(
          "how unusual a frame must be: high alarms at the model's threshold (the 99th percentile of normal frames), medium at 1.15× it, low at 1.4× it",
        ),
    })
    .prefault({})
    .describe("unusual activity (anomaly) events from the camera's learned normal"),
  idleDecode: z
    .strictObject({
      enabled: z
        .boolean()
        .default(true)
        .describe(
          'decode only keyframes while nothing moves (an idle camera then costs about a third of its CPU when decoding every frame, recording included; recording is untouched); needs motion gating',
        ),
      afterSeconds: z
        .number()
        .min(5)
        .max(3600)
        .default(30)
        .describe(
          'seconds without motion or a moving object before that; on motion, every frame is decoded again from the next keyframe, and the motion itself is seen at the first keyframe after it began',
        ),
    })
    .prefault({})
    .describe('an idle camera decodes keyframes only'),
});

export const configSchema = z.strictObject({
  dataDir: z
    .string()
    .startsWith('/')
    .meta({
      description: 'the absolute path of the folder where Guardian keeps its database, recordings and snapshots',
      examples: ['/var/lib/guardian'],
    }),
  http: z
    .strictObject({
      host: z
        .string()
        .default('0.0.0.0')
        .describe('address the web UI and API listen on: 0.0.0.0 every interface, 127.0.0.1 this machine only'),
      port: z
        .number()
        .int()
        .min(0)
        .max(65535)
        .default(8080)
        .describe('TCP port of the web UI and API; 0 picks a free port'),
      allowedHosts: z
        .array(z.string().regex(/^[a-zA-Z0-9.-]{1,253}$/, 'expected a host name'))
        .max(32)
        .default([])
        .describe(
          'other names the appliance is reached by (besides its IP addresses, localhost, its hostname and <hostname>.local); requests naming any other host are refused (DNS rebinding)',
        ),
      tls: z
        .strictObject({
          enabled: z
            .union([z.literal('auto'), z.boolean()])
            .default('auto')
            .describe('serve HTTPS: true, false, or auto (HTTPS unless the UI listens on loopback only)'),
          cert: z
            .string()
            .startsWith('/')
            .optional()
            .describe('PEM certificate chain (default: one made at first run)'),
          key: z.string().startsWith('/').optional().describe('PEM private key of that certificate'),
          acme: z
            .strictObject({
              domain: z
                .string()
                .regex(
                  /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$/,
                  'expected a domain name',
                )
                .describe('the domain that names this appliance (its DNS record points at it)'),
              email: z.email().optional().describe("the CA account's contact address (expiry warnings)"),
              directoryUrl: z
                .url({ protocol: /^https$/ })
                .default('https://acme-v02.api.letsencrypt.org/directory')
                .describe("the CA's ACME directory (default: Let's Encrypt)"),
              challenge: z
                .enum(['http-01', 'dns-01'])
                .default('http-01')
                .describe(
                  'how the CA checks the domain is yours: with http-01 it fetches a token over plain HTTP on challengePort (forward port 80 to the appliance); with dns-01 your dnsHook publishes a TXT record (for an appliance nobody outside reaches)',
                ),
              challengePort: z
                .number()
                .int()
                .min(1)
                .max(65535)
                .default(80)
                .describe('port the http-01 challenge is answered on (the CA always asks port 80 of the domain)'),
              dnsHook: z
                .string()
                .startsWith('/')
                .optional()
                .describe(
                  'executable run as `hook add|remove <record name> <TXT value>` for dns-01 (your DNS provider)',
                ),
            })
            .optional()
            .describe(
              "a certificate from an ACME CA (Let's Encrypt) for your domain, renewed by itself; the self-signed one is served until it arrives",
            ),
        })
        .superRefine((tls, ctx) => {
          if (tls.acme && (tls.cert || tls.key))
            ctx.addIssue({ code: 'custom', path: ['acme'], message: 'acme and an own cert/key exclude each other' });
          if (tls.acme && tls.enabled === false)
            ctx.addIssue({ code: 'custom', path: ['acme'], message: 'acme needs TLS (enabled: true or auto)' });
          if (tls.acme?.challenge === 'dns-01' && !tls.acme.dnsHook)
            ctx.addIssue({ code: 'custom', path: ['acme', 'dnsHook'], message: 'dns-01 needs a dnsHook' });
        })
        .prefault({})
        .describe(
          'HTTPS for the local UI: a self-signed certificate made at first run (its fingerprint is shown on the console and in the UI) or your own; plain HTTP on the same port is redirected',
        ),
    })
    .prefault({})
    .describe('the local web UI and API'),
  auth: z
    .strictObject({
      sessionHours: z
        .number()
        .min(1)
        .max(24 * 90)
        .default(24 * 7)
        .describe('hours a login stays valid'),
      loginAttemptsPerMinute: z
        .number()
        .int()
        .min(1)
        .max(100)
        .default(10)
        .describe('login attempts allowed per minute before further ones are refused (against password guessing)'),
    })
    .prefault({})
    .describe('logins to the web UI and API (the admin password is set in the web UI on first run)'),
  detection: z
    .strictObject({
      model: z
        .string()
        .default('yolox')
        .describe('the model: yolox, nanodet, or a path to a YOLOX/NanoDet-style ONNX model'),
      backend: z
        .enum(['onnxruntime', 'openvino'])
        .default('onnxruntime')
        .describe('inference runtime; openvino falls back to onnxruntime, saying why, when it cannot load'),
      device: z
        .string()
        .regex(/^[A-Z,.0-9]+$/)
        .default('CPU')
        .describe('OpenVINO device: CPU, GPU (the Intel iGPU) or a list such as GPU,CPU'),
      threads: z.number().int().min(1).max(16).default(2).describe('inference threads'),
      batch: z
        .number()
        .int()
        .min(1)
        .max(16)
        .default(4)
        .describe(
          "largest batch across cameras: frames of several cameras that wait for the model run as one inference (1: one at a time). ONNX Runtime and YOLOX only: NanoDet's graph has no batch axis, and OpenVINO on a CPU measured slower batched, so it runs one image at a time (docs/benchmarks.md)",
        ),
      fps: z
        .number()
        .min(0.5)
        .max(15)
        .default(5)
        .describe('frames per second analysed on a camera added without its own detectFps'),
      classes: z
        .record(z.string(), classFilterSchema)
        .default({
          person: { minScore: 0.5 },
          car: { minScore: 0.5 },
          truck: { minScore: 0.5 },
          bus: { minScore: 0.5 },
          motorbike: { minScore: 0.5 },
          bicycle: { minScore: 0.5 },
          dog: { minScore: 0.6 },
          cat: { minScore: 0.6 },
        })
        .describe('the object classes that make events (COCO names), each with the lowest score that counts'),
      motion: z
        .strictObject({
          enabled: z
            .boolean()
            .default(true)
            .describe('run the model only on frames where something moves (false: on every analysed frame)'),
          threshold: z
            .number()
            .int()
            .min(5)
            .max(120)
            .default(30)
            .describe('grey-level change (of 255) for a pixel to count as moving'),
          minArea: z
            .number()
            .min(0)
            .max(0.5)
            .default(0.0005)
            .describe('smallest moving area that counts, as a fraction of the image'),
        })
        .prefault({})
        .describe('motion gating: saves most of the inference work on quiet scenes'),
      tamper: z
        .strictObject({
          enabled: z
            .boolean()
            .default(true)
            .describe(
              'report a covered, dark, defocused, re-aimed (moved) or frozen camera picture as a tamper event (about 0.4 ms per analysed frame)',
            ),
        })
        .prefault({})
        .describe('tamper and camera faults, measured against what each camera normally shows'),
    })
    .prefault({})
    .describe('what is detected in the camera images, and how'),
  events: z
    .strictObject({
      minHits: z.number().int().min(1).max(30).default(3).describe('detections of a track before its event starts'),
      endAfterSeconds: z
        .number()
        .min(1)
        .max(300)
        .default(5)
        .describe('seconds an object must be gone (or still) before its event ends'),
      retentionDays: z
        .number()
        .min(1)
        .max(3650)
        .default(30)
        .describe('days events are kept, with their snapshots and clips'),
    })
    .prefault({})
    .describe('when detections become events, and how long events are kept'),
  alerts: alertsConfigSchema,
  recording: z
    .strictObject({
      segmentSeconds: z.number().min(2).max(600).default(10).describe('length of each recorded file (fMP4 segment)'),
      preRollSeconds: z.number().min(0).max(60).default(5).describe('seconds of video kept before an event starts'),
      postRollSeconds: z.number().min(0).max(60).default(5).describe('seconds of video kept after an event ends'),
      continuousDays: z.number().min(0.1).max(3650).default(7).describe('days continuous recordings are kept'),
      eventDays: z.number().min(0.1).max(3650).default(30).describe('days the recordings around events are kept'),
      eventsBufferSeconds: z
        .number()
        .min(10)
        .max(3600)
        .default(120)
        .describe('cameras with recordMode events: seconds of recent video kept in case an event needs it'),
      minFreeBytes: z
        .number()
        .int()
        .min(0)
        .default(1024 ** 3)
        .describe('free disk space to keep, in bytes; the oldest unprotected recordings are deleted to keep it'),
      minFreeMinutes: z
        .number()
        .min(0)
        .default(60)
        .describe('free disk space to keep, in minutes of recording at the current bitrate (the larger applies)'),
      clipMaxSeconds: z
        .number()
        .min(10)
        .max(3600)
        .default(300)
        .describe('longest event clip, in seconds; a longer event is watched in the continuous recordings'),
      clipCacheMB: z
        .number()
        .min(0)
        .default(2048)
        .describe(
          'disk space for event clips, in MB (also at most a quarter of the recordings); clips are cut from the recordings again when needed',
        ),
    })
    .prefault({})
    .describe('recording to disk: segments, clips around events, retention and free space'),
  cameras: z
    .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/), cameraSettingsSchema)
    .default({})
    .meta({
      description:
        'settings per camera, by camera id: zones, masks and record mode. The cameras themselves (name, URL, ' +
        'credentials) are added in the web UI (Cameras page) or with POST /api/cameras, not in this file',
      examples: [
        {
          'front-door': {
            recordMode: 'events',
            zones: [
              {
                name: 'driveway',
                points: [
                  [0.1, 0.5],
                  [0.9, 0.5],
                  [0.9, 1],
                  [0.1, 1],
                ],
              },
            ],
            requiredZones: ['driveway'],
          },
        },
      ],
    }),
  // Beside `cameras` rather than in it: that mapping's keys are camera ids.
  cameraSources: z
    .strictObject({
      mediaDirs: z
        .array(z.string().startsWith('/', 'expected an absolute folder path'))
        .max(32)
        .default([])
        .meta({
          description:
            'folders whose video files may be cameras of kind file (the real path, symbolic links resolved, must be ' +
            'inside one); the sample media folder of the demo is always allowed, no other file is',
          examples: [['/srv/guardian/videos']],
        }),
      refusePlainRtspCredentials: z
        .boolean()
        .default(false)
        .describe(
          'refuse cameras with a username and password on plain rtsp:// (a camera that asks for Basic authentication gets the password in clear text over the network); they are accepted with a warning otherwise',
        ),
    })
    .prefault({})
    .describe('what cameras may read and how they may be reached (files, credentials over plain RTSP)'),
  archive: z
    .strictObject({
      enabled: z
        .boolean()
        .default(true)
        .describe('encrypt event clips, snapshots and metadata and keep them on your own server (once paired)'),
      include: z
        .enum(['all', 'labels', 'protected'])
        .default('all')
        .describe('which events: all, those with one of archive.labels, or only the ones you protect'),
      labels: z
        .array(z.string().regex(/^[a-z ]{1,30}$/))
        .default([])
        .describe('with include: labels, the labels whose events are archived (e.g. person)'),
      secretFile: z
        .string()
        .startsWith('/')
        .optional()
        .describe(
          'the archive secret (0600; made at first run if missing; default <dataDir>/archive.secret): without it, archived footage cannot be decrypted',
        ),
    })
    .prefault({})
    .describe('encrypted evidence off the box: the server stores only ciphertext, the key never leaves this edge'),
  telemetry: z
    .strictObject({
      intervalSeconds: z.number().min(5).max(3600).default(30).describe('seconds between health measurements'),
    })
    .prefault({})
    .describe('health figures of this appliance (see /api/metrics)'),
  link: z
    .strictObject({
      interface: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,15}$/)
        .default('guardian0')
        .describe("the WireGuard interface to the owner's server (set up by `guardian pair`)"),
      heartbeatSeconds: z.number().min(1).max(300).default(15).describe('seconds between heartbeats to the server'),
      telemetrySeconds: z
        .number()
        .min(1)
        .max(3600)
        .default(30)
        .describe('seconds between health reports to the server'),
    })
    .prefault({})
    .describe('the link to your own server (the user VM), once paired with `guardian pair`'),
});

export type Config = z.infer<typeof configSchema>;
export type CameraSettings = z.infer<typeof cameraSettingsSchema>;

export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}

/** The parts of a (zod-generated) JSON Schema that the messages, the example config and the docs read. */
export interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  examples?: unknown[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  required?: string[];
  items?: SchemaNode;
  prefixItems?: SchemaNode[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minItems?: number;
  pattern?: string;
  format?: string;
}

const jsonSchemas = new WeakMap<z.ZodType, SchemaNode>();
export function jsonSchemaOf(schema: z.ZodType): SchemaNode {
  let js = jsonSchemas.get(schema);
  if (!js) {
    js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as SchemaNode;
    jsonSchemas.set(schema, js);
  }
  return js;
}

/** The schema of the value at `path` (map entries and list items included), if there is one. */
export function schemaAt(root: SchemaNode, path: readonly PropertyKey[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const key of path) {
    if (typeof key === 'number') node = node?.prefixItems?.[key] ?? node?.items;
    else {
      const rest: SchemaNode | boolean | undefined = node?.additionalProperties;
      node = node?.properties?.[String(key)] ?? (typeof rest === 'object' ? rest : undefined);
    }
  }
  return node;
}

// People write cameras into the YAML; they belong to the camera registry (UI/API), the file only tunes them.
const CAMERA_HINT =
  'cameras are added in the web UI (Cameras page) or with POST /api/cameras, not in the config file; ' +
  `under cameras.<camera id> it holds only that camera's settings (${Object.keys(cameraSettingsSchema.shape).join(', ')})`;

const TYPE_NAMES: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (key: value lines)',
  record: 'a mapping (key: value lines)',
  array: 'a list',
  tuple: 'a list',
};

/** One validator issue in words a person can act on: what is wrong, what the key is for, how to fix it. */
function friendlyMessage(i: z.core.$ZodIssue, root: SchemaNode | undefined, edge: boolean): string {
  // A message the schema itself supplies (e.g. 'expected host:port') is already meant for people.
  if (!/^(Invalid|Too (small|big)|Unrecognized)/.test(i.message)) return i.message;
  const node = root && schemaAt(root, i.path);
  const about = node?.description ? ` — ${node.description}` : '';
  const onCameras = edge && i.path[0] === 'cameras';
  // zod gives integers the safe-integer range; only a real limit is worth saying.
  const range = node?.minimum !== undefined && (node.maximum ?? Number.MAX_SAFE_INTEGER) < Number.MAX_SAFE_INTEGER;
  switch (i.code) {
    case 'invalid_type': {
      if (onCameras && i.path.length === 1) return `must be a mapping of camera id to settings: ${CAMERA_HINT}`;
      const missing = 'input' in i ? i.input === undefined : i.message.endsWith('received undefined');
      if (!missing) return `must be ${TYPE_NAMES[i.expected] ?? i.expected}${about}`;
      const example = node?.examples?.[0];
      const key = String(i.path.at(-1) ?? '');
      return (
        `required${about}` +
        (example !== undefined
          ? `, e.g. ${key}: ${typeof example === 'string' ? example : JSON.stringify(example)}`
          : '') +
        (edge && i.path.length === 1 ? ' (`guardian config example` prints a complete example)' : '')
      );
    }
    case 'too_small':
    case 'too_big': {
      if (i.origin === 'array')
        return i.code === 'too_small' ? `needs at least ${i.minimum} entries${about}` : `has too many entries${about}`;
      if (i.origin === 'string')
        return i.code === 'too_small' ? `must be at least ${i.minimum} characters long` : 'is too long';
      if (range) return `must be from ${node.minimum} to ${node.maximum}${about}`;
      const bound = i.code === 'too_small' ? i.minimum : i.maximum;
      const word =
        i.code === 'too_small' ? (i.inclusive ? 'at least' : 'more than') : i.inclusive ? 'at most' : 'less than';
      return `must be ${word} ${bound}${about}`;
    }
    case 'invalid_value':
      return `must be one of ${i.values.map(String).join(', ')}${about}`;
    case 'invalid_format':
      if ('prefix' in i) return `must start with "${i.prefix}"${about}`;
      return `must match ${i.pattern ?? i.format}${about}`;
    case 'invalid_key':
      if (onCameras)
        return `"${String(i.path.at(-1))}" is not a camera id (lowercase letters, digits and dashes); ${CAMERA_HINT}`;
      return 'is not an allowed name here';
    case 'unrecognized_keys': {
      const unknown = `unknown key(s): ${i.keys.join(', ')}`;
      if (onCameras) return `${unknown}; ${CAMERA_HINT}`;
      const known = Object.keys(node?.properties ?? {});
      if (!known.length) return unknown;
      const more = edge && !i.path.length ? ' (`guardian config example` prints them all, with their defaults)' : '';
      return `${unknown}; the keys here are ${known.join(', ')}${more}`;
    }
    default:
      return i.message;
  }
}

/** Field-by-field problems; with the schema, the messages also say what each key is for. */
export function issuesOf(err: z.ZodError, schema?: z.ZodType): FieldIssue[] {
  const root = schema && jsonSchemaOf(schema);
  return err.issues.map((i) => ({
    field: i.path.length ? i.path.join('.') : '(root)',
    message: friendlyMessage(i, root, schema === configSchema),
  }));
}

/** Every default of the configuration (the one place defaults live), for a given data dir. */
export function configDefaults(dataDir = '/var/lib/guardian'): Config {
  return validateConfig({ dataDir });
}

export function validateConfig(value: unknown): Config {
  const r = configSchema.safeParse(value, { reportInput: true });
  if (!r.success) throw new ValidationError(issuesOf(r.error, configSchema));
  return r.data;
}

/** GUARDIAN_HTTP__PORT=8081 sets http.port; values are JSON when they parse as JSON, strings otherwise. */
export function applyEnvOverrides(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('GUARDIAN_CONFIG__') || value === undefined) continue;
    const path = key
      .slice('GUARDIAN_CONFIG__'.length)
      .split('__')
      .map((p) => p.toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
    let parsed: unknown = value;
    try {
      parsed = JSON.parse(value);
    } catch {
      // a plain string
    }
    let node = out as Record<string, unknown>;
    for (const p of path.slice(0, -1)) {
      if (typeof node[p] !== 'object' || node[p] === null) node[p] = {};
      node = node[p] as Record<string, unknown>;
    }
    node[path.at(-1) as string] = parsed;
  }
  return out;
}

/** Reads a YAML file, applies the GUARDIAN_CONFIG__ overrides and validates it against `schema`. */
export function loadYamlConfig<S extends z.ZodType>(
  path: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(path, 'utf8')) ?? {};
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // The first line of a YAML error says where; the rest is an excerpt of the file.
    const why = e.code === 'ENOENT' ? 'no such file' : (e.message.split('\n')[0] ?? e.message);
    throw new ValidationError([{ field: '(file)', message: `${path}: ${why}` }]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ValidationError([
      { field: '(root)', message: 'must be a mapping of settings (key: value lines), e.g. dataDir: /var/lib/guardian' },
    ]);
  const r = schema.safeParse(applyEnvOverrides(raw as Record<string, unknown>, env), { reportInput: true });
  if (!r.success) throw new ValidationError(issuesOf(r.error, schema));
  return r.data;
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  return loadYamlConfig(path, configSchema, env);
}
