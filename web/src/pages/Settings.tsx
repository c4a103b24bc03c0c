import { type FormEvent, useEffect, useRef, useState } from 'react';

import { ApiError, api, type Camera, type Status, url } from '../api.ts';
import { AlertChannels } from '../components/AlertChannels.tsx';
import { Card, ErrorNote } from '../components/Layout.tsx';
import { plural } from '../format.ts';
import { ApiTokens } from './ApiTokens.tsx';

// Forms generated from the configuration's JSON Schema, one card per section; the API's field errors are shown
// next to the fields they concern.
interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  enum?: string[];
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  additionalProperties?: Schema | boolean;
}

type Json = Record<string, unknown>;

const SECTIONS: { key: string; title: string }[] = [
  { key: 'detection', title: 'Detection' },
  { key: 'events', title: 'Events' },
  { key: 'alerts', title: 'Alerts: when an event matters, and where alerts go' },
  { key: 'recording', title: 'Recording and retention' },
  { key: 'http', title: 'Web server' },
  { key: 'auth', title: 'Login' },
  { key: 'telemetry', title: 'Telemetry' },
  { key: 'link', title: 'Link to your server' },
];

const human = (k: string) => k.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());

function getPath(o: Json, path: string[]): unknown {
  return path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Json)[k] : undefined), o);
}
function setPath(o: Json, path: string[], value: unknown): Json {
  const copy = structuredClone(o);
  let node = copy;
  for (const k of path.slice(0, -1)) {
    node[k] = typeof node[k] === 'object' && node[k] !== null ? node[k] : {};
    node = node[k] as Json;
  }
  node[path.at(-1) as string] = value;
  return copy;
}

