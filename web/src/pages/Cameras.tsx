import { Plus, Search, Trash2 } from 'lucide-react';
import { type FormEvent, useState } from 'react';

import { ApiError, api, type Camera } from '../api.ts';
import { LearnNormal } from '../components/AnomalyModel.tsx';
import { Card, ErrorNote } from '../components/Layout.tsx';
import { usePoll } from '../router.ts';

interface Form {
  id?: string;
  name: string;
  kind: string;
  recordUrl: string;
  detectUrl: string;
  username: string;
  password: string;
  detectFps: number;
}

const empty: Form = { name: '', kind: 'rtsp', recordUrl: '', detectUrl: '', username: '', password: '', detectFps: 5 };

interface Discovered {
  onvif: {
    xaddr: string;
    manufacturer: string | null;
    model: string | null;
    error: { message: string } | null;
    camera: Partial<Form> | null;
  }[];
  usb: { device: string; name: string; camera: Partial<Form> }[];
}

function Field({
  label,
  name,
  value,
  onChange,
  error,
  type = 'text',
  placeholder,
}: {
  label: string;
  name: string;
  value: string | number;
  onChange: (v: string) => void;
  error?: string;
  type?: string;
  placeholder?: string;
}) {
  return (
    <label className="block text-sm">
      {label}
      <input
        name={name}
        type={type}
        value={value}
        placeholder={placeholder}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={Boolean(error)}
        aria-describedby={error ? `${name}-error` : undefined}
        className={`mt-1 w-full rounded-md border bg-transparent px-3 py-2 ${error ? 'border-red-500' : 'border-zinc-500/40'}`}
      />
      {error && (
        <span id={`${name}-error`} role="alert" className="mt-1 block text-xs text-red-400">
          {error}
        </span>
      )}
    </label>
  );
}

