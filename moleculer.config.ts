/**
 * Broker options for every node, from environment variables (see the README's table).
 * Embedded default: no transporter, Memory cacher, in-process durable events.
 * Cluster: TRANSPORTER=nats://…, CACHER=redis://…, MONGO_URI=…, durable events on JetStream.
 */
import {
	BrokerOptions,
	Cachers,
	Errors,
	GenericObject,
	LogLevels,
	MetricRegistry,
	MetricsReporterOptions,
	Middleware,
	TracerExporterOptions,
	Validators,
} from "moleculer";
import { Middleware as ChannelsMiddleware } from "@moleculer/channels";
import type { MiddlewareOptions as ChannelsOptions } from "@moleculer/channels/types/src";
import path from "path";
import { AppConfig, config } from "./lib/infra/config";
import { StrictValidator } from "./lib/infra/validator";
import { validatingCacher } from "./lib/infra/validating-cacher";
import { SqliteAdapter } from "./lib/infra/channels/sqlite-adapter";
import { IN_MEMORY } from "./lib/infra/channels/sqlite-store";
import { JsonLogger } from "./lib/infra/logging";
import { DEFAULT_OTLP_ENDPOINT, OtlpTraceExporter } from "./lib/infra/otlp-exporter";
import { TRACING_EXPORTERS } from "./lib/infra/config-check";
import { PromtoolCleanPrometheusReporter, snakeCase } from "./lib/infra/prometheus-reporter";
import { toMoleculer } from "./middlewares/types";
import { channelTopicsMiddleware } from "./middlewares/channel-topics";
import { eventsReadyMiddleware } from "./middlewares/events-ready";
import { requestLogMiddleware } from "./middlewares/request-log";
import { healthServerMiddleware } from "./middlewares/health-server";
import { gracefulShutdownMiddleware } from "./middlewares/graceful-shutdown";
import { ALIVE_METADATA_KEY, fastFailoverMiddleware } from "./middlewares/fast-failover";
import { transporterDiagnosticsMiddleware } from "./middlewares/transporter-diagnostics";
import { runtimeMetricsMiddleware } from "./middlewares/runtime-metrics";
import { replCommands } from "./lib/infra/repl-commands";

function logger(cfg: AppConfig): BrokerOptions["logger"] {
	if (cfg.logFormat === "pretty")
		return {
			type: "Console",
			options: { formatter: "short", colors: true, moduleColors: true },
		};
	// JSON lines on stdout for any log shipper; services add { requestId } to their entries. Every
	// argument of a log call is kept (lib/infra/logging.ts): causes of library errors are not lost.
	return new JsonLogger({ level: cfg.logLevel });
}

/** The cacher validates an action's params before it looks the call up (lib/infra/validating-cacher.ts). */
function cacher(cfg: AppConfig): BrokerOptions["cacher"] {
	if (cfg.cacher.startsWith("redis://") || cfg.cacher.startsWith("rediss://"))
		return validatingCacher(
			new Cachers.Redis({
				prefix: `GR-${cfg.namespace || "default"}`,
				ttl: 300,
				// ioredis takes the URL as is; Moleculer's typings only know an options object.
				redis: cfg.cacher as unknown as GenericObject,
			}),
		);
	if (cfg.cacher.toLowerCase() === "none") return undefined;
	// Memory cacher: entries expire so a missed invalidation cannot serve stale data for long.
	return validatingCacher(new Cachers.Memory({ ttl: 60, clone: true }));
}

