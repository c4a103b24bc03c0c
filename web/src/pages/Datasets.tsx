import { Camera as CameraIcon, Download } from 'lucide-react';
import { useState } from 'react';

import { api, type Camera, url } from '../api.ts';
import { Card, ErrorNote } from '../components/Layout.tsx';
import { usePoll } from '../router.ts';

interface Shot {
  id: string;
  cameraId: string;
  label: string;
  takenMs: number;
}

const LABELS = ['unlabelled', 'normal', 'abnormal'];

export function Datasets() {
  const { data: cameras } = usePoll(() => api<Camera[]>('GET /cameras'), 0);
  const { data: shots, error, reload } = usePoll(() => api<Shot[]>('GET /screenshots'), 0);
  const [camera, setCamera] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>();
  const capture = async () => {
    const id = camera || cameras?.[0]?.id;
    if (!id) return;
    setBusy(true);
    try {
      await api('POST /cameras/:id/screenshots', { id, body: {} });
      reload();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const label = async (s: Shot, l: string) => {
    await api('PUT /screenshots/:id', { id: s.id, body: { label: l } });
    reload();
  };
  const counts = new Map<string, number>();
  for (const s of shots ?? []) counts.set(s.label, (counts.get(s.label) ?? 0) + 1);
  return (
    <div className="space-y-4">
      <h1 className="text-lg font-semibold">Datasets</h1>
      <Card title="Teach Guardian what is normal for each camera">
        <p className="mb-3 text-sm text-zinc-400">
          Capture frames, label them normal or abnormal (or a label of your own), and export the dataset; your server
          trains the camera's anomaly model from it.
        </p>
        <div className="flex flex-wrap gap-2">
          <select
            aria-label="Camera"
            value={camera}
            onChange={(e) => setCamera(e.target.value)}
            className="rounded-md border border-zinc-500/40 bg-transparent px-2 py-1.5 text-sm dark:[color-scheme:dark]"
          >
            {cameras?.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
          <button
            type="button"
            onClick={capture}
            disabled={busy || !cameras?.length}
            className="inline-flex items-center gap-1 rounded-md bg-sky-600 px-3 py-1.5 text-sm text-white disabled:opacity-40"
          >
            <CameraIcon size={16} /> {busy ? 'Capturing…' : 'Capture screenshot'}
          </button>
          <a
            href={url('GET /datasets/export.zip')}
            className="inline-flex items-center gap-1 rounded-md border border-zinc-500/40 px-3 py-1.5 text-sm"
          >
            <Download size={16} /> Export dataset
          </a>
          <span className="self-center text-sm text-zinc-400">
            {[...counts.entries()].map(([k, v]) => `${v} ${k}`).join(' · ')}
          </span>
        </div>
      </Card>
      <ErrorNote error={error ?? err} />
      <ul className="grid grid-cols-2 gap-3 md:grid-cols-4">
        {shots?.map((s) => (
          <li
            key={s.id}
            data-testid="screenshot"
            className="rounded-xl border border-zinc-500/20 dark:bg-zinc-900 bg-white p-2"
          >
            <img
              loading="lazy"
              src={url('GET /screenshots/:id/image', { id: s.id })}
              alt={`Screenshot ${s.label}`}
              className="rounded-md"
            />
            <div className="mt-2 flex flex-wrap gap-1">
              {LABELS.map((l) => (
                <button
                  key={l}
                  type="button"
                  aria-pressed={s.label === l}
                  onClick={() => label(s, l)}
                  className={`rounded-full px-2 py-0.5 text-xs ${s.label === l ? (l === 'abnormal' ? 'bg-red-700 text-white' : 'bg-sky-600 text-white') : 'border border-zinc-500/40'}`}
                >
                  {l}
                </button>
              ))}
              <input
                aria-label="Custom label"
                placeholder="custom"
                className="w-20 rounded-full border border-zinc-500/40 bg-transparent px-2 text-xs"
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && /^[a-z0-9_-]{1,32}$/.test(e.currentTarget.value))
                    void label(s, e.currentTarget.value);
                }}
              />
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}
