/**
 * Broker options for every node, from environment variables (see the README's table).
 * Embedded default: no transporter, Memory cacher, in-process durable events.
 * Cluster: TRANSPORTER=nats://…, CACHER=redis://…, MONGO_URI=…, durable events on JetStream.
 */
import { BrokerOptions, Errors, Middleware, ServiceBroker } from "moleculer";
import { Middleware as ChannelsMiddleware } from "@moleculer/channels";
import http from "http";
import path from "path";
import { AppConfig, config } from "./lib/infra/config";
import { startHealthServer } from "./lib/infra/health";
import { StrictValidator } from "./lib/infra/validator";
import { SqliteAdapter } from "./lib/infra/channels/sqlite-adapter";
import { IN_MEMORY } from "./lib/infra/channels/sqlite-store";
import { DEAD_LETTER_TOPIC, TOPICS } from "./lib/domain/events";
import { channelName } from "./mixins/events.mixin";

function logger(cfg: AppConfig): BrokerOptions["logger"] {
	if (cfg.logFormat === "pretty")
		return {
			type: "Console",
			options: { formatter: "short", colors: true, moduleColors: true },
		};
	// JSON lines on stdout for any log shipper; services add { requestId } to their entries.
	return {
		type: "Pino",
		options: {
			pino: {
				options: {
					base: null,
					timestamp: () => `,"time":"${new Date().toISOString()}"`,
				},
			},
		},
	};
}

function cacher(cfg: AppConfig): BrokerOptions["cacher"] {
	if (cfg.cacher.startsWith("redis://") || cfg.cacher.startsWith("rediss://"))
		return {
			type: "Redis",
			options: {
				prefix: `GR-${cfg.namespace || "default"}`,
				ttl: 300,
				redis: cfg.cacher,
			},
		};
	if (cfg.cacher.toLowerCase() === "none") return undefined;
	// Memory cacher: entries expire so a missed invalidation cannot serve stale data for long.
	return { type: "Memory", options: { ttl: 60, clone: true } };
}

function channelsAdapter(cfg: AppConfig) {
	const url = cfg.channelsAdapter;
	const common = { maxRetries: 5, maxInFlight: cfg.eventMaxInFlight };
	if (url.startsWith("nats://")) {
		return {
			type: "NATS",
			options: {
				...common,
				nats: {
					url,
					connectionOptions: {
						maxReconnectAttempts: -1,
						reconnectTimeWait: 500,
					},
				},
				deadLettering: { enabled: true, queueName: "DEAD_LETTER" },
			},
		};
	}
	if (url.startsWith("redis://")) return { type: "Redis", options: { ...common, redis: url } };
	if (url.toLowerCase() === "fake") return { type: "Fake", options: common };
	// The channels middleware takes an adapter instance as is (adapters/index.js resolve()).
	return new SqliteAdapter({
		...common,
		deadLettering: { enabled: true, queueName: "DEAD_LETTER" },
		sqlite: {
			file: cfg.inMemoryStore ? IN_MEMORY : path.resolve(cfg.dataDir, "events.sqlite"),
			retryBaseMs: cfg.eventRetryBaseMs,
			shutdownTimeoutMs: cfg.shutdownTimeoutMs,
		},
	});
}

function tracing(cfg: AppConfig): BrokerOptions["tracing"] {
	const exporter = cfg.tracingExporter.toLowerCase();
	if (exporter === "none" || exporter === "") return { enabled: false };
	const types: Record<string, any> = {
		console: { type: "Console" },
		jaeger: {
			type: "Jaeger",
			options: { endpoint: cfg.tracingEndpoint || null },
		},
		zipkin: {
			type: "Zipkin",
			options: { baseURL: cfg.tracingEndpoint || "http://localhost:9411" },
		},
	};
	return { enabled: true, exporter: types[exporter] || types.console };
}

/** Logs every action a node handles with the request id that the gateway returns as X-Request-Id. */
const RequestLogMiddleware: Middleware = {
	name: "RequestLog",
	localAction(next: any, action: any) {
		if (action.name.startsWith("$")) return next;
		// An action may lower its own access-log level (e.g. high-rate location updates).
		const level: string = action.logLevel || "info";
		return async function (ctx: any) {
			const started = process.hrtime.bigint();
			try {
				const result = await next(ctx);
				ctx.service.logger[level](
					{
						requestId: ctx.requestID,
						action: action.name,
						ms: Number(process.hrtime.bigint() - started) / 1e6,
					},
					"action handled",
				);
				return result;
			} catch (err: any) {
				ctx.service.logger.info(
					{
						requestId: ctx.requestID,
						action: action.name,
						error: err && err.type,
						code: err && err.code,
					},
					"action failed",
				);
				throw err;
			}
		};
	},
} as any;

/**
 * JetStream keeps messages only on subjects that have a stream, and the channels adapter creates a
 * stream when a consumer subscribes. Create every topic's stream up front so a publisher on a fresh
 * NATS (before any consumer ever ran) does not get "no responders", and nothing is lost meanwhile.
 */
