// A damaged database (a bad sector, a torn write on a full disk, a hand edit) must not cost the whole history, nor
// stop the appliance: at open the file is checked (PRAGMA quick_check); when it is damaged, every row that can
// still be read is copied into a new file with the current schema, the damaged file is kept beside it for the
// owner, and what happened is reported (log, status) rather than thrown.
import { existsSync, renameSync } from 'node:fs';

import Database from 'better-sqlite3';

import type { Db } from './db.ts';

export interface DatabaseHealth {
  ok: boolean;
  /** What quick_check (or opening) said, at most 20 lines. */
  problems: string[];
  /** When damaged: rows copied per table, the rows that could not be read, and where the damaged file is kept. */
  salvage?: { rows: Record<string, number>; unreadable: Record<string, number>; damagedCopy: string };
}

const health = new WeakMap<Db, DatabaseHealth>();

/** What the check at open found for this database (ok when it was not checked). */
export function databaseHealth(db: Db): DatabaseHealth {
  return health.get(db) ?? { ok: true, problems: [] };
}

export function setDatabaseHealth(db: Db, h: DatabaseHealth): void {
  health.set(db, h);
}

/** The check: [] when the file is sound. Throws when it is not a database at all (SQLITE_NOTADB). */
export function quickCheck(db: Db): string[] {
  const rows = db.pragma('quick_check(20)', { simple: false }) as { quick_check: string }[];
  const lines = rows.map((r) => r.quick_check);
  return lines.length === 1 && lines[0] === 'ok' ? [] : lines;
}

export const isCorruption = (err: unknown) =>
  /^SQLITE_(CORRUPT|NOTADB)/.test(String((err as { code?: string })?.code ?? ''));

/**
 * Moves the damaged file (and its WAL) aside and builds a new one at `path` with `migrations`, copying every row
 * each table of the new schema can take from the old one, row by row so that a bad page loses only its own rows.
 */
export function salvageDatabase(
  path: string,
  problems: string[],
  open: (path: string) => Db,
): { db: Db; health: DatabaseHealth } {
  const damagedCopy = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(path, damagedCopy);
  for (const ext of ['-wal', '-shm']) if (existsSync(path + ext)) renameSync(path + ext, damagedCopy + ext);
  const db = open(path);
  const rows: Record<string, number> = {};
  const unreadable: Record<string, number> = {};
  let old: Database.Database | null = null;
  try {
    old = new Database(damagedCopy, { readonly: true, fileMustExist: true });
  } catch {
    old = null; // not even a database: nothing to copy
  }
  if (old) {
    db.pragma('foreign_keys = OFF'); // rows come table by table, and a parent may be among the lost
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .pluck()
      .all() as string[];
    for (const table of tables) {
      const columns = (db.pragma(`table_info("${table}")`) as { name: string }[]).map((c) => c.name);
      let oldColumns: string[];
      try {
        oldColumns = (old.pragma(`table_info("${table}")`) as { name: string }[]).map((c) => c.name);
      } catch {
        continue; // the schema page itself is gone
      }
      const shared = columns.filter((c) => oldColumns.includes(c));
      if (!shared.length) continue;
      const list = shared.map((c) => `"${c}"`).join(', ');
      const insert = db.prepare(
        `INSERT OR IGNORE INTO "${table}" (${list}) VALUES (${shared.map(() => '?').join(', ')})`,
      );
      rows[table] = 0;
      // Rows in rowid order; a damaged page ends the scan, so the scan restarts past it in steps.
      const copy = db.transaction((batch: unknown[][]) => {
        for (const r of batch) rows[table] = (rows[table] ?? 0) + insert.run(...r).changes;
      });
      let after = Number.MIN_SAFE_INTEGER;
      let misses = 0;
      for (let guard = 0; guard < 100_000 && misses < 64; guard++) {
        const batch: unknown[][] = [];
        let last = after;
        try {
          const it = old
            .prepare(`SELECT rowid AS __r, ${list} FROM "${table}" WHERE rowid > ? ORDER BY rowid`)
            .raw()
            .iterate(after) as IterableIterator<unknown[]>;
          for (const r of it) {
            last = Number(r[0]);
            batch.push(r.slice(1));
            if (batch.length >= 500) break;
          }
          copy(batch);
          if (batch.length < 500) break;
          after = last;
        } catch {
          copy(batch);
          unreadable[table] = (unreadable[table] ?? 0) + 1;
          misses++;
          // Skip ahead past the bad page (every table here has a rowid): a growing step until a scan reads again.
          after = (last === after ? after : last) + 64 * misses;
        }
      }
    }
    old.close();
    db.pragma('foreign_keys = ON');
  }
  return { db, health: { ok: false, problems, salvage: { rows, unreadable, damagedCopy } } };
}
