import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';

/**
 * Which process runs the embedded PostgreSQL of a data directory: the owner file `<dataDir>.owner`, next to
 * the directory (initdb wants the directory itself empty). See docs/operating.md, "The embedded database".
 */
export interface EmbeddedOwner {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot): tells a reused pid from the owner. */
  startTime?: string;
  /** Random per claim: only the claim that wrote the file removes it. */
  token: string;
}

/** Another live process runs the embedded PostgreSQL of this data directory. */
export class EmbeddedDatabaseInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
  ) {
    super(
      `the embedded PostgreSQL under ${dataDir} belongs to a running process (pid ${ownerPid}): stop it first, or give this one another DATABASE_EMBEDDED_DIR or a DATABASE_URL`,
    );
    this.name = 'EmbeddedDatabaseInUseError';
  }
}

export function ownerFilePath(dataDir: string): string {
  return `${dataDir}.owner`;
}

/** The start time of a process (Linux /proc), undefined where /proc is not readable. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, the fields after the last ')' do not.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The owner is still running: its pid is alive and, where /proc tells, started when the owner did. */
export function isOwnerAlive(owner: EmbeddedOwner): boolean {
  if (!pidAlive(owner.pid)) {
    return false;
  }
  const startTime = processStartTime(owner.pid);
  return owner.startTime === undefined || startTime === undefined || startTime === owner.startTime;
}

/** The owner file's content; `null` when missing, `undefined` when unreadable as an owner (left over). */
function readOwner(path: string): EmbeddedOwner | null | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return null;
    }
    throw err;
  }
  try {
    const owner = JSON.parse(text) as Partial<EmbeddedOwner>;
    return Number.isInteger(owner.pid) && typeof owner.token === 'string'
      ? (owner as EmbeddedOwner)
      : undefined;
  } catch {
    return undefined;
  }
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Creates `path` with `content`, failing with EEXIST when it exists; never leaves a half-written file. */
function createExclusive(path: string, content: string, token: string): void {
  const tmp = `${path}.${token}.tmp`;
  writeFileSync(tmp, content, { mode: 0o644 });
  try {
    linkSync(tmp, path);
  } catch (err) {
    if (errorCode(err) === 'EEXIST') {
      throw err;
    }
    // A file system without hard links: an exclusive create (a reader may then see it empty for an instant).
    writeFileSync(path, content, { flag: 'wx', mode: 0o644 });
  } finally {
    unlinkSync(tmp);
  }
}

/** This process's claim on an embedded data directory. */
export class EmbeddedDirClaim {
  constructor(
    readonly path: string,
    private readonly token: string,
  ) {}

  /** The owner file still names this claim. */
  held(): boolean {
    return readOwner(this.path)?.token === this.token;
  }

  /** Removes the owner file if it is still this claim's (synchronous: usable in a process `exit` hook). */
  release(): void {
    try {
      if (this.held()) {
        unlinkSync(this.path);
      }
    } catch {
      // already gone, or unreadable: nothing of ours to remove
    }
  }
}

const CLAIM_ATTEMPTS = 3;

function sameOwner(a: EmbeddedOwner | null | undefined, b: EmbeddedOwner | undefined): boolean {
  return a === b || (!!a && !!b && a.token === b.token);
}

/**
 * Claims `dataDir` for this process: creates its owner file, or replaces one whose process is gone (a run
 * killed with SIGKILL). Throws EmbeddedDatabaseInUseError when a live process owns it.
 */
export function claimEmbeddedDir(dataDir: string): EmbeddedDirClaim {
  const path = ownerFilePath(dataDir);
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    const token = randomBytes(8).toString('hex');
    const owner: EmbeddedOwner = { pid: process.pid, startTime: processStartTime(process.pid), token };
    try {
      createExclusive(path, `${JSON.stringify(owner)}\n`, token);
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') {
        throw err;
      }
      const current = readOwner(path);
      if (current && isOwnerAlive(current)) {
        throw new EmbeddedDatabaseInUseError(dataDir, current.pid);
      }
      if (current !== null && sameOwner(readOwner(path), current)) {
        // left over by a process that is gone: remove it and try again
        try {
          unlinkSync(path);
        } catch (unlinkErr) {
          if (errorCode(unlinkErr) !== 'ENOENT') {
            throw unlinkErr;
          }
        }
      }
      continue;
    }
    const claim = new EmbeddedDirClaim(path, token);
    if (claim.held()) {
      return claim;
    }
  }
  throw new Error(`could not claim the embedded PostgreSQL under ${dataDir} (${path} keeps changing)`);
}
