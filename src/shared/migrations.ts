// Schema of the edge database. Append new migrations; never edit one that has shipped.
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const edgeMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'cameras',
    sql: `
      CREATE TABLE cameras (
        id TEXT PRIMARY KEY CHECK (id GLOB '[a-z0-9]*' AND length(id) BETWEEN 1 AND 64),
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('rtsp', 'onvif', 'usb', 'file')),
        record_url TEXT NOT NULL,           -- without credentials
        detect_url TEXT,                    -- optional lower-resolution sub stream, without credentials
        snapshot_url TEXT,                  -- optional http(s) snapshot endpoint, without credentials
        enabled INTEGER NOT NULL DEFAULT 1,
        detect_fps REAL NOT NULL DEFAULT 5,
        options TEXT NOT NULL DEFAULT '{}', -- JSON: transport, timeouts, onvif endpoint...
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      -- Credentials live apart from URLs so that nothing that prints a camera can print a password.
      CREATE TABLE camera_credentials (
        camera_id TEXT PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,
        username TEXT NOT NULL,
        password TEXT NOT NULL
      );
      CREATE TABLE camera_status (
        camera_id TEXT PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('disabled', 'connecting', 'online', 'offline', 'error')),
        last_seen INTEGER,
        last_error TEXT,
        last_error_code TEXT,
        reconnects INTEGER NOT NULL DEFAULT 0,
        input_fps REAL,
        bitrate_kbps REAL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'recordings',
    sql: `
      -- One row per finished fragmented-MP4 segment. path is relative to the recordings root.
      CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        camera_id TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        duration REAL NOT NULL,
        bytes INTEGER NOT NULL,
        frames INTEGER NOT NULL,
        -- continuous: kept for the continuous retention; event: overlaps an event; protected: kept by the owner
        retain TEXT NOT NULL DEFAULT 'continuous' CHECK (retain IN ('continuous', 'event', 'protected')),
        created_at INTEGER NOT NULL
      );
      CREATE INDEX segments_camera_start ON segments (camera_id, start_ms);
      CREATE INDEX segments_start ON segments (start_ms);
    `,
  },
];
