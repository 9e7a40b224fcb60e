/** Secret files refuse modes that give every user access (issue #15, exposure). */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretFileModeError, kafkaTlsOptions, readSecretFileSync } from '../src';

describe('secret files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rt-secret-'));
  const key = join(dir, 'client.key');
  const secret = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ib2R5\n-----END PRIVATE KEY-----\n';
  writeFileSync(key, secret);

  for (const [mode, ok] of [
    [0o600, true],
    [0o640, true],
    [0o400, true],
    [0o644, false],
    [0o604, false],
    [0o602, false],
    [0o666, false],
  ] as const)
    it(`mode 0${mode.toString(8)}: ${ok ? 'read' : 'refused, naming the file and the mode, not the content'}`, () => {
      chmodSync(key, mode);
      if (ok) assert.equal(readSecretFileSync(key, 'test key').toString(), secret);
      else
        assert.throws(
          () => readSecretFileSync(key, 'test key'),
          (e: unknown) =>
            e instanceof SecretFileModeError &&
            e.code === 'RT_ERR_SECRET_FILE_MODE' &&
            e.message.includes(key) &&
            e.message.includes(`mode 0${mode.toString(8)}`) &&
            !e.message.includes('c2VjcmV0LWtleS1ib2R5'),
        );
    });

  it('Kafka tls.keyFile goes through the same check', () => {
    chmodSync(key, 0o644);
    assert.throws(
      () => kafkaTlsOptions({ tls: { keyFile: key, certFile: key } }),
      /Kafka tls\.keyFile .*client\.key is accessible by every user \(mode 0644\)/,
    );
    chmodSync(key, 0o600);
    assert.equal(
      (kafkaTlsOptions({ tls: { keyFile: key, certFile: key } })!.key as Buffer).toString(),
      secret,
    );
  });
});
