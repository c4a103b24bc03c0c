// Private by default: what Guardian keeps (camera credentials in the database, keys and secrets, snapshots, clips,
// recordings, datasets, archives, its configuration) is readable and writable by its own user only. Three parts:
// a umask of 077 for the processes that write (so every file, FFmpeg's included, is created 0600 and every directory
// 0700); a check of the data directory at startup that fixes what an older version or another tool left open, with a
// warning naming it; and a guard for serving files, so a symbolic link inside the data directory cannot hand out a
// file from elsewhere.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeSync,
} from 'node:fs';
import { chmod, lstat, readdir } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { isMainThread } from 'node:worker_threads';

import { GuardianError } from './errors.ts';
import type { Logger } from './log.ts';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** Group and other bits: any of them set means someone besides the owner may read, write or traverse. */
const OPEN_BITS = 0o077;

/**
 * Files and directories this process creates from now on are private (0600 / 0700), whatever mode the creating call
 * asks for: node's, better-sqlite3's (the database, its -wal and -shm) and FFmpeg's (recordings, clips). The umask
 * is per process and inherited by children (the media process sets it again itself). Worker threads cannot set it,
 * and need not: their process already has it.
 */
export function restrictUmask(): void {
  if (isMainThread) process.umask(0o077);
}

const modeText = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

/** One thing found open to other users, and what it is now. */
export interface PermissionFix {
  path: string;
  kind: 'directory' | 'file';
  was: string;
  now: string;
}

export interface SecureDirReport {
  /** What the synchronous part fixed: the data directory itself and its direct entries. */
  fixed: PermissionFix[];
  /**
   * The rest, in the background: the contents of directories that were open (a tree an older version made under
   * umask 022). A directory that was already private is not descended into: nobody else can reach what is inside it,
   * so years of recordings are never walked at every start. Resolves with what it fixed.
   */
  deep: Promise<{ directories: number; files: number }>;
}

export interface SecureDirOptions {
  log: Logger;
  /**
   * Files outside the data directory that hold secrets: `fix` ones (Guardian's own configuration, a secret it made)
   * are made 0600 when open; the others (a TLS key another service shares, a file the owner manages) are only
   * reported.
   */
  files?: { path: string; fix: boolean }[];
}

/**
 * Makes `root` (created if missing) private and checks what it holds: the directory, every file directly in it (the
 * database and its -wal/-shm, keys, secrets, tokens) and every directory directly in it (snapshots, clips,
 * recordings, screenshots, archive). Open ones are made 0700/0600 with a warning naming each. Refuses a directory that
 * belongs to another user: fixing modes would not make it ours, and that user could swap its contents.
 */
