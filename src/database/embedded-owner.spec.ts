import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  claimEmbeddedDir,
  EmbeddedDatabaseInUseError,
  EmbeddedOwner,
  ownerFilePath,
  processStartTime,
} from './embedded-owner';

/** A pid no process has: one that just exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid;
}

describe(claimEmbeddedDir.name, () => {
  let dir: string;
  let dataDir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'embedded-owner-'));
    dataDir = join(dir, 'postgres');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const writeOwner = (owner: Partial<EmbeddedOwner>): void =>
    writeFileSync(ownerFilePath(dataDir), JSON.stringify({ token: 'theirs', ...owner }));
  const readOwner = (): EmbeddedOwner =>
    JSON.parse(readFileSync(ownerFilePath(dataDir), 'utf8')) as EmbeddedOwner;

  it('should write this process as the owner and remove the file on release', () => {
    const sut = claimEmbeddedDir(dataDir);
    expect(readOwner()).toMatchObject({ pid: process.pid, startTime: processStartTime(process.pid) });
    expect(sut.held()).toBe(true);
    sut.release();
    expect(existsSync(ownerFilePath(dataDir))).toBe(false);
  });

  it('should refuse a directory a live process owns, naming the directory and its pid', () => {
    writeOwner({ pid: process.ppid, startTime: processStartTime(process.ppid) });
    expect(() => claimEmbeddedDir(dataDir)).toThrow(EmbeddedDatabaseInUseError);
    expect(() => claimEmbeddedDir(dataDir)).toThrow(
      `${dataDir} belongs to a running process (pid ${process.ppid})`,
    );
    expect(readOwner().token).toBe('theirs');
  });

  it('should refuse a second claim from the same process', () => {
    const first = claimEmbeddedDir(dataDir);
    expect(() => claimEmbeddedDir(dataDir)).toThrow(EmbeddedDatabaseInUseError);
    expect(first.held()).toBe(true);
  });

  it('should take over from an owner that is gone (killed with SIGKILL)', () => {
    writeOwner({ pid: deadPid() });
    const sut = claimEmbeddedDir(dataDir);
    expect(readOwner().pid).toBe(process.pid);
    expect(sut.held()).toBe(true);
  });

  it('should take over when the owner pid now belongs to another process (pid reused)', () => {
    writeOwner({ pid: process.ppid, startTime: '1' });
    claimEmbeddedDir(dataDir);
    expect(readOwner().pid).toBe(process.pid);
  });

  it('should take over an unreadable owner file', () => {
    writeFileSync(ownerFilePath(dataDir), '');
    claimEmbeddedDir(dataDir);
    expect(readOwner().pid).toBe(process.pid);
  });

  it("should not remove another claim's file on release", () => {
    const stale = claimEmbeddedDir(dataDir);
    writeOwner({ pid: process.ppid });
    stale.release();
    expect(readOwner().token).toBe('theirs');
  });
});
