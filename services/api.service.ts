/**
 * The gateway (moleculer-web). Only actions that declare `rest` are reachable, under /api, each
 * with its declared `auth` (see lib/auth.ts): public, a set of roles, and MFA for sensitive ones.
 * Errors become `{ type, message, code, data? }` from the error catalogue, in the caller's language
 * (lib/infra/gateway-errors.ts); the request id the client sent in X-Request-Id (or a new one) is ctx.requestID everywhere and is returned.
 */
import type { IncomingMessage, Server, ServerResponse } from "http";
import { Context, Errors, Service, ServiceSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import type { Alias, ApiRouteSchema, ApiSettingsSchema, GatewayResponse, IncomingRequest, Route } from "moleculer-web";
import path from "path";
import type { CallMeta, Ctx } from "../lib/contracts";
import type { AuthState } from "../lib/contracts/users";
import { config } from "../lib/infra/config";
import { ActionAuth, AuthUser, authorizationProblem } from "../lib/infra/auth";
import { nodeReadiness } from "../lib/infra/health";
import { newId } from "../lib/infra/ids";
import {
	copyRateLimitHeaders,
	MemoryRateLimitStore,
	RateLimitStore,
	RateLimitStoreFactory,
	redisRateLimitStoreFactory,
	setRateLimitHeaders,
} from "../lib/infra/rate-limit-store";
import { HttpDrain, trackHttpServer } from "../lib/infra/http-drain";
import { isTemporarilyUnavailable, serviceUnavailable } from "../lib/infra/unavailable";
import { instrumentHttpServer } from "../lib/infra/http-metrics";
import { exitWhenListenFails } from "../lib/infra/startup-failure";
import { ErrorLike, malformedMultipart, multipartBoundary } from "../lib/infra/http-errors";
import { writeErrorResponse } from "../lib/infra/gateway-errors";
import {
	AliasRequest,
	clientIp,
	isAuthRequest,
	rateLimitKey,
	requestLocale,
	TokenRequest,
	userFromRequest,
} from "../lib/infra/gateway-requests";
import { appError } from "../lib/infra/errors";
import { shutdownDeadline } from "../middlewares/graceful-shutdown";
import { OpenApiMixin } from "../mixins/openapi.mixin";
import { GeoMixin } from "../mixins/geo.mixin";

const { MoleculerClientError } = Errors;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const AUTH_STATE_TTL_MS = 5_000;
const AUTH_STATE_CACHE_MAX = 50_000;

interface Settings extends ApiSettingsSchema {
	port: number;
	trustProxy: boolean;
	requireAdminMfa: boolean;
	routes: ApiRouteSchema[];
}

/** A request as the gateway sees it: moleculer-web's, plus the token's user once verified (an Error when it failed). */
type GatewayRequest = IncomingRequest & TokenRequest;

/** moleculer-web's aliases carry their full path (prefix included); its typings leave it out. */
type GatewayAlias = Alias & { fullPath: string };

/** The stricter per-address budget of the sign-in endpoints. */
interface AuthLimiter {
	store: RateLimitStore;
	max: number;
	close(): Promise<void>;
}

interface CachedAuthState {
	state: AuthState | null;
	expires: number;
}

interface OwnMethods {
	authStateOf(ctx: Ctx, id: string): Promise<AuthState | null>;
	withCurrentStatus(ctx: Ctx, user: AuthUser): Promise<AuthUser>;
	checkAuthBudget(req: GatewayRequest, res: GatewayResponse): Promise<void>;
}

interface OwnState {
	/** moleculer-web's HTTP server (absent in middleware mode) and its routes' aliases. */
	server?: Server;
	aliases: GatewayAlias[];
	authStates: Map<string, CachedAuthState>;
	authLimiter: AuthLimiter;
	httpDrain: HttpDrain | null;
	knownAliases?: Map<string, GatewayAlias>;
}

type ThisService = Service<Settings> & OwnMethods & OwnState;

/** public/ at the project root, whether running from services/ (ts) or dist/services/ (js). */
function publicFolder(): string {
	const fromDist = __dirname.split(path.sep).includes("dist");
	return path.resolve(__dirname, fromDist ? "../.." : "..", "public");
}

const ApiService: ServiceSchema<Settings, ThisService> = {
	name: "api",
	mixins: [ApiGateway, OpenApiMixin, GeoMixin],

	/** Port, body limit and rate limit are read when the service is created (not when this file is imported). */
	merged(schema: ServiceSchema<Settings>) {
		const cfg = config();
		const settings = schema.settings!;
		const route = settings.routes[0];
		settings.port = cfg.port;
		settings.trustProxy = cfg.trustProxy;
		settings.requireAdminMfa = cfg.requireAdminMfa;
		const parsers = route.bodyParsers;
		const json = typeof parsers === "object" ? parsers.json : undefined;
		if (json && typeof json === "object") json.limit = cfg.bodyLimit;
		route.rateLimit = {
			window: cfg.rateLimitWindowMs,
			limit: cfg.rateLimitMax,
			headers: true,
			key: (req: IncomingMessage) => rateLimitKey(req as AliasRequest, cfg.trustProxy),
			...(cfg.rateLimitRedis ? { StoreFactory: redisRateLimitStoreFactory(cfg.rateLimitRedis, cfg.namespace) } : {}),
		};
	},

	settings: {
		// port, trustProxy and requireAdminMfa: from the configuration, in merged().
		port: 3000,
		trustProxy: false,
		requireAdminMfa: false,
		ip: "0.0.0.0",
		rest: "/",
		use: [],
		// Aliases are rebuilt from the registry this long after services come or go.
		debounceTime: 100,
		cors: {
			origin: "*",
			methods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
			exposedHeaders: [
				"X-Request-Id",
				"Retry-After",
				"Location",
				"Idempotent-Replayed",
				"RateLimit-Limit",
				"RateLimit-Remaining",
				"RateLimit-Reset",
			],
		},
		// Validate the caller's X-Request-Id; anything odd is replaced by a fresh id.
		// moleculer-web accepts a function here too (called with the request); its typings know only the object.
		rootCallOptions: ((options: { requestID?: string }, req: IncomingMessage) => {
			const sent = req.headers["x-request-id"];
			options.requestID = typeof sent === "string" && REQUEST_ID.test(sent) ? sent : newId();
		}) as unknown as Settings["rootCallOptions"],
		routes: [
			{
				path: "/api",
				autoAliases: true,
				mappingPolicy: "restrict",
				authentication: true,
				authorization: true,
				bodyParsers: { json: { limit: "100kb", strict: true }, urlencoded: false },
				// rateLimit: set in merged(), from the configuration.
				async onBeforeCall(
					this: ThisService,
					ctx: Context,
					route: Route,
					req: IncomingRequest,
					res: GatewayResponse,
					alias?: Alias,
				) {
					// busboy throws on anything but multipart with a boundary: answer 415 / 400 before it sees the request.
					if (alias && alias.type === "multipart") {
						const contentType = String(req.headers["content-type"] || "");
						if (!/^multipart\/form-data/i.test(contentType)) throw appError("UNSUPPORTED_MEDIA_TYPE");
						if (!multipartBoundary(contentType)) throw malformedMultipart();
					}
					copyRateLimitHeaders(res);
					if (isAuthRequest(req)) await this.checkAuthBudget(req, res);
					const key = req.headers["idempotency-key"];
					const meta = ctx.meta as CallMeta;
					if (typeof key === "string" && key.length > 0 && key.length <= 128) meta.idempotencyKey = key;
					meta.clientIp = clientIp(req, this.settings.trustProxy);
					meta.locale = requestLocale(req); // authenticate() refines it with the user's stored locale
				},
				callOptions: {},
				logging: false,
			},
		],
		assets: { folder: publicFolder(), options: {} },
		onError(this: ThisService, req: GatewayRequest, res: ServerResponse, error: Error) {
			// A failed upload can report twice; the first answer stands.
			if (res.headersSent) return;
			const unavailable = isTemporarilyUnavailable(error, this.broker, this.isReady());
			writeErrorResponse(req, res, (unavailable ? serviceUnavailable(error) : error) as ErrorLike, this.logger);
		},
	},

	actions: {
		// The gateway's own entry action must not be retried as a whole: the calls it makes are
		// retried by the broker's policy already, and re-running a whole HTTP request would repeat
		// its side effects (and answer 404 once the request's stream has been consumed).
		rest: { retryPolicy: { enabled: false } },
		// moleculer-web's GET /list-aliases would show any signed-in user every route and the action
		// behind it; the published contract is /api/openapi.json.
		listAliases: false,
		live: {
			rest: "GET /health/live",
			auth: "public",
			params: {},
			// Public: no node id (the per-node HEALTH_PORT server, not exposed, names its node).
			handler(this: ThisService) {
				return { live: true };
			},
		},
		ready: {
			rest: "GET /health/ready",
			auth: "public",
			params: {},
			handler(this: ThisService, ctx: Ctx) {
				const { nodeID: _nodeID, ...readiness } = nodeReadiness(this.broker);
				if (!readiness.ready) ctx.meta.$statusCode = 503;
				return readiness;
			},
		},
	},

	events: {
		"users.authState.changed"(this: ThisService, ctx: Ctx<{ id: string }>) {
			this.authStates.delete(ctx.params.id);
		},
	},

	created(this: ThisService) {
		this.authStates = new Map();
		const cfg = config();
		const Store: RateLimitStoreFactory = cfg.rateLimitRedis
			? redisRateLimitStoreFactory(cfg.rateLimitRedis, cfg.namespace)
			: MemoryRateLimitStore;
		this.authLimiter = {
			store: new Store(cfg.rateLimitWindowMs),
			max: cfg.authRateLimitMax,
			close: async () => Store.close?.(),
		};
		// moleculer-web's created() (a mixin's, so it ran first) made this.server.
		this.httpDrain = this.server ? trackHttpServer(this.server) : null;
		if (this.server) instrumentHttpServer(this.server, this.broker);
		// moleculer-web only logs "Server error" and its started() never resolves: the node hung.
		if (this.server) exitWhenListenFails(this.server, this.logger, "PORT", () => this.settings.port);
	},

	/**
	 * Runs before moleculer-web's own stopped() (which would wait forever on an open SSE response):
	 * running requests have finished (tracked contexts); now SSE clients are told to reconnect and the
	 * connections are closed by the shutdown deadline (SHUTDOWN_TIMEOUT_MS).
	 */
	async stopped(this: ThisService) {
		if (this.httpDrain) {
			const { streamsClosed, forced } = await this.httpDrain.drain(
				shutdownDeadline(this.broker, config().shutdownTimeoutMs),
			);
			this.logger.info({ streamsClosed, forced }, "HTTP server drained");
		}
		await this.authLimiter.close();
	},

	methods: {
		/**
		 * moleculer-web drops a service's routes when its last instance leaves the registry, so a dead
		 * service answered 404 like a route that never existed. Routes seen once are kept: a request
		 * to one whose service has no instance gets 503 SERVICE_UNAVAILABLE (ServiceUnavailableError)
		 * until an instance is back (or the gateway restarts).
		 */
		regenerateAutoAliases(this: ThisService, route: Route) {
			ApiGateway.methods!.regenerateAutoAliases.call(this, route);
			if (!this.knownAliases) this.knownAliases = new Map();
			const key = (alias: GatewayAlias) => `${alias.method} ${alias.fullPath}`;
			const current = new Set<string>();
			for (const alias of this.aliases) {
				if (alias.route !== route || !alias._generated) continue;
				current.add(key(alias));
				this.knownAliases.set(key(alias), alias);
			}
			for (const [k, alias] of this.knownAliases)
				if (alias.route === route && !current.has(k)) this.aliases.push(alias);
		},

		/** The gateway is ready once it has routes beyond its own health checks. */
		isReady(this: ThisService): boolean {
			return this.aliases.some((alias) => alias.action && !alias.action.startsWith("api."));
		},

		/** Verifies the bearer token (401 when forged or expired) and refreshes status from the users service. */
		async authenticate(this: ThisService, ctx: Ctx, route: Route, req: GatewayRequest): Promise<AuthUser | null> {
			const user = userFromRequest(req);
			if (!user) return null;
			const current = await this.withCurrentStatus(ctx, user);
			// The language this request reads: Accept-Language, else the user's stored locale.
			ctx.meta.locale = requestLocale(req, current);
			return { ...current, locale: ctx.meta.locale };
		},

		async authorize(this: ThisService, ctx: Ctx, route: Route, req: GatewayRequest) {
			const auth: ActionAuth = req.$action ? req.$action.auth : undefined;
			const problem = authorizationProblem(auth, ctx.meta.user ?? null, this.settings.requireAdminMfa);
			if (problem === "unauthenticated") throw appError("UNAUTHORIZED");
			if (problem === "inactive") throw appError("ACCOUNT_INACTIVE");
			if (problem === "role") throw appError("FORBIDDEN_ROLE");
			if (problem === "mfa") throw appError("MFA_REQUIRED");
		},

		/** The sign-in endpoints' budget per client address (429 past it); its RateLimit-* headers win. */
		async checkAuthBudget(this: ThisService, req: GatewayRequest, res: GatewayResponse): Promise<void> {
			const { store, max } = this.authLimiter;
			const count = await store.inc(`auth-ip:${clientIp(req, this.settings.trustProxy)}`);
			setRateLimitHeaders(res, max, max - count, store.resetTime);
			if (count > max)
				throw appError("RATE_LIMITED", "Too many sign-in requests from this address", {
					retryAfterSeconds: Math.max(1, Math.ceil((store.resetTime - Date.now()) / 1000)),
				});
		},

		/**
		 * users.authState through a small gateway-local cache: in a cluster the users service's own
		 * cache is a network hop away, and this runs on every request. Entries live a few seconds and
		 * are dropped at once when the users service announces a change (users.authState.changed).
		 */
		async authStateOf(this: ThisService, ctx: Ctx, id: string): Promise<AuthState | null> {
			const hit = this.authStates.get(id);
			if (hit && hit.expires > Date.now()) return hit.state;
			const state = await ctx.call<AuthState | null, { id: string }>("users.authState", { id });
			if (this.authStates.size >= AUTH_STATE_CACHE_MAX) this.authStates.clear();
			this.authStates.set(id, { state, expires: Date.now() + AUTH_STATE_TTL_MS });
			return state;
		},

		/**
		 * A token outlives changes to its user (approval, suspension): the users service's cached
		 * view of the status wins, and a token of an older session epoch is refused (401). If the users
		 * service is unreachable the token's claims are used.
		 */
		async withCurrentStatus(this: ThisService, ctx: Ctx, user: AuthUser): Promise<AuthUser> {
			try {
				const current = await this.authStateOf(ctx, user.id);
				if (!current) throw appError("INVALID_TOKEN", "User no longer exists");
				// Logout, a new password, role or status, or a deletion moved the epoch on: this session is over.
				if ((current.sessionEpoch ?? 0) !== (user.sessionEpoch ?? 0)) throw appError("SESSION_REVOKED");
				return {
					...user,
					status: current.status,
					role: current.role,
					supplierId: current.supplierId || null,
					mfaEnabled: current.mfaEnabled,
					locale: current.locale,
				};
			} catch (err) {
				if (err instanceof MoleculerClientError) throw err;
				this.logger.warn(
					{ requestId: ctx.requestID },
					`users.authState unavailable, using token claims: ${(err as Error).message}`,
				);
				return user;
			}
		},
	},
};

export = ApiService;
