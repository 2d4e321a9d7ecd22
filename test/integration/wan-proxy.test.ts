import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import { startWanProxy } from '../../bench/wan/proxy';

/** The WAN benchmark's proxy must be a faithful pipe: every byte, in order, both ways, under back-pressure. */
test('the WAN proxy forwards every byte in order both ways, with a window far smaller than the data', async () => {
  // An echo server upstream: what goes up through the proxy comes back down through it.
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const upstreamPort = (echo.address() as net.AddressInfo).port;
  const proxy = await startWanProxy({
    listenPort: 0,
    upstreamHost: '127.0.0.1',
    upstreamPort,
    latencyMs: 5,
    bytesPerSecond: 64 * 1024 * 1024,
    windowBytes: 32 * 1024,
  });
  const port = (proxy.server.address() as net.AddressInfo).port;
  try {
    const sent = randomBytes(4 * 1024 * 1024);
    const received = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let length = 0;
      const c = net.connect({ host: '127.0.0.1', port }, () => {
        // Many writes of odd sizes, so chunks are split and queued at arbitrary boundaries.
        for (let at = 0; at < sent.length; at += 7919) c.write(sent.subarray(at, at + 7919));
      });
      c.on('data', (d: Buffer) => {
        chunks.push(d);
        length += d.length;
        if (length >= sent.length) {
          c.end();
          resolve(Buffer.concat(chunks));
        }
      });
      c.on('error', reject);
    });
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    assert.equal(received.length, sent.length);
    assert.equal(digest(received), digest(sent));
    const counted = proxy.counters();
    assert.equal(counted.toUpstream.bytes, sent.length);
    assert.equal(counted.fromUpstream.bytes, sent.length);
  } finally {
    await new Promise<void>((r) => proxy.server.close(() => r()));
    await new Promise<void>((r) => echo.close(() => r()));
  }
});
