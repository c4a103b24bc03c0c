// SQLite (the edge's database and the VM's embedded one): WAL, versioned migrations applied in order at open.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import Database from 'better-sqlite3';

import { isCorruption, quickCheck, salvageDatabase, setDatabaseHealth } from './db-integrity.ts';

export type Db = Database.Database;

/** One step of a schema: append new ones; never edit one that has shipped. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Opens (creating) and migrates a database. A damaged file is checked, salvaged into a new one and reported
 * (databaseHealth(db)), never thrown: the appliance keeps running on what could be read.
 */
export function openDatabase(path: string, migrations: readonly Migration[]): Db {
  if (path === ':memory:') return openChecked(path, migrations);
  mkdirSync(dirname(path), { recursive: true });
  let problems: string[];
  try {
    const db = openChecked(path, migrations);
    problems = quickCheck(db);
    if (!problems.length) return db;
    db.close();
  } catch (err) {
    if (!isCorruption(err)) throw err;
    problems = [(err as Error).message];
  }
  const { db, health } = salvageDatabase(path, problems, (p) => openChecked(p, migrations));
  setDatabaseHealth(db, health);
  return db;
}

function openChecked(path: string, migrations: readonly Migration[]): Db {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL'); // safe with WAL: a crash loses at most the last transactions, never corrupts
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // better-sqlite3 builds SQLite with a 16 MB page cache per connection, which fills as the database grows: the
    // main process's RSS rose by that much over the first hours of a soak (malloc in use, not the JS heap). 4 MB
    // keeps the hot pages (indexes, recent rows); the rest comes from the kernel's page cache of the file.
    db.pragma('cache_size = -4000');
    migrate(db, migrations);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Applies every migration newer than the database's user_version, each in its own transaction. */
export function migrate(db: Db, migrations: readonly Migration[]): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  if (current > latest)
    throw new Error(`database schema version ${current} is newer than this Guardian (${latest}); upgrade Guardian`);
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return latest;
}