function Fields({
  schema,
  path,
  config,
  setConfig,
  errors,
}: {
  schema: Schema;
  path: string[];
  config: Json;
  setConfig: (c: Json) => void;
  errors: Record<string, string>;
}) {
  return (
    <div className="grid gap-3 sm:grid-cols-2">
      {Object.entries(schema.properties ?? {}).map(([k, s]) => {
        const p = [...path, k];
        const id = p.join('.');
        const value = getPath(config, p) ?? s.default; // an unset setting shows what applies: its default
        const err = errors[id];
        const type = Array.isArray(s.type) ? s.type[0] : s.type;
        const cls = `mt-1 w-full rounded-md border bg-transparent px-3 py-2 ${err ? 'border-red-500' : 'border-zinc-500/40'}`;
        let input: React.ReactNode;
        if (type === 'object' && s.properties)
          return (
            <fieldset key={id} className="sm:col-span-2 rounded-md border border-zinc-500/20 p-3">
              <legend className="px-1 text-sm text-zinc-400">{human(k)}</legend>
              <Fields schema={s} path={p} config={config} setConfig={setConfig} errors={errors} />
            </fieldset>
          );
        if (s.enum)
          input = (
            <select
              id={id}
              name={id}
              className={`${cls} dark:[color-scheme:dark]`}
              value={String(value ?? '')}
              onChange={(e) => setConfig(setPath(config, p, e.target.value))}
            >
              {s.enum.map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          );
        else if (type === 'boolean')
          input = (
            <input
              id={id}
              name={id}
              type="checkbox"
              className="mt-2 block h-5 w-5"
              checked={Boolean(value)}
              onChange={(e) => setConfig(setPath(config, p, e.target.checked))}
            />
          );
        else if (type === 'number' || type === 'integer')
          input = (
            <input
              id={id}
              name={id}
              type="number"
              step="any"
              className={cls}
              value={value === undefined ? '' : String(value)}
              onChange={(e) =>
                setConfig(setPath(config, p, e.target.value === '' ? undefined : Number(e.target.value)))
              }
            />
          );
        else if (type === 'string')
          input = (
            <input
              id={id}
              name={id}
              className={cls}
              value={String(value ?? '')}
              onChange={(e) => setConfig(setPath(config, p, e.target.value || undefined))}
            />
          );
        else
          input = (
            <textarea
              id={id}
              name={id}
              rows={4}
              className={`${cls} font-mono text-xs`}
              defaultValue={JSON.stringify(value ?? {}, null, 1)}
              onBlur={(e) => {
                try {
                  setConfig(setPath(config, p, JSON.parse(e.target.value)));
                } catch {
                  /* shown as an error on save */
                }
              }}
            />
          );
        return (
          <div key={id} className={type === 'object' || type === 'array' ? 'sm:col-span-2' : ''}>
            <label htmlFor={id} className="text-sm">
              {human(k)}
            </label>
            {input}
            {s.description && <p className="mt-1 text-xs text-zinc-500">{s.description}</p>}
            {err && (
              <p role="alert" className="mt-1 text-xs text-red-400">
                {err}
              </p>
            )}
          </div>
        );
      })}
    </div>
  );
}

/** The cameras, and the one chosen (the first at the start), for the cards that edit one camera at a time. */
function useCameraChoice() {
  const [cameras, setCameras] = useState<Camera[]>([]);
  const [camera, setCamera] = useState('');
  useEffect(() => {
    api<Camera[]>('GET /cameras').then((c) => {
      setCameras(c);
      setCamera(c[0]?.id ?? '');
    });
  }, []);
  return { cameras, camera, setCamera };
}

function CameraSelect({
  label,
  cameras,
  camera,
  setCamera,
}: {
  label: string;
  cameras: Camera[];
  camera: string;
  setCamera: (id: string) => void;
}) {
  return (
    <select
      aria-label={label}
      value={camera}
      onChange={(e) => setCamera(e.target.value)}
      className="rounded-md border border-zinc-500/40 bg-transparent px-2 py-1.5 text-sm dark:[color-scheme:dark]"
    >
      {cameras.map((c) => (
        <option key={c.id} value={c.id}>
          {c.name}
        </option>
      ))}
    </select>
  );
}

/** A camera's own settings (recording mode, anomaly, idle decoding); its zones and masks have their own card. */
function CameraSettings({
  schema,
  config,
  setConfig,
  errors,
}: {
  schema: Schema | undefined;
  config: Json;
  setConfig: (c: Json) => void;
  errors: Record<string, string>;
}) {
  const { cameras, camera, setCamera } = useCameraChoice();
  const drawn = new Set(['zones', 'motionMasks', 'objectMasks']);
  const own: Schema = {
    ...schema,
    properties: Object.fromEntries(Object.entries(schema?.properties ?? {}).filter(([k]) => !drawn.has(k))),
  };
  if (!schema?.properties) return null;
  if (!cameras.length) return <p className="text-sm text-zinc-400">Add a camera to change its settings.</p>;
  return (
    <div className="space-y-3">
      <CameraSelect label="Camera for its settings" cameras={cameras} camera={camera} setCamera={setCamera} />
      {camera && (
        <Fields schema={own} path={['cameras', camera]} config={config} setConfig={setConfig} errors={errors} />
      )}
    </div>
  );
}

/** Draw a zone on the camera's current frame: click to add points, then name and save it. */
function ZoneEditor({ config, setConfig, onSave }: { config: Json; setConfig: (c: Json) => void; onSave: () => void }) {
  const { cameras, camera, setCamera } = useCameraChoice();
  const [points, setPoints] = useState<[number, number][]>([]);
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'zones' | 'motionMasks' | 'objectMasks'>('zones');
  const img = useRef<HTMLImageElement>(null);
  if (!cameras.length) return <p className="text-sm text-zinc-400">Add a camera to draw zones on it.</p>;
  const zones =
    (getPath(config, ['cameras', camera, 'zones']) as { name: string; points: [number, number][] }[] | undefined) ?? [];
  const masks =
    (kind !== 'zones' ? (getPath(config, ['cameras', camera, kind]) as [number, number][][] | undefined) : undefined) ??
    [];
  const add = () => {
    if (points.length < 3 || (kind === 'zones' && !name)) return;
    // Masks are plain polygons; zones have a name. Both are saved with the settings.
    const next =
      kind === 'zones'
        ? setPath(config, ['cameras', camera, 'zones'], [...zones.filter((z) => z.name !== name), { name, points }])
        : setPath(config, ['cameras', camera, kind], [...masks, points]);
    setConfig(next);
    setPoints([]);
    setName('');
    onSave();
  };
  return (
    <div className="space-y-2">
      <CameraSelect label="Camera for zones" cameras={cameras} camera={camera} setCamera={setCamera} />
      <div
        className="relative max-w-2xl cursor-crosshair"
        onClick={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          setPoints([
            ...points,
            [
              Math.round(((e.clientX - r.left) / r.width) * 1000) / 1000,
              Math.round(((e.clientY - r.top) / r.height) * 1000) / 1000,
            ],
          ]);
        }}
        onKeyDown={() => undefined}
        role="presentation"
      >
        {camera && (
          <img
            ref={img}
            src={url('GET /cameras/:id/latest.jpg', { id: camera, query: { width: 800 } })}
            alt="Current frame"
            className="w-full rounded-md"
          />
        )}
        <svg
          className="pointer-events-none absolute inset-0 h-full w-full"
          viewBox="0 0 1 1"
          preserveAspectRatio="none"
          aria-hidden
        >
          {zones.map((z) => (
            <polygon
              key={z.name}
              points={z.points.map((p) => p.join(',')).join(' ')}
              fill="#38bdf833"
              stroke="#38bdf8"
              strokeWidth={0.003}
            />
          ))}
          {(getPath(config, ['cameras', camera, 'motionMasks']) as [number, number][][] | undefined)?.map((m) => (
            <polygon
              key={`m${m.join()}`}
              points={m.map((p) => p.join(',')).join(' ')}
              fill="#ef444433"
              stroke="#ef4444"
              strokeWidth={0.003}
            />
          ))}
          {(getPath(config, ['cameras', camera, 'objectMasks']) as [number, number][][] | undefined)?.map((m) => (
            <polygon
              key={`o${m.join()}`}
              points={m.map((p) => p.join(',')).join(' ')}
              fill="#a855f733"
              stroke="#a855f7"
              strokeWidth={0.003}
            />
          ))}
          {points.length > 0 && (
            <polygon
              points={points.map((p) => p.join(',')).join(' ')}
              fill="#f59e0b33"
              stroke="#f59e0b"
              strokeWidth={0.003}
            />
          )}
        </svg>
      </div>
      <div className="flex flex-wrap gap-2 text-sm">
        <select
          aria-label="Draw"
          value={kind}
          onChange={(e) => setKind(e.target.value as typeof kind)}
          className="rounded-md border border-zinc-500/40 bg-transparent px-2 py-1.5 dark:[color-scheme:dark]"
        >
          <option value="zones">Zone</option>
          <option value="motionMasks">Motion mask (ignore movement here)</option>
          <option value="objectMasks">Object mask (ignore objects standing here)</option>
        </select>
        {kind === 'zones' && (
          <input
            aria-label="Zone name"
            placeholder="Zone name, e.g. driveway"
            value={name}
            onChange={(e) => setName(e.target.value)}
            className="rounded-md border border-zinc-500/40 bg-transparent px-2 py-1.5"
          />
        )}
        <button
          type="button"
          onClick={add}
          disabled={points.length < 3 || (kind === 'zones' && !name)}
          className="rounded-md bg-sky-600 px-3 py-1.5 text-white disabled:opacity-40"
        >
          Add ({points.length} points)
        </button>
        <button
          type="button"
          onClick={() => setPoints([])}
          className="rounded-md border border-zinc-500/40 px-3 py-1.5"
        >
          Clear
        </button>
        {zones.map((z) => (
          <span key={z.name} className="rounded-full bg-sky-500/20 px-2 py-1">
            {z.name}
          </span>
        ))}
      </div>
    </div>
  );
}

