import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decidePause } from '../../src/service/verification-schedules';
import {
  formatDuration,
  PAUSED_WHILE_STOPPED_NOTE,
  parseDuration,
  scheduledVerificationId,
} from '../../src/verification/schedule-contract';

test('schedule durations: units d, h, m, s in that order; anything else is not a duration', () => {
  assert.equal(parseDuration('6h'), 6 * 3_600_000);
  assert.equal(parseDuration('30m'), 30 * 60_000);
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.equal(parseDuration('1h30m'), 90 * 60_000);
  assert.equal(parseDuration('1d2h3m4s'), 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4_000);
  for (const bad of ['', 'h', '6', '6x', '30m1h', '6 h', '-1h', '1.5h', '6H'])
    assert.equal(parseDuration(bad), undefined, bad);
  assert.equal(formatDuration(90 * 60_000), '1h30m');
  assert.equal(formatDuration(86_400_000 + 4_000), '1d4s');
});

test('a scheduled run’s verification id comes from the time in its workflow id, in the shape of any verification id', () => {
  const id = scheduledVerificationId('orders', 'verification-scheduled:orders-2026-12-06T19:00:05Z');
  assert.equal(id, `orders.verify-${(Date.parse('2026-12-06T19:00:05Z') / 1000).toString(16)}`);
  assert.match(id ?? '', /^orders\.verify-[0-9a-f]+$/);
  assert.equal(scheduledVerificationId('orders', 'verification-scheduled:orders'), undefined);
});

test('a schedule runs while its pipeline runs, pauses while it is stopped, and keeps a pause by request', () => {
  const stoppedPause = { paused: true, note: PAUSED_WHILE_STOPPED_NOTE };
  const requested = { paused: true, note: 'paused by request' };
  assert.equal(decidePause(undefined, true, undefined).paused, false);
  assert.deepEqual(decidePause(undefined, false, undefined), stoppedPause);
  assert.equal(decidePause(undefined, true, stoppedPause).paused, false);
  assert.deepEqual(decidePause(undefined, true, requested), requested);
  assert.deepEqual(decidePause(undefined, false, requested), requested);
  assert.equal(decidePause(false, false, requested).paused, false);
  assert.deepEqual(decidePause(true, true, undefined), requested);
});