function channelsAdapter(cfg: AppConfig) {
	const url = cfg.channelsAdapter;
	const common = { maxRetries: 5, maxInFlight: cfg.eventMaxInFlight };
	if (url.startsWith("nats://")) {
		// The JetStream adapter hands `url` to nats.js as a server list, which ignores credentials in
		// it (Moleculer's transporter extracts them): pass NATS_USER/NATS_PASSWORD as options.
		const u = new URL(url);
		const auth = u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : {};
		return {
			type: "NATS",
			options: {
				...common,
				nats: {
					url: `nats://${u.host}`,
					connectionOptions: {
						...auth,
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

function prometheusReporter(cfg: AppConfig): PromtoolCleanPrometheusReporter {
	return new PromtoolCleanPrometheusReporter({
		port: cfg.metricsPort,
		path: "/metrics",
		// `namespace` would clash with the Kubernetes namespace label Prometheus adds to every target.
		defaultLabels: (registry: MetricRegistry) => ({
			moleculer_namespace: registry.broker.namespace || "",
			node_id: registry.broker.nodeID,
		}),
		metricNameFormatter: snakeCase,
		labelNameFormatter: snakeCase,
		// per-host details (user, home folder, network addresses, CPU models, argv) are not metrics
		excludes: ["os.user.**", "os.network.**", "os.cpu.info.**", "os.datetime.**", "process.arguments"],
	});
}

/**
 * TRACING_EXPORTER: none, console, zipkin (TRACING_ENDPOINT = Zipkin's base URL), otlp
 * (OTLP/HTTP JSON to TRACING_ENDPOINT, default http://localhost:4318/v1/traces) or jaeger, which
 * is OTLP to Jaeger's own OTLP receiver (Jaeger ≥ 1.35; Moleculer's Jaeger exporter needs the
 * unmaintained jaeger-client package, which the image does not have). Anything else is refused
 * (scripts/start.js refuses it before this runs; this throws for brokers built directly).
 */
function tracing(cfg: AppConfig): BrokerOptions["tracing"] {
	const exporter = cfg.tracingExporter.toLowerCase();
	if (exporter === "none" || exporter === "") return { enabled: false };
	if (exporter === "console") return { enabled: true, exporter: { type: "Console" } };
	if (exporter === "zipkin")
		return {
			enabled: true,
			exporter: { type: "Zipkin", options: { baseURL: cfg.tracingEndpoint || "http://localhost:9411" } },
		};
	if (exporter === "otlp" || exporter === "jaeger")
		return {
			enabled: true,
			// Moleculer takes an exporter instance (Exporters.resolve); its typings only know options objects.
			exporter: new OtlpTraceExporter({
				endpoint: cfg.tracingEndpoint || DEFAULT_OTLP_ENDPOINT,
			}) as unknown as TracerExporterOptions,
		};
	throw new Error(
		`Invalid setting TRACING_EXPORTER=${JSON.stringify(cfg.tracingExporter)}: expected one of ${TRACING_EXPORTERS.join(", ")}`,
	);
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
		logLevel: cfg.logLevel as LogLevels,
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
			check: (err: Error) => !!err && !!(err as Errors.MoleculerError).retryable && err.name !== "RequestTimeoutError",
		},

		// A node that dies while calls wait on it is found by the FastFailover middleware's NATS probe
		// within ~0.2-0.4 s (its calls then fail over). Heartbeats remove a dead node nobody is calling:
		// Moleculer checks them in whole seconds every heartbeatTimeout, so 1 s / 3 s notices one within
		// 4-6 s and still tolerates a 3 s event-loop stall without flapping.
		heartbeatInterval: 1,
		heartbeatTimeout: 3,
		// Tells other nodes this one answers the FastFailover probe.
		metadata: { [ALIVE_METADATA_KEY]: true },
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
			check: (err: Error) => {
				const code = (err as Errors.MoleculerError | undefined)?.code;
				return !!err && (!code || code >= 500);
			},
		},

		// Cap concurrent executions per action; excess waits in a queue instead of overloading the node.
		bulkhead: { enabled: true, concurrency: 50, maxQueueSize: 1000 },

		// A Moleculer Fastest validator at run time; lib/infra/validator.ts types it by the compile() it overrides.
		validator: new StrictValidator() as unknown as Validators.Base,
		errorHandler(err: Error) {
			throw err;
		},

		// Prometheus /metrics on METRICS_PORT, written so that `promtool check metrics` is clean
		// (lib/infra/prometheus-reporter.ts); the node's id and namespace label every series.
		metrics: {
			enabled: cfg.metricsPort > 0,
			// Moleculer skips process/OS metrics when NODE_ENV=test; memory panels need them everywhere.
			collectProcessMetrics: true,
			// Moleculer takes a reporter instance (Reporters.resolve), its typings only know options objects.
			reporter: cfg.metricsPort > 0 ? [prometheusReporter(cfg) as unknown as MetricsReporterOptions] : [],
		},
		tracing: tracing(cfg),
		// `seed`, `orders <status>`, `order <id>`, `whoami <email>` in `npm run repl` (lib/infra/repl-commands.ts).
		replCommands: replCommands(),

		middlewares: [
			// @moleculer/channels' typings (from its JSDoc) make every option required and know no adapter instance.
			ChannelsMiddleware({ adapter: channelsAdapter(cfg) } as unknown as ChannelsOptions) as unknown as Middleware,
			toMoleculer(channelTopicsMiddleware()),
			toMoleculer(eventsReadyMiddleware()),
			toMoleculer(requestLogMiddleware()),
			toMoleculer(healthServerMiddleware(cfg.healthPort)),
			toMoleculer(gracefulShutdownMiddleware(cfg.shutdownTimeoutMs)),
			toMoleculer(fastFailoverMiddleware()),
			toMoleculer(transporterDiagnosticsMiddleware(cfg.transporter)),
			toMoleculer(runtimeMetricsMiddleware()),
		],
	};
}

export = brokerOptions;