async function ensureDurableTopics(broker: any) {
	const adapter = broker.channelAdapter;
	if (!adapter || !adapter.manager || typeof adapter.createStream !== "function") return;
	for (const topic of [...TOPICS, DEAD_LETTER_TOPIC]) {
		const subject = adapter.addPrefixTopic(channelName(topic));
		try {
			await adapter.createStream(subject.split(".").join("_"), [subject], {});
		} catch (err: any) {
			broker.logger.warn(`Could not create the stream for ${subject}: ${err && err.message}`);
		}
	}
}

/**
 * Marks the moment the node can publish durable events: after Channels (listed before this one)
 * has connected and subscribed. `broker.whenEventsReady()` resolves then.
 */
const EventsReadyMiddleware: Middleware = {
	name: "EventsReady",
	created(broker: any) {
		broker.eventsReady = false;
		broker.whenEventsReady = () =>
			broker.eventsReady ? Promise.resolve() : new Promise((resolve) => broker.localBus.once("$events.ready", resolve));
	},
	async started(broker: any) {
		await ensureDurableTopics(broker);
		broker.eventsReady = true;
		broker.localBus.emit("$events.ready");
	},
} as any;

/** Per-node liveness/readiness on HEALTH_PORT, so every pod has probes, not only the gateway. */
function healthServerMiddleware(port: number): Middleware {
	let server: http.Server | null = null;
	return {
		name: "HealthServer",
		started(broker: ServiceBroker) {
			if (port > 0) server = startHealthServer(broker, port);
		},
		stopped() {
			if (server) server.close();
			server = null;
		},
	} as any;
}

/**
 * Fresh options for one broker (middlewares hold per-broker state), read from the environment
 * at call time. moleculer-runner calls this function; tests call it for each broker they start.
 */
function brokerOptions(): BrokerOptions {
	const cfg = config();
	return {
		namespace: cfg.namespace,
		nodeID: cfg.nodeID,
		logger: logger(cfg),
		logLevel: cfg.logLevel as any,
		transporter: cfg.transporter ? cfg.transporter : null,
		cacher: cacher(cfg),
		serializer: "JSON",

		// Calls that outlive this fail with RequestTimeoutError (the gateway answers 504).
		requestTimeout: cfg.requestTimeoutMs,

		// Retry only what is safe to retry (a node that vanished or refused; never business errors or
		// timeouts), with exponential backoff so a restarting node is not hammered.
		retryPolicy: {
			enabled: true,
			retries: 3,
			delay: 100,
			maxDelay: 2000,
			factor: 2,
			// A timed-out call may still complete on its node: retrying it could do a write twice.
			check: (err: any) => err && !!err.retryable && err.name !== "RequestTimeoutError",
		},

		// Heartbeats find dead nodes quickly: a kill -9'd node drops out of the registry within ~4-5 s,
		// well inside the request timeout, so calls waiting on it are rejected and retried elsewhere.
		heartbeatInterval: 1,
		heartbeatTimeout: 4,
		contextParamsCloning: false,
		// Tracked contexts: on shutdown, wait for running requests to finish before leaving.
		tracking: { enabled: true, shutdownTimeout: cfg.shutdownTimeoutMs },
		disableBalancer: false,
		registry: {
			// Round robin spreads calls evenly across instances; a local instance is preferred to
			// save the network hop when the node has the service.
			strategy: "RoundRobin",
			preferLocal: true,
		},

		// Open the circuit for an endpoint that fails half of at least 10 calls in 30 s, probe it
		// again after 5 s. Only server-side failures count: a 4xx is the caller's fault.
		circuitBreaker: {
			enabled: true,
			threshold: 0.5,
			minRequestCount: 10,
			windowTime: 30,
			halfOpenTime: 5_000,
			check: (err: any) => err && (!err.code || err.code >= 500),
		},

		// Cap concurrent executions per action; excess waits in a queue instead of overloading the node.
		bulkhead: { enabled: true, concurrency: 50, maxQueueSize: 1000 },

		validator: new StrictValidator() as any,
		errorHandler(err: any, info: any) {
			throw err;
		},

		metrics: {
			enabled: cfg.metricsPort > 0,
			reporter:
				cfg.metricsPort > 0
					? [
							{
								type: "Prometheus",
								options: {
									port: cfg.metricsPort,
									path: "/metrics",
									defaultLabels: (registry: any) => ({
										namespace: registry.broker.namespace,
										nodeID: registry.broker.nodeID,
									}),
								},
							},
						]
					: [],
		},
		tracing: tracing(cfg),

		middlewares: [
			ChannelsMiddleware({ adapter: channelsAdapter(cfg) } as any) as any,
			EventsReadyMiddleware,
			RequestLogMiddleware,
			healthServerMiddleware(cfg.healthPort),
		],
	};
}

export = brokerOptions;
