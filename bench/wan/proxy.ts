/**
 * A TCP proxy on loopback that behaves like a WAN link: every byte is delayed by a fixed one-way
 * latency in each direction (RTT = 2 × latency), and each direction is a link of capped bandwidth
 * shared by all connections (bytes leave the link no faster than `bytesPerSecond`: a token bucket
 * without burst). This kernel has no `netem`, so the delay is made here, in user space.
 *
 * A reader is paused while more than `windowBytes` of its direction wait in the proxy, as a TCP
 * window would stop the sender; nothing is dropped or reordered.
 *
 * Run as a child process (`node --import tsx bench/wan/proxy.ts '<json options>'`) so its CPU is
 * accounted apart from the benchmark's; it prints `ready <port>` once it listens.
 */
import net from 'node:net';

export interface WanLinkOptions {
  listenPort: number;
  upstreamHost: string;
  upstreamPort: number;
  /** One-way delay per direction, ms. */
  latencyMs: number;
  /** Bandwidth of each direction, bytes per second. */
  bytesPerSecond: number;
  /** Bytes that may wait in one direction of one connection before its reader is paused. */
  windowBytes?: number;
}

/** One direction of the link: a FIFO whose bytes leave at the capped rate, then travel `latencyMs`. */
class Link {
  private busyUntil = 0;
  /** What crossed so far: bytes and chunks (one chunk ≈ one TCP read, about one write of the sender). */
  readonly counted = { bytes: 0, chunks: 0 };
  constructor(
    private readonly latencyMs: number,
    private readonly bytesPerSecond: number,
  ) {}

  /** When bytes handed over now arrive at the far end (ms, performance clock). */
  arrival(bytes: number): number {
    this.counted.bytes += bytes;
    this.counted.chunks++;
    const now = performance.now();
    const sent = Math.max(now, this.busyUntil) + (bytes * 1000) / this.bytesPerSecond;
    this.busyUntil = sent;
    return sent + this.latencyMs;
  }
}

/** Forwards `from` → `to` through `link`, keeping order. */
function pipeThrough(from: net.Socket, to: net.Socket, link: Link, windowBytes: number): void {
  const queue: { data: Buffer; at: number }[] = [];
  let queued = 0;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const deliver = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.at <= now + 0.5) {
      const { data } = queue.shift()!;
      queued -= data.length;
      if (!to.destroyed) to.write(data);
    }
    if (queued <= windowBytes && from.isPaused()) from.resume();
    if (queue.length > 0) timer = setTimeout(deliver, Math.max(0, queue[0]!.at - performance.now()));
    else if (ended) to.end();
  };
  from.on('data', (data: Buffer) => {
    queue.push({ data, at: link.arrival(data.length) });
    queued += data.length;
    if (queued > windowBytes) from.pause();
    if (!timer) timer = setTimeout(deliver, Math.max(0, queue[0]!.at - performance.now()));
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0 && !timer) to.end();
  });
  from.on('close', () => {
    if (queue.length === 0) to.destroy();
  });
}

export interface WanProxy {
  server: net.Server;
  /** Traffic so far: `toUpstream` (consumer → source) and `fromUpstream`. */
  counters(): { toUpstream: Link['counted']; fromUpstream: Link['counted'] };
}

/** Starts the proxy; resolves once it listens. */
export async function startWanProxy(o: WanLinkOptions): Promise<WanProxy> {
  // Shared by every connection, like one physical link in each direction.
  const up = new Link(o.latencyMs, o.bytesPerSecond);
  const down = new Link(o.latencyMs, o.bytesPerSecond);
  const window = o.windowBytes ?? 4 * 1024 * 1024;
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ host: o.upstreamHost, port: o.upstreamPort });
    upstream.setNoDelay(true);
    pipeThrough(client, upstream, up, window);
    pipeThrough(upstream, client, down, window);
    const fail = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', fail);
    upstream.on('error', fail);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listenPort, '127.0.0.1', resolve);
  });
  return { server, counters: () => ({ toUpstream: { ...up.counted }, fromUpstream: { ...down.counted } }) };
}

if (require.main === module) {
  const options = JSON.parse(process.argv[2] ?? '{}') as WanLinkOptions;
  startWanProxy(options).then(
    (proxy) => {
      // The benchmark asks for the counters over the IPC channel of fork().
      process.on('message', () => process.send?.(proxy.counters()));
      process.stdout.write(`ready ${options.listenPort}\n`);
    },
    (err: Error) => {
      process.stderr.write(`wan proxy: ${err.message}\n`);
      process.exit(1);
    },
  );
}
