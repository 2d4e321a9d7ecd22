import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedEventQueue } from '../../src/binlog/replica/event-queue';

function producer() {
  const calls: string[] = [];
  return { calls, pause: () => calls.push('pause'), resume: () => calls.push('resume') };
}

test('pauses the producer at the event high-water mark and resumes once drained to half', async () => {
  const p = producer();
  const q = new BoundedEventQueue<number>({ highWaterEvents: 4, highWaterBytes: 1e9 }, p);
  for (let i = 0; i < 3; i++) q.push(i, 1);
  assert.deepEqual(p.calls, []);
  q.push(3, 1);
  assert.deepEqual(p.calls, ['pause']);
  assert.equal((await q.next()).value, 0);
  assert.deepEqual(p.calls, ['pause'], '3 left: still above half');
  assert.equal((await q.next()).value, 1);
  assert.deepEqual(p.calls, ['pause', 'resume'], '2 left: half of 4');
  assert.equal(q.snapshot().maxLength, 4);
});

test('pauses on bytes as well as on count', () => {
  const p = producer();
  const q = new BoundedEventQueue<string>({ highWaterEvents: 1000, highWaterBytes: 100 }, p);
  q.push('a', 60);
  q.push('b', 60);
  assert.deepEqual(p.calls, ['pause']);
  assert.equal(q.snapshot().bytes, 120);
});

test('a waiting consumer gets the next item directly; items keep their order', async () => {
  const q = new BoundedEventQueue<number>({ highWaterEvents: 2, highWaterBytes: 1e9 }, producer());
  const first = q.next();
  q.push(1, 1);
  q.push(2, 1);
  q.push(3, 1);
  assert.equal((await first).value, 1);
  assert.equal((await q.next()).value, 2);
  assert.equal((await q.next()).value, 3);
});

test('a failure is delivered after the items queued before it; abort ends a waiting consumer', async () => {
  const q = new BoundedEventQueue<number>({ highWaterEvents: 10, highWaterBytes: 1e9 }, producer());
  q.push(1, 1);
  q.fail(new Error('connection lost'));
  q.push(2, 1);
  assert.equal((await q.next()).value, 1);
  await assert.rejects(q.next(), /connection lost/);
  const q2 = new BoundedEventQueue<number>({ highWaterEvents: 10, highWaterBytes: 1e9 }, producer());
  const waiting = q2.next();
  q2.abort();
  assert.equal((await waiting).done, true);
});

test('resuming may push items synchronously (mysql2 replays paused packets); the consumer still gets them', async () => {
  let q!: BoundedEventQueue<number>;
  const replay: number[] = [];
  q = new BoundedEventQueue<number>(
    { highWaterEvents: 2, highWaterBytes: 1e9 },
    {
      pause: () => {},
      resume: () => {
        for (const v of replay.splice(0)) q.push(v, 1);
      },
    },
  );
  q.push(1, 1);
  q.push(2, 1); // pauses
  replay.push(3, 4);
  assert.equal((await q.next()).value, 1); // 1 left → resume → 3, 4 pushed
  assert.equal((await q.next()).value, 2);
  assert.equal((await q.next()).value, 3);
  assert.equal((await q.next()).value, 4);
});

test('many items through a small queue: never more than the high-water mark waiting', async () => {
  let q!: BoundedEventQueue<number>;
  let paused = false;
  let produced = 0;
  const total = 10000;
  const produce = () => {
    while (!paused && produced < total) q.push(produced++, 10);
    if (produced === total) q.end();
  };
  q = new BoundedEventQueue<number>(
    { highWaterEvents: 64, highWaterBytes: 1e9 },
    {
      pause: () => {
        paused = true;
      },
      resume: () => {
        paused = false;
        setImmediate(produce);
      },
    },
  );
  produce();
  let expect = 0;
  for (;;) {
    const r = await q.next();
    if (r.done) break;
    assert.equal(r.value, expect++);
  }
  assert.equal(expect, total);
  assert.ok(q.snapshot().maxLength <= 64, `max ${q.snapshot().maxLength}`);
  assert.ok(q.snapshot().pauses > 1);
});
