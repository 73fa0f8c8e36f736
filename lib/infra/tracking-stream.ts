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

/** The order a stream follows (its id, where it stands, who carries it). */
export interface TrackedOrder {
	id: string;
	status: string;
	courierId: string | null;
}

/** A status change on the bus (`order:<id>`). */
export interface TrackedStatus {
	status: string;
	courierId?: string | null;
	at: string;
}

/** P: a position as the bus carries it (`courier:<id>`). */
export interface TrackingStreamOptions<P> {
	order: TrackedOrder;
	bus: EventEmitter;
	initialPosition: object | null;
	/** The public form of a position for this order (with its ETA). */
	toTracked: (position: P) => object;
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

export function openTrackingStream<P>(opts: TrackingStreamOptions<P>): PassThrough {
	const { order, bus } = opts;
	const stream = new PassThrough();
	openStreams.add(stream);
	const orderId = order.id;
	const send = (event: string, data: unknown) => {
		if (!stream.writableEnded) stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
	};
	let courierId: string | null = order.courierId || null;
	const onPosition = (p: P) => send("position", opts.toTracked(p));
	const follow = (next: string | null) => {
		if (courierId) bus.off(`courier:${courierId}`, onPosition);
		courierId = next;
		if (courierId) bus.on(`courier:${courierId}`, onPosition);
	};
	const onStatus = (s: TrackedStatus) => {
		if (s.courierId && s.courierId !== courierId) follow(s.courierId);
		order.status = s.status;
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
