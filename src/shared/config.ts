// Configuration: one YAML file plus GUARDIAN_* environment overrides, validated by one zod schema that rejects
// unknown keys and reports every problem at once. The same schema is exported as JSON Schema for the UI and API.
import { readFileSync } from 'node:fs';

import YAML from 'yaml';
import { z } from 'zod';

import type { FieldIssue } from './errors.ts';
import { ValidationError } from './errors.ts';

const point = z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]);
const polygon = z.array(point).min(3).describe('polygon, points in 0-1 frame coordinates');

export const classFilterSchema = z.strictObject({ minScore: z.number().min(0.05).max(1) });

export const cameraSettingsSchema = z.strictObject({
  zones: z.array(z.strictObject({ name: z.string().regex(/^[\w -]{1,40}$/), points: polygon })).default([]),
  motionMasks: z.array(polygon).default([]),
  objectMasks: z.array(polygon).default([]),
  /** Events only for objects inside one of these zones (empty: anywhere). */
  requiredZones: z.array(z.string()).default([]),
  recordMode: z.enum(['continuous', 'events']).default('continuous'),
});

export const configSchema = z.strictObject({
  dataDir: z.string().startsWith('/').describe('where the database, recordings and snapshots live'),
  http: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(8080).describe('0 picks a free port'),
    })
    .prefault({}),
  auth: z
    .strictObject({
      sessionHours: z
        .number()
        .min(1)
        .max(24 * 90)
        .default(24 * 7),
      loginAttemptsPerMinute: z.number().int().min(1).max(100).default(10),
    })
    .prefault({}),
  detection: z
    .strictObject({
      model: z.string().default('yolox').describe('yolox, nanodet, or a path to an ONNX model'),
      backend: z.enum(['onnxruntime', 'openvino']).default('onnxruntime'),
      device: z
        .string()
        .regex(/^[A-Z,.0-9]+$/)
        .default('CPU'),
      threads: z.number().int().min(1).max(16).default(2),
      fps: z.number().min(0.5).max(15).default(5),
      classes: z.record(z.string(), classFilterSchema).default({
        person: { minScore: 0.5 },
        car: { minScore: 0.55 },
        truck: { minScore: 0.55 },
        dog: { minScore: 0.6 },
      }),
      motion: z
        .strictObject({
          enabled: z.boolean().default(true),
          threshold: z.number().int().min(5).max(120).default(30),
          minArea: z.number().min(0).max(0.5).default(0.0005),
        })
        .prefault({}),
    })
    .prefault({}),
  events: z
    .strictObject({
      /** Detections of a track before its event starts. */
      minHits: z.number().int().min(1).max(30).default(3),
      /** Seconds an object must be gone before its event ends. */
      endAfterSeconds: z.number().min(1).max(300).default(5),
      retentionDays: z.number().min(1).max(3650).default(30),
    })
    .prefault({}),
  recording: z
    .strictObject({
      segmentSeconds: z.number().min(2).max(600).default(10),
      preRollSeconds: z.number().min(0).max(60).default(5),
      postRollSeconds: z.number().min(0).max(60).default(5),
      continuousDays: z.number().min(0.1).max(3650).default(7),
      eventDays: z.number().min(0.1).max(3650).default(30),
      eventsBufferSeconds: z.number().min(10).max(3600).default(120),
      minFreeBytes: z
        .number()
        .int()
        .min(0)
        .default(1024 ** 3),
      minFreeMinutes: z.number().min(0).default(60),
    })
    .prefault({}),
  cameras: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/), cameraSettingsSchema).default({}),
  telemetry: z.strictObject({ intervalSeconds: z.number().min(5).max(3600).default(30) }).prefault({}),
  link: z
    .strictObject({
      interface: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,15}$/)
        .default('guardian0')
        .describe("the WireGuard interface to the owner's server (set up by `guardian pair`)"),
      heartbeatSeconds: z.number().min(1).max(300).default(15),
      telemetrySeconds: z.number().min(1).max(3600).default(30),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type CameraSettings = z.infer<typeof cameraSettingsSchema>;

export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}

export function issuesOf(err: z.ZodError): FieldIssue[] {
  return err.issues.map((i) => ({
    field: i.path.length ? i.path.join('.') : '(root)',
    message: i.code === 'unrecognized_keys' ? `unknown key(s): ${i.keys.join(', ')}` : i.message,
  }));
}

export function validateConfig(value: unknown): Config {
  const r = configSchema.safeParse(value);
  if (!r.success) throw new ValidationError(issuesOf(r.error));
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
    throw new ValidationError([{ field: '(file)', message: `${path}: ${(err as Error).message}` }]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ValidationError([{ field: '(root)', message: 'expected a mapping of settings' }]);
  const r = schema.safeParse(applyEnvOverrides(raw as Record<string, unknown>, env));
  if (!r.success) throw new ValidationError(issuesOf(r.error));
  return r.data;
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  return loadYamlConfig(path, configSchema, env);
}
