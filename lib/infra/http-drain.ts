/**
 * Graceful close of an HTTP server that may hold long-lived responses (Server-Sent Events).
 * `server.close()` alone waits for every connection to end, and an open SSE response never does:
 * a gateway with one tracking stream open never exited on SIGTERM. `drain()` stops accepting
 * connections, tells SSE clients to reconnect (to another instance) and ends their responses,
 * closes idle keep-alive connections, lets running requests finish until the deadline, and then
 * closes whatever is left.
 */
import http from "http";
import { Socket } from "net";
import { reconnectFrame } from "./tracking-stream";

export interface HttpDrain {
	/** Responses not finished yet (SSE ones included). */
	openResponses(): number;
	/** Resolves when every connection is closed; `deadline` is a Date.now() value. */
	drain(deadline: number, reason?: string): Promise<{ streamsClosed: number; forced: number }>;
	/** True once drain() began: answer new requests on kept-alive connections with Connection: close. */
	draining(): boolean;
}

const isEventStream = (res: http.ServerResponse) =>
	/^text\/event-stream/i.test(String(res.getHeader("content-type") ?? ""));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function trackHttpServer(server: http.Server): HttpDrain {
	const sockets = new Set<Socket>();
	const responses = new Set<http.ServerResponse>();
	let draining = false;
	server.on("connection", (socket: Socket) => {
		sockets.add(socket);
		socket.once("close", () => sockets.delete(socket));
	});
	server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
		responses.add(res);
		// A source piped into an ended response must not crash the process with an unhandled 'error'.
		res.on("error", () => undefined);
		res.once("close", () => responses.delete(res));
		if (draining && !res.headersSent) res.setHeader("Connection", "close");
	});

	function closeStreams(reason: string): number {
		let closed = 0;
		for (const res of responses) {
			if (!isEventStream(res) || res.writableEnded) continue;
			res.write(reconnectFrame(reason));
			res.end();
			closed++;
		}
		return closed;
	}

	return {
		openResponses: () => responses.size,
		draining: () => draining,
		async drain(deadline, reason = "server shutting down") {
			draining = true;
			const closed = new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
			let streamsClosed = closeStreams(reason);
			server.closeIdleConnections();
			while (responses.size > 0 && Date.now() < deadline) {
				// an SSE response whose headers were written after the first pass
				streamsClosed += closeStreams(reason);
				server.closeIdleConnections();
				await sleep(25);
			}
			const forced = responses.size;
			server.closeAllConnections();
			for (const socket of sockets) socket.destroy();
			await closed;
			return { streamsClosed, forced };
		},
	};
}