interface PairingPreview {
  pairUrl: string;
  link: string;
  tunnel: { vmPublicKey: string; endpoint: string; edgeAddress: string } | null;
  replaces: { edgeId: string | null; server: string | null } | null;
}

/** Pairing with the owner's server and the link's state (the form is outside the settings form: forms do not nest). */
function ServerLink() {
  const [link, setLink] = useState<Status['link']>();
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    const load = () =>
      api<Status>('GET /status').then(
        (s) => setLink(s.link),
        () => undefined,
      );
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, []);
  const [preview, setPreview] = useState<PairingPreview>();
  // Two steps: the code is shown for what it is (where it points, the server's key) before anything is contacted.
  async function pair(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      if (!preview) setPreview(await api<PairingPreview>('POST /link/pair/preview', { body: { code: code.trim() } }));
      else {
        setLink(await api<Status['link']>('POST /link/pair', { body: { code: code.trim(), confirm: true } }));
        setCode('');
        setPreview(undefined);
      }
    } catch (err) {
      setProblem(err instanceof ApiError ? (err.issues[0]?.message ?? err.message) : String(err));
    } finally {
      setBusy(false);
    }
  }
  const state = !link?.configured
    ? 'Not paired'
    : link.connected
      ? 'Connected'
      : `Down${link.lastError ? `: ${link.lastError}` : ''}`;
  return (
    <Card title="Your server (user VM)">
      <dl className="mb-3 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
        <dt className="text-zinc-400">State</dt>
        <dd aria-label="Link state">{state}</dd>
        {link?.configured && (
          <>
            <dt className="text-zinc-400">This edge</dt>
            <dd>{link.edgeId}</dd>
            <dt className="text-zinc-400">Server</dt>
            <dd>
              {link.vm} {link.tunnel ? `through WireGuard (this edge is ${link.tunnelAddress})` : '(no tunnel)'}
            </dd>
            <dt className="text-zinc-400">Health</dt>
            <dd>
              ping {link.latencyMs ?? '–'} ms
              {link.handshakeAgeSeconds !== null ? ` · last handshake ${link.handshakeAgeSeconds} s ago` : ''} ·{' '}
              {link.delivered} delivered
            </dd>
          </>
        )}
      </dl>
      <form onSubmit={pair} className="space-y-2" aria-label="Pair with your server">
        <label className="block text-sm" htmlFor="pairing-code">
          Pairing code (run <code>guardian keys pair</code> on your server)
        </label>
        <textarea
          id="pairing-code"
          value={code}
          onChange={(e) => {
            setCode(e.target.value);
            setPreview(undefined);
          }}
          rows={2}
          className="w-full rounded-md border border-zinc-500/40 bg-transparent p-2 font-mono text-xs"
          placeholder="GUARDIAN-PAIR-1:..."
        />
        {preview && (
          <dl
            aria-label="Pairing preview"
            className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 rounded-md border border-amber-500/40 p-3 text-sm"
          >
            <dt className="text-zinc-400">Server</dt>
            <dd className="break-all">{preview.pairUrl}</dd>
            <dt className="text-zinc-400">Link</dt>
            <dd>{preview.link}</dd>
            {preview.tunnel && (
              <>
                <dt className="text-zinc-400">WireGuard key</dt>
                <dd className="break-all font-mono text-xs" data-testid="pairing-vm-key">
                  {preview.tunnel.vmPublicKey}
                </dd>
                <dt className="text-zinc-400">Endpoint</dt>
                <dd>
                  {preview.tunnel.endpoint} (this edge becomes {preview.tunnel.edgeAddress})
                </dd>
              </>
            )}
            <dd className="col-span-2 text-amber-300">
              Compare the key with what <code>guardian keys pair</code> printed on your server.
              {preview.replaces && ` This replaces the pairing with ${preview.replaces.server}.`}
            </dd>
          </dl>
        )}
        {problem && (
          <p role="alert" className="text-sm text-red-400">
            {problem}
          </p>
        )}
        <button
          type="submit"
          disabled={busy || !code.trim()}
          className="rounded-md bg-sky-600 px-4 py-1.5 text-sm font-medium text-white disabled:opacity-50"
        >
          {busy
            ? 'Pairing…'
            : preview
              ? 'Pair with this server'
              : link?.configured
                ? 'Check code to pair again'
                : 'Check code'}
        </button>
      </form>
    </Card>
  );
}

