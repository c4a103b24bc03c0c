// Schema of the edge database. Append new migrations; never edit one that has shipped.
import { type Db, type Migration, openDatabase } from '../shared/db.ts';

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
  {
    version: 3,
    name: 'events, outbox, auth, screenshots',
    sql: `
      CREATE TABLE events (
        id TEXT PRIMARY KEY,                -- ULID made at the edge
        camera_id TEXT NOT NULL,
        track_id INTEGER NOT NULL,
        label TEXT NOT NULL,
        labels TEXT NOT NULL,               -- JSON array of labels seen
        zones TEXT NOT NULL DEFAULT '[]',   -- JSON array of zone names entered
        start_ms INTEGER NOT NULL,
        end_ms INTEGER,                     -- NULL while the event is in progress
        max_score REAL NOT NULL,
        mean_score REAL NOT NULL,
        detections INTEGER NOT NULL,
        box_path TEXT NOT NULL,             -- JSON [[t_ms, x1, y1, x2, y2], ...]
        snapshot TEXT,                      -- file names relative to the data dir
        snapshot_box TEXT,                  -- JSON [x1, y1, x2, y2] of the object in the snapshot
        thumbnail TEXT,
        clip TEXT,
        protected INTEGER NOT NULL DEFAULT 0,
        updated_ms INTEGER NOT NULL
      );
      CREATE INDEX events_start ON events (start_ms DESC, id DESC);
      CREATE INDEX events_camera_start ON events (camera_id, start_ms DESC);
      CREATE INDEX events_label_start ON events (label, start_ms DESC);
      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                 -- event.start | event.update | event.end | archive
        ref TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 5, -- lower is sooner
        payload TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        last_error TEXT,
        created_ms INTEGER NOT NULL
      );
      CREATE INDEX outbox_due ON outbox (priority, next_attempt_ms, id);
      CREATE TABLE users (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_ms INTEGER NOT NULL
      );
      CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,        -- sha256 of the cookie value: a stolen database holds no live session
        user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        expires_ms INTEGER NOT NULL
      );
      CREATE TABLE api_tokens (
        token_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_ms INTEGER NOT NULL
      );
      CREATE TABLE screenshots (
        id TEXT PRIMARY KEY,
        camera_id TEXT NOT NULL,
        file TEXT NOT NULL,
        label TEXT NOT NULL DEFAULT 'unlabelled',
        taken_ms INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'archive uploads',
    sql: `
      CREATE TABLE archive_objects (      -- what of each event is encrypted and on its way to (or at) the owner's server
        event_id TEXT NOT NULL,
        kind TEXT NOT NULL,               -- clip, snapshot, metadata
        state TEXT NOT NULL,              -- queued, stored
        file TEXT,                        -- the encrypted copy waiting to be uploaded (relative to the data dir)
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (event_id, kind)
      );
    `,
  },
  {
    version: 5,
    name: 'API tokens that can be listed, scoped, expired and revoked',
    sql: `
      ALTER TABLE api_tokens ADD COLUMN id TEXT;
      UPDATE api_tokens SET id = lower(hex(randomblob(8)));
      CREATE UNIQUE INDEX api_tokens_id ON api_tokens (id);
      ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';  -- admin: everything; read: GET only
      ALTER TABLE api_tokens ADD COLUMN expires_ms INTEGER;                   -- null: until revoked
      ALTER TABLE api_tokens ADD COLUMN last_used_ms INTEGER;
    `,
  },
  {
    version: 6,
    name: 'camera credentials sealed',
    sql: `
      -- 1: username and password are AES-256-GCM sealed (src/edge/cameras/secrets.ts, key in
      -- camera-credentials.key beside this file); 0: plaintext from before, sealed by the registry when it opens.
      ALTER TABLE camera_credentials ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 7,
    name: 'alerts, their delivery per channel, and browsers subscribed to push',
    sql: `
      CREATE TABLE alerts (
        id TEXT PRIMARY KEY,             -- ULID: sorts by time
        incident TEXT NOT NULL,          -- camera, label and severity: alerts of one incident are grouped
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        camera_id TEXT,
        title TEXT NOT NULL,
        message TEXT NOT NULL,
        labels TEXT NOT NULL,            -- JSON arrays
        zones TEXT NOT NULL,
        event_ids TEXT NOT NULL,
        created_ms INTEGER NOT NULL
      );
      CREATE INDEX alerts_created ON alerts (created_ms);
      CREATE TABLE alert_deliveries (
        alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
        channel TEXT NOT NULL,
        state TEXT NOT NULL,             -- pending, sent, failed
        attempts INTEGER NOT NULL DEFAULT 0,
        next_ms INTEGER NOT NULL,
        last_error TEXT,
        sent_ms INTEGER,
        PRIMARY KEY (alert_id, channel)
      );
      CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_ms);
      CREATE TABLE push_subscriptions (
        endpoint TEXT PRIMARY KEY,
        p256dh TEXT NOT NULL,
        auth TEXT NOT NULL,
        label TEXT NOT NULL,             -- the browser, as the owner would recognise it
        created_ms INTEGER NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: "events' severity and the owner's verdict; what false positives taught the alerts",
    sql: `
      ALTER TABLE events ADD COLUMN severity TEXT;   -- by the alert rules; null: not rated
      ALTER TABLE events ADD COLUMN verdict TEXT;    -- confirmed, false_positive, or null
      CREATE TABLE alert_suppressions (
        id TEXT PRIMARY KEY,
        camera_id TEXT NOT NULL,
        label TEXT NOT NULL,
        zone TEXT NOT NULL,               -- '' : anywhere in the image
        min_score REAL NOT NULL,          -- events of that kind there alert only from this score up
        false_positives INTEGER NOT NULL, -- how many marks raised it
        created_ms INTEGER NOT NULL,
        UNIQUE (camera_id, label, zone)
      );
    `,
  },
  {
    version: 9,
    name: "events' second opinion",
    sql: `
      ALTER TABLE events ADD COLUMN second_opinion TEXT;  -- JSON {verdict, score} of the closer look; null: none
    `,
  },
];

/** The edge's database (one file for the whole edge), migrated to the current schema. */
export function openEdgeDatabase(path: string): Db {
  return openDatabase(path, edgeMigrations);
}