export function Cameras() {
  const { data: cameras, error, reload } = usePoll(() => api<Camera[]>('GET /cameras'), 3000);
  const [form, setForm] = useState<Form | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState('');
  const [preview, setPreview] = useState<string | null>(null);
  const [testing, setTesting] = useState(false);
  // USB cameras plugged into this box and not added yet: offered as soon as they appear.
  const { data: offered } = usePoll(() => api<Discovered['usb']>('GET /cameras/offered'), 3000);
  const [found, setFound] = useState<Discovered | null>(null);
  const [discovering, setDiscovering] = useState(false);
  const set = (k: keyof Form) => (v: string) =>
    setForm((f) => (f ? { ...f, [k]: k === 'detectFps' ? Number(v) : v } : f));

  const body = (f: Form) => ({
    name: f.name,
    kind: f.kind,
    // Editing a camera with credentials: an empty URL keeps the stored one (it is never shown).
    ...(f.recordUrl || !f.id ? { recordUrl: f.recordUrl } : {}),
    ...(f.detectUrl || !f.id ? { detectUrl: f.detectUrl || null } : {}),
    detectFps: f.detectFps,
    ...(f.username ? { username: f.username, password: f.password } : {}),
  });
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!form) return;
    setErrors({});
    setFormError('');
    try {
      await api(form.id ? 'PUT /cameras/:id' : 'POST /cameras', { id: form.id, body: body(form) });
      setForm(null);
      setPreview(null);
      reload();
    } catch (err) {
      if (err instanceof ApiError && err.issues.length)
        setErrors(Object.fromEntries(err.issues.map((i) => [i.field, i.message])));
      else setFormError((err as Error).message);
    }
  };
  const test = async () => {
    if (!form) return;
    setTesting(true);
    setPreview(null);
    setErrors({});
    setFormError('');
    try {
      const r = await api<{ preview: string | null }>('POST /cameras/test', {
        body: { url: form.detectUrl || form.recordUrl, kind: form.kind },
      });
      setPreview(r.preview);
    } catch (err) {
      if (err instanceof ApiError && err.issues.length) setErrors({ recordUrl: err.issues[0]?.message ?? '' });
      else setFormError((err as Error).message);
    } finally {
      setTesting(false);
    }
  };
  const remove = async (c: Camera) => {
    if (!window.confirm(`Remove ${c.name}? Its recordings stay until retention removes them.`)) return;
    await api('DELETE /cameras/:id', { id: c.id });
    reload();
  };
  const discover = async () => {
    setDiscovering(true);
    try {
      setFound(await api<Discovered>('GET /cameras/discover'));
    } finally {
      setDiscovering(false);
    }
  };
  const btn = 'inline-flex items-center gap-1 rounded-md px-3 py-1.5 text-sm';
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h1 className="text-lg font-semibold">Cameras</h1>
        <div className="flex gap-2">
          <button
            type="button"
            onClick={discover}
            disabled={discovering}
            className={`${btn} border border-zinc-500/40`}
          >
            <Search size={16} /> {discovering ? 'Searching…' : 'Discover'}
          </button>
          <button
            type="button"
            onClick={() => {
              setForm({ ...empty });
              setErrors({});
              setPreview(null);
            }}
            className={`${btn} bg-sky-600 text-white`}
          >
            <Plus size={16} /> Add camera
          </button>
        </div>
      </div>
      <ErrorNote error={error} />
      {offered && offered.length > 0 && (
        <Card title="New USB camera plugged in">
          <ul className="space-y-2 text-sm" data-testid="offered">
            {offered.map((u) => (
              <li key={u.device} className="flex items-center justify-between gap-2">
                <span>
                  {u.name} <span className="text-zinc-400">({u.device})</span>
                </span>
                <button
                  type="button"
                  className={`${btn} border border-zinc-500/40`}
                  onClick={() => setForm({ ...empty, ...u.camera })}
                >
                  Add
                </button>
              </li>
            ))}
          </ul>
        </Card>
      )}
      {found && (
        <Card title="Found on the network and on this box">
          {found.onvif.length + found.usb.length === 0 && (
            <p className="text-sm text-zinc-400">
              Nothing found. Cameras must be on this network; ONVIF must be enabled on them.
            </p>
          )}
          <ul className="space-y-2 text-sm">
            {found.onvif.map((d) => (
              <li key={d.xaddr} className="flex items-center justify-between gap-2">
                <span>
                  ONVIF {[d.manufacturer, d.model].filter(Boolean).join(' ') || d.xaddr}
                  {d.error ? ` — ${d.error.message}` : ''}
                </span>
                {d.camera && (
                  <button
                    type="button"
                    className={`${btn} border border-zinc-500/40`}
                    onClick={() =>
                      setForm({
                        ...empty,
                        ...(d.camera as Partial<Form>),
                        detectUrl: (d.camera?.detectUrl as string) ?? '',
                      })
                    }
                  >
                    Add
                  </button>
                )}
              </li>
            ))}
            {found.usb.map((u) => (
              <li key={u.device} className="flex items-center justify-between gap-2">
                <span>
                  USB {u.name} ({u.device})
                </span>
                <button
                  type="button"
                  className={`${btn} border border-zinc-500/40`}
                  onClick={() => setForm({ ...empty, ...u.camera, detectUrl: '' } as Form)}
                >
                  Add
                </button>
              </li>
            ))}
          </ul>
        </Card>
      )}
      {form && (
        <Card title={form.id ? `Edit ${form.name}` : 'Add a camera'}>
          <form onSubmit={save} className="grid gap-3 sm:grid-cols-2" aria-label="Camera">
            <Field
              label="Name"
              name="name"
              value={form.name}
              onChange={set('name')}
              error={errors.name}
              placeholder="Front door"
            />
            <label className="block text-sm">
              Kind
              <select
                name="kind"
                value={form.kind}
                onChange={(e) => set('kind')(e.target.value)}
                className="mt-1 w-full rounded-md border border-zinc-500/40 bg-transparent px-3 py-2 dark:[color-scheme:dark]"
              >
                <option value="rtsp">RTSP</option>
                <option value="onvif">ONVIF</option>
                <option value="usb">USB</option>
                <option value="file">File (testing)</option>
              </select>
            </label>
            <Field
              label="Main stream URL (recorded)"
              name="recordUrl"
              value={form.recordUrl}
              onChange={set('recordUrl')}
              error={errors.recordUrl}
              placeholder="rtsp://192.168.1.20:554/stream1"
            />
            <Field
              label="Sub stream URL (analysed, optional)"
              name="detectUrl"
              value={form.detectUrl}
              onChange={set('detectUrl')}
              error={errors.detectUrl}
              placeholder="rtsp://192.168.1.20:554/stream2"
            />
            <Field
              label="User name"
              name="username"
              value={form.username}
              onChange={set('username')}
              error={errors.username}
            />
            <Field
              label="Password"
              name="password"
              type="password"
              value={form.password}
              onChange={set('password')}
              error={errors.password}
            />
            <Field
              label="Detection fps"
              name="detectFps"
              type="number"
              value={form.detectFps}
              onChange={set('detectFps')}
              error={errors.detectFps}
            />
            {formError && (
              <p role="alert" className="text-sm text-red-400 sm:col-span-2">
                {formError}
              </p>
            )}
            {preview && <img src={preview} alt="Preview from the camera" className="rounded-md sm:col-span-2" />}
            <div className="flex gap-2 sm:col-span-2">
              <button type="submit" className={`${btn} bg-sky-600 text-white`}>
                Save
              </button>
              <button type="button" onClick={test} disabled={testing} className={`${btn} border border-zinc-500/40`}>
                {testing ? 'Testing…' : 'Test connection'}
              </button>
              <button type="button" onClick={() => setForm(null)} className={btn}>
                Cancel
              </button>
            </div>
          </form>
        </Card>
      )}
      {cameras?.length === 0 && !form && (
        <p className="text-zinc-400">No cameras yet — Discover, or Add camera with its RTSP address.</p>
      )}
      <ul className="grid gap-3 md:grid-cols-2">
        {cameras?.map((c) => {
          const rt = c.runtime;
          const status = rt?.status ?? c.health.status;
          return (
            <li
              key={c.id}
              data-testid={`camera-${c.id}`}
              className="rounded-xl border border-zinc-500/20 dark:bg-zinc-900 bg-white p-3"
            >
              <div className="flex items-start justify-between gap-2">
                <div className="min-w-0">
                  <p className="font-medium">{c.name}</p>
                  <p className="truncate text-xs text-zinc-400">{c.recordUrl}</p>
                </div>
                <span
                  data-testid={`status-${c.id}`}
                  className={`shrink-0 rounded px-2 py-0.5 text-xs text-white ${status === 'online' ? 'bg-emerald-700' : status === 'connecting' ? 'bg-amber-600' : 'bg-red-700'}`}
                >
                  {status}
                </span>
              </div>
              <p className="mt-2 text-xs text-zinc-400">
                {rt?.inputFps ?? 0} fps · last seen{' '}
                {rt?.lastSeen ? new Date(rt.lastSeen).toLocaleTimeString() : 'never'} · {rt?.reconnects ?? 0} reconnects
              </p>
              {(rt?.lastError ?? c.health.lastError) && status !== 'online' && (
                <p className="mt-1 text-xs text-red-400">{rt?.lastError ?? c.health.lastError}</p>
              )}
              <div className="mt-2">
                <LearnNormal cameraId={c.id} />
              </div>
              <div className="mt-2 flex gap-2">
                <button
                  type="button"
                  className={`${btn} border border-zinc-500/40`}
                  onClick={() =>
                    setForm({
                      ...empty,
                      id: c.id,
                      name: c.name,
                      kind: c.kind,
                      recordUrl: c.recordUrl.includes('***@') ? '' : c.recordUrl,
                      detectUrl: c.detectUrl && !c.detectUrl.includes('***@') ? c.detectUrl : '',
                      detectFps: c.detectFps,
                    })
                  }
                >
                  Edit
                </button>
                <button
                  type="button"
                  aria-label={`Remove ${c.name}`}
                  className={`${btn} border border-zinc-500/40`}
                  onClick={() => remove(c)}
                >
                  <Trash2 size={16} />
                </button>
              </div>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
