import { Camera as CameraIcon, Download, UploadCloud } from 'lucide-react';
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

interface Upload {
  uploadId: string;
  name: string;
  images: number;
  bytes: number;
  state: 'queued' | 'stored' | 'refused';
  datasetId: string | null;
  message: string | null;
  queuedAt: string;
}

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
  const { data: uploads, reload: reloadUploads } = usePoll(
    () => api<{ uploads: Upload[] }>('GET /datasets/uploads'),
    3000,
  );
  const send = async () => {
    setErr(undefined);
    try {
      await api('POST /datasets/upload', { body: { name: `dataset ${new Date().toLocaleString()}` } });
    } catch (e) {
      setErr(e);
    }
    reloadUploads();
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
          <button
            type="button"
            onClick={send}
            disabled={!shots?.length}
            data-testid="dataset-send"
            title="Your server trains the camera's anomaly model from the images labelled normal (they are the only clear pictures it keeps; delete them there when done)"
            className="inline-flex items-center gap-1 rounded-md border border-zinc-500/40 px-3 py-1.5 text-sm disabled:opacity-40"
          >
            <UploadCloud size={16} /> Send for training
          </button>
          <span className="self-center text-sm text-zinc-400">
            {[...counts.entries()].map(([k, v]) => `${v} ${k}`).join(' · ')}
          </span>
        </div>
      </Card>
      <ErrorNote error={error ?? err} />
      {!!uploads?.uploads.length && (
        <Card title="Sent to your server">
          <ul className="space-y-1 text-sm" data-testid="dataset-uploads">
            {uploads.uploads.map((u) => (
              <li key={u.uploadId}>
                {u.name}: {u.images} images, {(u.bytes / 1e6).toFixed(1)} MB —{' '}
                <span
                  className={
                    u.state === 'refused' ? 'text-red-400' : u.state === 'stored' ? 'text-emerald-400' : 'text-zinc-400'
                  }
                >
                  {u.state === 'stored'
                    ? 'stored on the server'
                    : u.state === 'refused'
                      ? `refused: ${u.message}`
                      : 'queued (goes when the link is up)'}
                </span>
              </li>
            ))}
          </ul>
        </Card>
      )}
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
