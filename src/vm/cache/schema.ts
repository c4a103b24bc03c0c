// The user VM's database (Step 2.1.3.1 of the original plan): event cache, edge registry, model catalog, training
// datasets, archive objects and a telemetry buffer. Versioned like the edge's migrations.
import type { Migration } from '../../shared/db.ts';

export const vmMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'vm cache',
    sql: `
      CREATE TABLE edges (
        edge_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        wireguard_public_key TEXT UNIQUE,
        credential_hash TEXT,               -- sha256 of the edge's own credential
        tunnel_address TEXT,
        version TEXT,
        cameras TEXT NOT NULL DEFAULT '[]', -- JSON, as announced in hello
        last_seen INTEGER,
        status TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('unknown', 'healthy', 'unhealthy', 'offline')),
        status_reasons TEXT NOT NULL DEFAULT '[]',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE events (
        event_id TEXT PRIMARY KEY,          -- the ULID made at the edge: replays insert nothing
        edge_id TEXT NOT NULL REFERENCES edges(edge_id),
        camera_id TEXT NOT NULL,
        timestamp INTEGER NOT NULL,         -- start, epoch ms
        end_timestamp INTEGER,
        event_type TEXT NOT NULL,           -- the label: person, car...
        metadata TEXT NOT NULL,             -- the edge's event JSON
        snapshot_path TEXT,
        clip_path TEXT,
        analyzed INTEGER NOT NULL DEFAULT 0,
        severity TEXT NOT NULL DEFAULT 'info',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX events_edge_time ON events (edge_id, timestamp DESC);
      CREATE INDEX events_camera_time ON events (camera_id, timestamp DESC);
      CREATE INDEX events_type_time ON events (event_type, timestamp DESC);
      CREATE TABLE models (
        model_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        type TEXT NOT NULL,
        base_model TEXT,
        training_dataset_id TEXT,
        model_file_path TEXT,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE datasets (
        dataset_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        edge_id TEXT,
        dataset_dir_path TEXT NOT NULL,
        label_counts TEXT NOT NULL DEFAULT '{}',
        total_images INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE archive_objects (        -- the plan's "CID storage": encrypted clips in S3-compatible storage
        object_id TEXT PRIMARY KEY,
        event_id TEXT NOT NULL,
        clip_path TEXT,
        object_key TEXT NOT NULL,
        storage_provider TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        uploaded_at INTEGER NOT NULL,
        retention_until INTEGER
      );
      CREATE TABLE telemetry (
        telemetry_id INTEGER PRIMARY KEY,
        edge_id TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        metrics_json TEXT NOT NULL,
        forwarded INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX telemetry_edge_time ON telemetry (edge_id, timestamp DESC);
    `,
  },
  {
    version: 2,
    name: 'pairings',
    sql: `
      CREATE TABLE pairings (               -- one-time codes issued by \`guardian keys pair\`
        pairing_id TEXT PRIMARY KEY,
        edge_id TEXT NOT NULL,              -- the id the edge will have
        name TEXT NOT NULL,
        token TEXT NOT NULL,                -- HMAC key the edge proves it holds; never sent over the network
        tunnel_address TEXT,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'archive objects',
    sql: `
      -- Version 1's archive_objects was a placeholder nothing wrote; the archive's index replaces it.
      DROP TABLE archive_objects;
      CREATE TABLE archive_objects (        -- encrypted objects the edges uploaded (ciphertext only; no key here)
        edge_id TEXT NOT NULL,
        camera_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('clip', 'snapshot', 'metadata')),
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,               -- of the ciphertext, checked on upload
        state TEXT NOT NULL DEFAULT 'stored' CHECK (state IN ('stored', 'deleting')),
        protected INTEGER NOT NULL DEFAULT 0,
        event_time INTEGER NOT NULL,        -- the event's start (epoch ms): retention and eviction go by it
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        PRIMARY KEY (event_id, kind),
        UNIQUE (bucket, key)
      );
      CREATE INDEX archive_objects_camera_age ON archive_objects (edge_id, camera_id, protected, event_time);
      CREATE INDEX archive_objects_age ON archive_objects (protected, event_time);
    `,
  },
  {
    version: 4,
    name: 'datasets, training jobs, model catalog, deployments',
    sql: `
      -- Version 1's models and datasets were placeholders nothing wrote.
      DROP TABLE models;
      DROP TABLE datasets;
      CREATE TABLE datasets (               -- labelled stills an edge sent for training, checked and extracted
        dataset_id TEXT PRIMARY KEY,
        edge_id TEXT NOT NULL,
        upload_id TEXT NOT NULL,            -- the edge's id of the upload: a replay finds the same dataset
        name TEXT NOT NULL,
        dir TEXT NOT NULL,                  -- under the data dir, named by dataset_id
        bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        images INTEGER NOT NULL,
        label_counts TEXT NOT NULL,         -- {"normal": 120, "abnormal": 3}
        cameras TEXT NOT NULL,              -- ["yard"]
        created INTEGER NOT NULL,
        UNIQUE (edge_id, upload_id)
      );
      CREATE TABLE models (                 -- the catalog: trained here, reported by edges, or shipped detectors
        model_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,                 -- cae, knn-patch, detection
        version INTEGER NOT NULL,
        sha256 TEXT,
        size INTEGER,
        dir TEXT,                           -- under the data dir (models trained here); null for reported ones
        metrics TEXT NOT NULL DEFAULT '{}',
        source TEXT NOT NULL,               -- trained, edge, shipped
        edge_id TEXT,
        camera_id TEXT,
        dataset_id TEXT,
        status TEXT NOT NULL,               -- ready, reported, shipped
        created INTEGER NOT NULL,
        UNIQUE (kind, sha256)
      );
      CREATE TABLE training_jobs (
        job_id TEXT PRIMARY KEY,
        dataset_id TEXT NOT NULL,
        camera_id TEXT,
        kind TEXT NOT NULL,
        options TEXT NOT NULL,              -- {"epochs": 30}
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
        progress TEXT NOT NULL DEFAULT '{}',
        logs TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        model_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL,
        started INTEGER,
        finished INTEGER
      );
      CREATE INDEX training_jobs_state ON training_jobs (state, created);
      CREATE TABLE deployments (            -- what each edge's camera runs, and what was asked of it
        edge_id TEXT NOT NULL,
        camera_id TEXT NOT NULL,
        model_id TEXT,                      -- what was pushed (null: a rollback was asked)
        request_id TEXT,
        state TEXT NOT NULL,                -- pending, rollback-pending, active, failed, rolled_back
        running_kind TEXT,                  -- what the edge says the camera runs now
        running_version INTEGER,
        running_model_id TEXT,
        versions TEXT NOT NULL DEFAULT '[]',
        message TEXT,
        updated INTEGER NOT NULL,
        PRIMARY KEY (edge_id, camera_id)
      );
    `,
  },
];
