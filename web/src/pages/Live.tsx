import { Maximize2, Pause, Play } from 'lucide-react';
import { useEffect, useRef, useState } from 'react';

import { api, type Camera } from '../api.ts';
import { ErrorNote } from '../components/Layout.tsx';
import { usePoll } from '../router.ts';

interface Latest {
  width: number;
  height: number;
  detections: { label: string; score: number; box: [number, number, number, number] }[];
}

function Tile({ camera }: { camera: Camera }) {
  const [paused, setPaused] = useState(false);
  const [still, setStill] = useState<string>();
  const box = useRef<HTMLDivElement>(null);
  const img = useRef<HTMLImageElement>(null);
  const { data: latest } = usePoll(() => api<Latest | null>(`/cameras/${camera.id}/detections`), paused ? 0 : 1000, [
    camera.id,
    paused,
  ]);
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
      {paused && still ? (
        <img src={still} alt={`${camera.name} (paused)`} className="w-full" />
      ) : (
        <img
          ref={img}
          src={`/api/cameras/${camera.id}/live.mjpeg?fps=4`}
          alt={`${camera.name} live`}
          data-testid={`live-${camera.id}`}
          className="w-full"
          crossOrigin="use-credentials"
        />
      )}
      {latest && !paused && (
        <svg
          className="pointer-events-none absolute inset-0 h-full w-full"
          viewBox={`0 0 ${latest.width} ${latest.height}`}
          preserveAspectRatio="none"
          aria-hidden
        >
          {latest.detections.map((d, i) => (
            <g key={i}>
              <rect
                x={d.box[0]}
                y={d.box[1]}
                width={d.box[2] - d.box[0]}
                height={d.box[3] - d.box[1]}
                fill="none"
                stroke="#38bdf8"
                strokeWidth={Math.max(2, latest.width / 300)}
              />
              <text
                x={d.box[0] + 2}
                y={d.box[1] - 4}
                fill="#38bdf8"
                fontSize={Math.max(12, latest.width / 50)}
              >{`${d.label} ${Math.round(d.score * 100)}%`}</text>
            </g>
          ))}
        </svg>
      )}
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
  const { data: cameras, error } = usePoll(() => api<Camera[]>('/cameras'), 15_000);
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