export function secureDataDir(root: string, options: SecureDirOptions): SecureDirReport {
  const { log } = options;
  mkdirSync(root, { recursive: true, mode: PRIVATE_DIR_MODE });
  const top = statSync(root); // the data directory itself may be a symbolic link (to a mount point, say)
  if (!top.isDirectory()) throw new GuardianError('INVALID_ARGUMENT', `the data directory ${root} is not a directory`);
  const uid = process.geteuid?.();
  if (uid !== undefined && top.uid !== uid)
    throw new GuardianError(
      'PERMISSION_DENIED',
      `the data directory ${root} belongs to user ${top.uid}, not to the user Guardian runs as (${uid}): ` +
        `run Guardian as its owner, or give it to this user (chown -R ${uid} ${root})`,
    );
  const fixed: PermissionFix[] = [];
  const tighten = (path: string, st: Stats, kind: PermissionFix['kind']): boolean => {
    if (!(st.mode & OPEN_BITS)) return false;
    const want = kind === 'directory' ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
    const was = modeText(st.mode);
    try {
      chmodSync(path, want);
    } catch (err) {
      log.warn(
        { path, mode: was, error: (err as Error).message },
        `${path} is accessible by other users (mode ${was}) and could not be made private`,
      );
      return false;
    }
    const now = modeText(statSync(path).mode);
    if (Number.parseInt(now, 8) & OPEN_BITS) {
      // vfat, exfat, some network filesystems: modes come from mount options, chmod is accepted and ignored.
      log.warn(
        { path, mode: now },
        `${path} stays accessible by other users (mode ${now}): its filesystem ignores modes; mount it with ` +
          'uid= and umask=077 (or fmask=177,dmask=077), or move the data directory to a Unix filesystem',
      );
      return false;
    }
    fixed.push({ path, kind, was, now });
    log.warn({ path, was, now }, `${path} was accessible by other users (mode ${was}); made private (${now})`);
    return true;
  };

  tighten(root, top, 'directory');
  const open: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch {
      continue; // removed meanwhile
    }
    if (st.isSymbolicLink()) {
      log.info(
        { path },
        `${path} is a symbolic link: its target's modes are not checked, and no file reached through it is served`,
      );
    } else if (st.isDirectory()) {
      if (st.mode & OPEN_BITS) open.push(path);
      tighten(path, st, 'directory');
    } else if (st.isFile()) tighten(path, st, 'file');
  }
  for (const f of options.files ?? []) {
    let st: Stats;
    try {
      st = statSync(f.path);
    } catch {
      continue;
    }
    if (!st.isFile() || !(st.mode & OPEN_BITS)) continue;
    if (f.fix && (uid === undefined || st.uid === uid)) tighten(f.path, st, 'file');
    else
      log.warn(
        { path: f.path, mode: modeText(st.mode) },
        `${f.path} holds a secret and is accessible by other users (mode ${modeText(st.mode)}): chmod 600 it`,
      );
  }

  const deep = (async () => {
    const counts = { directories: 0, files: 0 };
    for (const dir of open) {
      const before = { ...counts };
      await tightenTree(dir, counts);
      const dirs = counts.directories - before.directories;
      const files = counts.files - before.files;
      if (dirs || files)
        log.warn(
          { path: dir, directories: dirs, files },
          `${dirs} directories and ${files} files under ${dir} were accessible by other users; made private`,
        );
    }
    return counts;
  })().catch((err: Error) => {
    log.warn({ path: root, error: err.message }, `could not finish making ${root} private`);
    return { directories: 0, files: 0 };
  });
  return { fixed, deep };
}

/** Everything under `dir` (a directory found open) made private, descending only into directories that were open. */
async function tightenTree(dir: string, counts: { directories: number; files: number }): Promise<void> {
  const stack = [dir];
  for (let d = stack.pop(); d !== undefined; d = stack.pop()) {
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory() && !entry.isFile()) continue; // symbolic links are never followed
      const path = join(d, entry.name);
      const st = await lstat(path).catch(() => null);
      if (!st || !(st.mode & OPEN_BITS)) continue;
      const ok = await chmod(path, st.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE).then(
        () => true,
        () => false,
      );
      if (!ok) continue;
      if (st.isDirectory()) {
        counts.directories++;
        stack.push(path);
      } else counts.files++;
    }
  }
}

/**
 * The real path of `file` when it may be served: a regular file whose real path (every symbolic link resolved) is
 * inside the real data directory. Anything else is NOT_FOUND, the answer for a missing file, so a request cannot
 * tell a refused link from nothing. The real path is returned so that what is sent is what was checked.
 */
export function servableFile(root: string, file: string, log?: Logger): string {
  const notFound = () => new GuardianError('NOT_FOUND', 'no such file');
  let real: string;
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
    real = realpathSync(file);
  } catch {
    throw notFound();
  }
  const inside = real.startsWith(realRoot.endsWith(sep) ? realRoot : `${realRoot}${sep}`);
  let regular = false;
  try {
    regular = inside && statSync(real).isFile();
  } catch {
    throw notFound();
  }
  if (!regular) {
    log?.warn(
      { file: relative(root, file) },
      inside
        ? 'refused to serve a data file that is not a regular file'
        : 'refused to serve a data file that leads outside the data directory (a symbolic link)',
    );
    throw notFound();
  }
  return real;
}

/** Writes `content` to `path` 0600 through a synced temporary file and a rename: a reader sees all of it or none. */
export function writePrivateFile(path: string, content: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', PRIVATE_FILE_MODE);
    try {
      writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
