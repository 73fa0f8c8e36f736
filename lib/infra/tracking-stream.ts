/**
 * A Server-Sent Events stream that follows one order: its current status (and the courier's
 * position) at once, then `position` events of its courier and `status` events as they happen on
 * `bus` (`order:<id>` and `courier:<id>`), ending after delivered or cancelled. Listeners are
 * removed when the client goes away or the stream ends.
 *
 * Every open stream is registered here so that a node shutting down can tell its clients to
 * reconnect (to another instance) and end them: `closeAllTrackingStreams()` (called by the
 * GracefulShutdown middleware when the broker starts stopping).
 */
import { EventEmitter } from "events";
import { PassThrough } from "stream";
import { nowIso } from "./ids";

export const TERMINAL_ORDER_STATUSES = ["delivered", "cancelled"];

type Doc = Record<string, any>;

export interface TrackingStreamOptions {
	order: Doc;
	bus: EventEmitter;
	initialPosition: Doc | null;
	/** The public form of a position for this order (with its ETA). */
	toTracked: (position: Doc) => Doc;
	heartbeatMs: number;
}

/** How long an EventSource waits before it reconnects after the server asked it to. */
export const RECONNECT_AFTER_MS = 1000;

const openStreams = new Set<PassThrough>();

/** The SSE frame that tells a client to reconnect (EventSource reconnects by itself after `retry` ms). */
export function reconnectFrame(reason: string): string {
	return `retry: ${RECONNECT_AFTER_MS}\nevent: reconnect\ndata: ${JSON.stringify({ reason })}\n\n`;
}

export function openTrackingStreamCount(): number {
	return openStreams.size;
}

/** Tells every open tracking stream's client to reconnect, and ends the streams. Returns how many. */
export function closeAllTrackingStreams(reason = "server shutting down"): number {
	const streams = [...openStreams];
	for (const stream of streams) {
		if (!stream.writableEnded) {
			stream.write(reconnectFrame(reason));
			stream.end();
		}
		openStreams.delete(stream);
	}
	return streams.length;
}

export function openTrackingStream(opts: TrackingStreamOptions): PassThrough {
	const { order, bus } = opts;
	const stream = new PassThrough();
	openStreams.add(stream);
	const orderId = order.id || order._id;
	const send = (event: string, data: unknown) => {
		if (!stream.writableEnded) stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
	};
	let courierId: string | null = order.courierId || null;
	const onPosition = (p: Doc) => send("position", opts.toTracked(p));
	const follow = (next: string | null) => {
		if (courierId) bus.off(`courier:${courierId}`, onPosition);
		courierId = next;
		if (courierId) bus.on(`courier:${courierId}`, onPosition);
	};
	const onStatus = (s: Doc) => {
		if (s.courierId && s.courierId !== courierId) follow(s.courierId);
		send("status", { orderId, status: s.status, courierId, at: s.at });
		if (TERMINAL_ORDER_STATUSES.includes(s.status)) stream.end();
	};
	const heartbeat = setInterval(() => !stream.writableEnded && stream.write(": keep-alive\n\n"), opts.heartbeatMs);
	const cleanup = () => {
		openStreams.delete(stream);
		clearInterval(heartbeat);
		follow(null);
		bus.off(`order:${orderId}`, onStatus);
	};
	stream.on("close", cleanup);
	stream.on("finish", cleanup);

	send("status", { orderId, status: order.status, courierId, position: opts.initialPosition, at: nowIso() });
	if (TERMINAL_ORDER_STATUSES.includes(order.status)) {
		stream.end();
		return stream;
	}
	bus.on(`order:${orderId}`, onStatus);
	follow(courierId);
	return stream;
}
