import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  authenticateToken,
  cliToken,
  devTokensFile,
  ensureDevApiTokens,
  loadApiTokens,
  parseApiTokens,
  sha256,
} from '../../src/service/api-tokens';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-tokens-'));

test('tokens: plain and sha256 entries authenticate to their role; others do not', () => {
  const tokens = parseApiTokens(
    JSON.stringify([
      { name: 'ops', role: 'admin', token: 'admin-token-0123456789' },
      { name: 'viewer', role: 'readonly', sha256: sha256('readonly-token-0123456789').toString('hex') },
    ]),
    'test',
  );
  assert.deepEqual(authenticateToken(tokens, 'admin-token-0123456789'), { name: 'ops', role: 'admin' });
  assert.deepEqual(authenticateToken(tokens, 'readonly-token-0123456789'), {
    name: 'viewer',
    role: 'readonly',
  });
  assert.equal(authenticateToken(tokens, 'admin-token-012345678'), undefined);
  assert.equal(authenticateToken(tokens, ''), undefined);
  assert.equal(authenticateToken([], 'admin-token-0123456789'), undefined);
});

test('tokens: bad documents are refused with the reason', () => {
  assert.throws(() => parseApiTokens('not json', 'F'), /F: not valid JSON/);
  assert.throws(
    () => parseApiTokens('[{"name":"a","role":"root","token":"0123456789abcdef"}]', 'F'),
    /0\.role/,
  );
  assert.throws(() => parseApiTokens('[{"name":"a","role":"admin","token":"short"}]', 'F'), /0\.token/);
  assert.throws(() => parseApiTokens('[{"name":"a","role":"admin"}]', 'F'), /exactly one of token or sha256/);
});

test('tokens: file variable, then inline variable, then the dev file; none → empty', () => {
  const home = tmp();
  assert.deepEqual(loadApiTokens(home, {}).tokens, []);
  const dev = ensureDevApiTokens(home, {});
  assert.equal(dev.created, true);
  assert.equal(dev.file, devTokensFile(home));
  assert.equal(fs.statSync(dev.file).mode & 0o777, 0o600);
  assert.equal(ensureDevApiTokens(home, {}).created, false, 'created once');
  const loaded = loadApiTokens(home, {});
  assert.deepEqual(
    loaded.tokens.map((t) => t.role),
    ['admin', 'readonly'],
  );
  const inline = JSON.stringify([{ name: 'x', role: 'readonly', token: 'inline-token-0123456789' }]);
  assert.equal(loadApiTokens(home, { OTTERFLOW_API_TOKENS: inline }).tokens[0]?.name, 'x');
  const other = path.join(home, 'other.json');
  fs.writeFileSync(other, JSON.stringify([{ name: 'f', role: 'admin', token: 'file-token-0123456789' }]));
  assert.equal(
    loadApiTokens(home, { OTTERFLOW_API_TOKENS_FILE: other, OTTERFLOW_API_TOKENS: inline }).tokens[0]?.name,
    'f',
  );

  // The CLI uses the dev file's admin token unless OTTERFLOW_TOKEN says otherwise.
  const admin = JSON.parse(fs.readFileSync(dev.file, 'utf8'))[0].token as string;
  assert.equal(authenticateToken(loaded.tokens, admin)?.role, 'admin');
  assert.equal(cliToken(home, {}), admin);
  assert.equal(cliToken(home, { OTTERFLOW_TOKEN: 'mine' }), 'mine');
  assert.equal(
    ensureDevApiTokens(tmp(), { OTTERFLOW_API_TOKENS: inline }).created,
    false,
    'configured: no file',
  );
});
