import { Maximize2, Pause, Play } from 'lucide-react';
import { useEffect, useRef, useState } from 'react';

import { api, type Camera, type LatestDetections, url } from '../api.ts';
import { ErrorNote } from '../components/Layout.tsx';
import { usePoll } from '../router.ts';

// Boxes older than this are from a scene that stopped moving (the model then runs rarely): not drawn.
const STALE_MS = 15_000;

/** Boxes in frame pixels, drawn in percent of the frame, so they land on the picture whatever size it is shown at. */
function Overlay({ latest }: { latest: LatestDetections }) {
  const { width: w, height: h } = latest;
  const tracks = latest.ageMs < STALE_MS && w > 0 && h > 0 ? latest.detections.filter((d) => d.confirmed) : [];
  return (
    <div className="pointer-events-none absolute inset-0" data-testid="detections">
      {tracks.map((d) => (
        <div
          key={d.trackId}
          data-testid="detection-box"
          className={`absolute border-2 ${d.stationary ? 'border-amber-400' : 'border-sky-400'}`}
          style={{
            left: `${(d.box[0] / w) * 100}%`,
            top: `${(d.box[1] / h) * 100}%`,
            width: `${((d.box[2] - d.box[0]) / w) * 100}%`,
            height: `${((d.box[3] - d.box[1]) / h) * 100}%`,
          }}
        >
          {/* The label sits above the box, or inside it when the box touches the top edge. */}
          <span
            className={`absolute left-0 whitespace-nowrap bg-black/60 px-1 text-xs text-white ${d.box[1] / h < 0.05 ? 'top-0' : '-top-5'}`}
          >
            {`${d.label} ${Math.round(d.score * 100)}%`}
          </span>
        </div>
      ))}
    </div>
  );
}

function Tile({ camera }: { camera: Camera }) {
  const [paused, setPaused] = useState(false);
  const [still, setStill] = useState<string>();
  const box = useRef<HTMLDivElement>(null);
  const img = useRef<HTMLImageElement>(null);
  const { data: latest } = usePoll(
    () => api<LatestDetections | null>('GET /cameras/:id/detections', { id: camera.id }),
    paused ? 0 : 1000,
    [camera.id, paused],
  );
  useEffect(() => {
    // Pausing keeps the last image: copy it to a still before the stream stops.
    if (!paused || !img.current) return;
    const c = document.createElement('canvas');
    c.width = img.current.naturalWidth;
    c.height = img.current.naturalHeight;
    try {
      c.getContext('2d')?.drawImage(img.current, 0, 0);
      setStill(c.toDataURL('image/jpeg'));
    } catch {
      setStill(undefined);
    }
  }, [paused]);
  return (
    <div ref={box} className="relative overflow-hidden rounded-xl border border-zinc-500/20 bg-black">
      {/* The overlay covers exactly the picture: the image is a block (no baseline gap) in its own box. */}
      <div className="relative">
        {paused && still ? (
          <img src={still} alt={`${camera.name} (paused)`} className="block w-full" />
        ) : (
          <img
            ref={img}
            src={url('GET /cameras/:id/live.mjpeg', { id: camera.id, query: { fps: 4 } })}
            alt={`${camera.name} live`}
            data-testid={`live-${camera.id}`}
            className="block w-full"
            crossOrigin="use-credentials"
          />
        )}
        {latest && !paused && <Overlay latest={latest} />}
      </div>
      <div className="absolute inset-x-0 bottom-0 flex items-center justify-between bg-gradient-to-t from-black/80 to-transparent px-3 py-2 text-sm text-white">
        <span>{camera.name}</span>
        <span className="flex gap-1">
          <button
            type="button"
            aria-label={paused ? 'Resume' : 'Pause'}
            onClick={() => setPaused(!paused)}
            className="rounded p-1 hover:bg-white/20"
          >
            {paused ? <Play size={16} /> : <Pause size={16} />}
          </button>
          <button
            type="button"
            aria-label="Fullscreen"
            onClick={() => box.current?.requestFullscreen?.()}
            className="rounded p-1 hover:bg-white/20"
          >
            <Maximize2 size={16} />
          </button>
        </span>
      </div>
    </div>
  );
}

export function Live() {
  const { data: cameras, error } = usePoll(() => api<Camera[]>('GET /cameras'), 15_000);
  return (
    <div className="space-y-4">
      <h1 className="text-lg font-semibold">Live</h1>
      <ErrorNote error={error} />
      {cameras?.length === 0 && (
        <p className="text-zinc-400">
          No cameras yet —{' '}
          <a className="text-sky-400 underline" href="#/cameras">
            add one
          </a>
          .
        </p>
      )}
      <div className="grid gap-4 md:grid-cols-2 xl:grid-cols-3">
        {cameras
          ?.filter((c) => c.enabled)
          .map((c) => (
            <Tile key={c.id} camera={c} />
          ))}
      </div>
    </div>
  );
}
