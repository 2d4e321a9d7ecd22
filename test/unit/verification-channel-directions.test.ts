import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PipelineRepository } from '../../src/catalog/types';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { channelDirectionOf, channelDirections } from '../../src/service/channel-directions';
import { ServiceError } from '../../src/service/problems';

const pipeline = (name: string, source: string, target: string, channel?: string) =>
  parsePipelineConfig({
    name,
    source,
    target,
    mappings: [{ source: { schema: 'shop', table: 'items' } }],
    ...(channel ? { options: { channel: { id: channel } } } : {}),
  });

/** Only `list` is read. */
function storeOf(...configs: ReturnType<typeof pipeline>[]): PipelineRepository {
  const defs = configs.map((config) => ({ config, version: 1, createdAt: '', updatedAt: '' }));
  return { list: async () => defs } as unknown as PipelineRepository;
}

test('a channel pipeline is verified as one direction when its opposite pipeline is defined', async () => {
  const ab = pipeline('ab', 'a', 'b', 'shop-ab');
  const ba = pipeline('ba', 'b', 'a', 'shop-ab');
  const other = pipeline('ca', 'c', 'a', 'shop-ab'); // same channel id, not the opposite of ab
  const plain = pipeline('plain', 'a', 'b');
  const store = storeOf(ab, other, ba, plain);
  assert.deepEqual(await channelDirectionOf(store, ab), { id: 'shop-ab', peer: 'ba' });
  assert.deepEqual(await channelDirectionOf(store, ba), { id: 'shop-ab', peer: 'ab' });
  assert.equal(await channelDirectionOf(store, plain), undefined, 'no channel: a plain verification');
  assert.equal(await channelDirectionOf(storeOf(ab), ab), undefined, 'no opposite pipeline defined');
  assert.deepEqual(
    (await channelDirections(store, 'shop-ab')).map((c) => c.name),
    ['ab', 'ba'],
  );
});

test('channel directions: a malformed id is a 400, an unknown channel a 404, one without two opposite pipelines a 422', async () => {
  const store = storeOf(pipeline('ab', 'a', 'b', 'one-way'));
  const status = async (id: string) =>
    channelDirections(store, id).then(
      () => 0,
      (err: unknown) => (err instanceof ServiceError ? err.status : -1),
    );
  assert.equal(await status('bad id'), 400);
  assert.equal(await status('*'), 400);
  assert.equal(await status('nosuch'), 404);
  assert.equal(await status('one-way'), 422);
});