export function Settings() {
  const [schema, setSchema] = useState<Schema>();
  const [config, setConfig] = useState<Json>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => {
    Promise.all([api<Schema>('GET /config/schema'), api<Json>('GET /config')]).then(([s, c]) => {
      setSchema(s);
      setConfig(c);
    }, setError);
  }, []);
  const save = async (e?: FormEvent, next?: Json) => {
    e?.preventDefault();
    setErrors({});
    setError(undefined);
    setSaved(null);
    try {
      const r = await api<{ config: Json; applied: { live: string[]; restartedCameras: string[] } }>('PUT /config', {
        body: next ?? config,
      });
      setConfig(r.config);
      // Everything applies at once; a few settings restart the camera streams, which the owner should know.
      setSaved(r.applied.restartedCameras.length ? 'Saved; cameras restarted to apply it' : 'Saved and applied');
    } catch (err) {
      if (err instanceof ApiError && err.issues.length)
        setErrors(Object.fromEntries(err.issues.map((i) => [i.field, i.message])));
      else setError(err);
    }
  };
  if (error && !config) return <ErrorNote error={error} />;
  if (!schema || !config) return <div className="h-64 animate-pulse rounded-xl bg-zinc-500/15" />;
  return (
    <div className="space-y-4">
      <form onSubmit={save} className="space-y-4" aria-label="Settings">
        <div className="flex flex-wrap items-center justify-between gap-2">
          <h1 className="text-lg font-semibold">Settings</h1>
          <div className="flex items-center gap-3">
            {saved && (
              <span role="status" className="text-sm text-emerald-400">
                {saved}
              </span>
            )}
            {Object.keys(errors).length > 0 && (
              <span role="alert" className="text-sm text-red-400">
                {plural(Object.keys(errors).length, 'field needs', 'fields need')} attention
              </span>
            )}
            <button type="submit" className="rounded-md bg-sky-600 px-4 py-1.5 text-sm font-medium text-white">
              Save
            </button>
          </div>
        </div>
        <ErrorNote error={error} />
        {SECTIONS.filter((s) => schema.properties?.[s.key]).map((s) => (
          <Card key={s.key} title={s.title}>
            <Fields
              schema={schema.properties?.[s.key] as Schema}
              path={[s.key]}
              config={config}
              setConfig={setConfig}
              errors={errors}
            />
          </Card>
        ))}
        <Card title="Per camera">
          <CameraSettings
            schema={(schema.properties?.cameras as Schema | undefined)?.additionalProperties as Schema | undefined}
            config={config}
            setConfig={setConfig}
            errors={errors}
          />
        </Card>
        <Card title="Zones and masks (drawn on the camera image; Save to apply)">
          <ZoneEditor config={config} setConfig={(c) => setConfig(c)} onSave={() => undefined} />
        </Card>
      </form>
      <AlertChannels />
      <ServerLink />
      <ApiTokens />
    </div>
  );
}
