/**
 * A Server-Sent Events stream that follows one order: its current status (and the courier's
 * position) at once, then `position` events of its courier and `status` events as they happen on
 * `bus` (`order:<id>` and `courier:<id>`), ending after delivered or cancelled. Listeners are
 * removed when the client goes away or the stream ends.
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

export function openTrackingStream(opts: TrackingStreamOptions): PassThrough {
	const { order, bus } = opts;
	const stream = new PassThrough();
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
