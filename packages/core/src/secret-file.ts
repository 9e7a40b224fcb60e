/**
 * Files that hold secrets (TLS private keys, API-key and password files, a config with a literal password) must
 * not be readable by every user of the host (issue #15, exposure).
 *
 * The rule: a secret file with any permission for "other" (mode & 0o007) is **refused** with an error naming the
 * file, its mode and the fix; group access is accepted, because sharing a key with a service through its group
 * is the usual setup (Debian's /etc/ssl/private keys are 0640 root:ssl-cert; PostgreSQL accepts 0640 too). A
 * warning would scroll by while the key stays exposed, so it is an error. Secret contents never appear in
 * the message.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';

/** A secret file readable or writable by every user. */
export class SecretFileModeError extends Error {
  override readonly name = 'SecretFileModeError';
  readonly code = 'RT_ERR_SECRET_FILE_MODE';
  constructor(
    readonly path: string,
    readonly mode: number,
    what: string,
  ) {
    super(
      `${what} ${path} is accessible by every user (mode ${modeString(mode)}): it holds a secret; run chmod 600 ${path} (or 640 with a service group)`,
    );
  }
}

function modeString(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/** Throws SecretFileModeError when `st` (of `path`) gives "other" any access. */
export function assertPrivateMode(path: string, st: Pick<Stats, 'mode'>, what: string): void {
  if ((st.mode & 0o007) !== 0) throw new SecretFileModeError(path, st.mode, what);
}

/** Reads a secret file after checking its mode. `what` names it in messages, e.g. `Kafka tls.keyFile`. */
export function readSecretFileSync(path: string, what: string): Buffer {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    throw new Error(`${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  assertPrivateMode(path, st, what);
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}
