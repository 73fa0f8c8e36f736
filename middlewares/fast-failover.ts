/**
 * Notices a dead node in a fraction of a second instead of a heartbeat timeout.
 *
 * A request to a node that was kill -9'd goes out on NATS and nobody reads it: Moleculer only
 * learns the node is gone when its heartbeats stop (heartbeatTimeout, checked every
 * heartbeatTimeout: 4-8 s with 1 s / 4 s; a request waited 6.8 s and then failed). NATS itself
 * knows at once (the dead client's socket closed and its subscriptions went with it), and answers a
 * request to a subject nobody subscribes to with "no responders".
 *
 * So every node subscribes to `<prefix>.GR-ALIVE.<nodeID>` and answers pings there, and says so in
 * its node metadata (`aliveProbe`). When a call to a remote node has been pending for PROBE_AFTER_MS,
 * the caller pings that node (and again every PROBE_EVERY_MS while the call is pending): "no
 * responders" means the node is gone, and it is removed from the registry at once, which rejects
 * its pending requests (RequestRejectedError, retryable): the retry policy sends them to another
 * instance, or the gateway answers 503 when there is none. A ping that merely times out (a busy
 * node) changes nothing. A node removed by mistake comes back with its next heartbeat.
 */
import { ServiceBroker } from "moleculer";
import { AppMiddleware } from "./types";

export const ALIVE_METADATA_KEY = "aliveProbe";

/** The part of the nats v2 client used here (moleculer's NATS transporter keeps it as tx.client). */
interface NatsMsg {
	respond(data?: Uint8Array): boolean;
}
interface NatsSubscription {
	unsubscribe(): void;
}
interface NatsClient {
	subscribe(subject: string, opts: { callback: (err: Error | null, msg: NatsMsg) => void }): NatsSubscription;
	request(subject: string, data?: Uint8Array, opts?: { timeout: number }): Promise<unknown>;
	isClosed(): boolean;
}
interface NatsTransportBroker extends ServiceBroker {
	transit?: ServiceBroker["transit"] & { tx?: { prefix?: string; client?: unknown; connected?: boolean } };
}

function natsClient(broker: ServiceBroker): { client: NatsClient; prefix: string } | null {
	const tx = (broker as NatsTransportBroker).transit?.tx;
	const client = tx?.client as Partial<NatsClient> | undefined;
	if (!tx || !client || typeof client.request !== "function" || typeof client.subscribe !== "function") return null;
	return { client: client as NatsClient, prefix: tx.prefix ?? "MOL" };
}

export const aliveSubject = (prefix: string, nodeID: string) => `${prefix}.GR-ALIVE.${nodeID}`;

export interface FastFailoverOptions {
	probeAfterMs: number;
	probeEveryMs: number;
	probeTimeoutMs: number;
}

// A ping that reached a node killed before it answered only times out: keep the timeout short, the next ping says "no responders".
export const FAST_FAILOVER_DEFAULTS: FastFailoverOptions = {
	probeAfterMs: 150,
	probeEveryMs: 200,
	probeTimeoutMs: 250,
};

export function fastFailoverMiddleware(opts: FastFailoverOptions = FAST_FAILOVER_DEFAULTS): AppMiddleware {
	let broker: ServiceBroker | null = null;
	let subscription: NatsSubscription | null = null;
	const probing = new Map<string, Promise<void>>();

	const probe = (nodeID: string): Promise<void> => {
		const running = probing.get(nodeID);
		if (running) return running;
		const nats = broker && natsClient(broker);
		if (!broker || !nats || nats.client.isClosed()) return Promise.resolve();
		const b = broker;
		const p = nats.client
			.request(aliveSubject(nats.prefix, nodeID), undefined, { timeout: opts.probeTimeoutMs })
			.then(
				() => undefined,
				(err: { code?: string; message?: string }) => {
					// nats.js: code "503" = no responders (nobody subscribes); a timeout is a busy node, not a dead one
					if (err?.code !== "503") return;
					const node = b.registry.nodes.get(nodeID);
					if (!node || !node.available) return;
					b.logger.warn(
						{ nodeID },
						`Node '${nodeID}' is gone (NATS has no subscriber for its alive probe): removed from the registry; its pending requests fail over`,
					);
					b.registry.nodes.disconnected(nodeID, true);
				},
			)
			.finally(() => probing.delete(nodeID));
		probing.set(nodeID, p);
		return p;
	};

	const probes = (nodeID: string): boolean => {
		const node = broker?.registry.nodes.get(nodeID);
		return !!node && !node.local && !!(node.metadata as Record<string, unknown> | null)?.[ALIVE_METADATA_KEY];
	};

	return {
		name: "FastFailover",
		created(b) {
			broker = b;
		},
		started(b) {
			const nats = natsClient(b);
			if (!nats) return;
			subscription = nats.client.subscribe(aliveSubject(nats.prefix, b.nodeID), {
				callback: (err, msg) => {
					if (!err) msg.respond();
				},
			});
		},
		// Not unsubscribed on `stopping`: a stopping node still finishes its running requests, and
		// callers must not give up on them. The subscription ends with the NATS connection.
		stopped() {
			subscription = null;
			probing.clear();
		},
		remoteAction(next) {
			return (ctx) => {
				const result = next(ctx);
				const nodeID = ctx.nodeID;
				if (!nodeID || !subscription || !probes(nodeID) || !(result instanceof Promise)) return result;
				let timer: NodeJS.Timeout | null = null;
				let done = false;
				const schedule = (ms: number) => {
					timer = setTimeout(() => {
						if (done) return;
						probe(nodeID).then(() => !done && schedule(opts.probeEveryMs));
					}, ms);
					timer.unref();
				};
				schedule(opts.probeAfterMs);
				const stop = () => {
					done = true;
					if (timer) clearTimeout(timer);
				};
				result.then(stop, stop);
				return result;
			};
		},
	};
}
