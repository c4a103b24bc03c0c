// Issue #20's fault suite: a corrupted SQLite page (a bad sector, a torn write) is detected when the edge starts,
// reported (log, GET /api/status, the dashboard), and everything still readable is kept in a rebuilt database;
// the damaged file stays beside it for the owner. Before, a damaged page either went unnoticed until a query hit
// it (500s) or stopped the edge from starting.
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { type Edge, startEdge } from '../../src/edge/runtime.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { validateConfig } from '../../src/shared/config.ts';
import { databaseHealth, quickCheck } from '../../src/shared/db-integrity.ts';
import { createLogger } from '../../src/shared/log.ts';
import { tempDir } from '../helpers.ts';

const ROWS = 5000;

/** A database with ROWS screenshots rows (about 100 pages), closed and checkpointed. */
function filledDatabase(path: string): void {
  const db = openEdgeDatabase(path);
  const insert = db.prepare('INSERT INTO screenshots (id, camera_id, file, label, taken_ms) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++)
      insert.run(`shot-${String(i).padStart(6, '0')}`, 'porch', `screenshots/${'x'.repeat(60)}-${i}.jpg`, 'normal', i);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** Overwrites one whole page of the file with garbage. */
function smashPage(path: string, page: number): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, page * 4096);
  closeSync(fd);
}

describe('a corrupted database (#20 fault suite)', function () {
  this.timeout(120_000);
  const dir = tempDir('guardian-db-corrupt-');
  after(() => dir.remove());

  it('a smashed table page: detected at open, the readable rows kept in a sound new file, the damaged one kept', () => {
    const path = join(dir.path, 'a', 'guardian.db');
    filledDatabase(path);
    const pages = statSync(path).size / 4096;
    smashPage(path, Math.floor(pages * 0.6));
    const db = openEdgeDatabase(path);
    try {
      const h = databaseHealth(db);
      assert.equal(h.ok, false);
      assert.ok(h.problems.length > 0);
      const kept = db.prepare('SELECT count(*) FROM screenshots').pluck().get() as number;
      assert.ok(kept >= ROWS * 0.9 && kept < ROWS, `kept ${kept} of ${ROWS}`);
      assert.equal(h.salvage?.rows.screenshots, kept);
      assert.deepEqual(quickCheck(db), [], 'the new file is sound');
      assert.ok(h.salvage && existsSync(h.salvage.damagedCopy), 'the damaged file is kept');
      // It works as before: writes, and the schema is current.
      db.prepare(
        "INSERT INTO screenshots (id, camera_id, file, label, taken_ms) VALUES ('new', 'porch', 'f', 'normal', 1)",
      ).run();
      assert.ok((db.pragma('user_version', { simple: true }) as number) >= 5);
    } finally {
      db.close();
    }
    // Opened again, it is sound: no second salvage.
    const again = openEdgeDatabase(path);
    assert.equal(databaseHealth(again).ok, true);
    again.close();
  });

  it('a file that is not a database at all: a fresh one, reported, the old file kept', () => {
    const path = join(dir.path, 'b', 'guardian.db');
    filledDatabase(path);
    smashPage(path, 0);
    const db = openEdgeDatabase(path);
    try {
      const h = databaseHealth(db);
      assert.equal(h.ok, false);
      assert.match(h.problems.join(' '), /not a database|malformed|corrupt/i);
      assert.equal(db.prepare('SELECT count(*) FROM screenshots').pluck().get(), 0);
      assert.ok(readdirSync(join(dir.path, 'b')).some((f) => f.startsWith('guardian.db.damaged-')));
    } finally {
      db.close();
    }
  });

  it('the edge starts on a damaged database and says so in its status', async () => {
    const dataDir = join(dir.path, 'edge');
    filledDatabase(join(dataDir, 'guardian.db'));
    smashPage(join(dataDir, 'guardian.db'), Math.floor(statSync(join(dataDir, 'guardian.db')).size / 4096 / 2));
    let edge: Edge | undefined;
    try {
      edge = await startEdge(validateConfig({ dataDir, http: { host: '127.0.0.1', port: 0 } }), {
        log: createLogger({ level: 'silent' }),
      });
      const auth = { authorization: `Bearer ${edge.ctx.auth.createApiToken('t').token}` };
      const status = (await (await fetch(`${edge.url}/api/status`, { headers: auth })).json()) as {
        database: { ok: boolean; salvage: { rows: Record<string, number>; damagedCopy: string } };
      };
      assert.equal(status.database.ok, false);
      assert.ok((status.database.salvage.rows.screenshots ?? 0) > ROWS * 0.9);
      assert.match(status.database.salvage.damagedCopy, /^guardian\.db\.damaged-/, 'a file name, not a path');
      const shots = await fetch(`${edge.url}/api/screenshots`, { headers: auth });
      assert.equal(shots.status, 200);
    } finally {
      await edge?.stop();
    }
  });
});
