/**
 * The gateway (moleculer-web). Only actions that declare `rest` are reachable, under /api, each
 * with its declared `auth` (see lib/auth.ts): public, a set of roles, and MFA for sensitive ones.
 * Errors become JSON bodies with the Moleculer error's type and data; the request id the client
 * sent in X-Request-Id (or a new one) is ctx.requestID everywhere and is returned.
 */
import type { IncomingMessage, Server, ServerResponse } from "http";
import { Context, Errors, Service, ServiceSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import type { Alias, ApiRouteSchema, ApiSettingsSchema, GatewayResponse, IncomingRequest, Route } from "moleculer-web";
import path from "path";
import type { CallMeta, Ctx } from "../lib/contracts";
import type { AuthState } from "../lib/contracts/users";
import { config } from "../lib/infra/config";
import { ActionAuth, AuthUser, authorizationProblem, bearerToken, verifyToken } from "../lib/infra/auth";
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
import {
	errorBody,
	ErrorLike,
	errorStatus,
	isNoLiveInstance,
	malformedMultipart,
	multipartBoundary,
} from "../lib/infra/http-errors";
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
type TokenRequest = IncomingMessage & { $tokenUser?: AuthUser | Error | null };
type GatewayRequest = IncomingRequest & TokenRequest;

/** moleculer-web's aliases carry their full path (prefix included); its typings leave it out. */
type GatewayAlias = Alias & { fullPath: string };

/** A route with moleculer-web's rate limiter (its typings leave out the store it keeps). */
type RateLimitedRoute = Route & { rateLimit?: { store?: { resetTime: number } } };

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

/** The client's address: the socket's, or behind a trusted proxy the first X-Forwarded-For hop. */
function clientIp(req: IncomingMessage, trustProxy: boolean): string {
	if (trustProxy) {
		const forwarded = req.headers["x-forwarded-for"];
		const first = typeof forwarded === "string" ? forwarded.split(",")[0].trim() : "";
		if (first) return first;
	}
	return req.socket?.remoteAddress || "unknown";
}

/**
 * The user a request's bearer token names (null without a token), verified once per request:
 * the rate limiter and the authentication step both need it.
 */
function userFromRequest(req: TokenRequest): AuthUser | null {
	if (req.$tokenUser !== undefined) {
		if (req.$tokenUser instanceof Error) throw req.$tokenUser;
		return req.$tokenUser;
	}
	const token = bearerToken(req.headers.authorization);
	try {
		req.$tokenUser = token ? verifyToken(token) : null;
	} catch (err) {
		const expired = !!err && (err as Error).name === "TokenExpiredError";
		req.$tokenUser = new MoleculerClientError(
			expired ? "Token expired" : "Invalid token",
			401,
			expired ? "TOKEN_EXPIRED" : "INVALID_TOKEN",
		);
		throw req.$tokenUser;
	}
	return req.$tokenUser;
}

/**
 * Sign-in and enrolment endpoints. They are limited per client address whatever token the request
 * carries (a valid token must not move a password guess into the user's own bucket), against the
 * general limit and the stricter AUTH_RATE_LIMIT_MAX; per target account in the users service.
 */
const AUTH_ACTIONS = new Set(["users.login", "users.register", "users.mfaSetup", "users.mfaEnable"]);
type AliasRequest = TokenRequest & { $alias?: { action?: string } };

function isAuthRequest(req: AliasRequest): boolean {
	return AUTH_ACTIONS.has(req.$alias?.action ?? "");
}

function rateLimitKey(req: AliasRequest, trustProxy: boolean): string {
	if (isAuthRequest(req)) return `ip:${clientIp(req, trustProxy)}`;
	try {
		const user = userFromRequest(req);
		if (user) return `user:${user.id}`;
	} catch {
		// An invalid token is refused later with 401; count it against the client's address.
	}
	return `ip:${clientIp(req, trustProxy)}`;
}

const SERVICE_UNAVAILABLE_RETRY_AFTER_S = 5;

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
						if (!/^multipart\/form-data/i.test(contentType))
							throw new MoleculerClientError("Send the file as multipart/form-data", 415, "UNSUPPORTED_MEDIA_TYPE");
						if (!multipartBoundary(contentType)) throw malformedMultipart();
					}
					copyRateLimitHeaders(res);
					if (isAuthRequest(req)) await this.checkAuthBudget(req, res);
					const key = req.headers["idempotency-key"];
					const meta = ctx.meta as CallMeta;
					if (typeof key === "string" && key.length > 0 && key.length <= 128) meta.idempotencyKey = key;
					meta.clientIp = clientIp(req, this.settings.trustProxy);
				},
				callOptions: {},
				logging: false,
			},
		],
		assets: { folder: publicFolder(), options: {} },
		onError(this: ThisService, req: GatewayRequest, res: ServerResponse, error: Error) {
			// A failed upload can report twice; the first answer stands.
			if (res.headersSent) return;
			const err = (
				isTemporarilyUnavailable(error, this.broker, this.isReady()) ? serviceUnavailable(error) : error
			) as ErrorLike;
			const status = errorStatus(err);
			const body = errorBody(err, status);
			if (status >= 500)
				this.logger.error({ requestId: req.$ctx?.requestID, url: req.url }, `Request failed: ${err && err.message}`);
			res.setHeader("Content-Type", "application/json; charset=utf-8");
			if (req.$ctx?.requestID) res.setHeader("X-Request-Id", req.$ctx.requestID);
			if (status === 503 && isNoLiveInstance(err))
				res.setHeader("Retry-After", String(SERVICE_UNAVAILABLE_RETRY_AFTER_S));
			if (status === 429) {
				// An account blocked after failed sign-ins says how long; a rate limit, when its window ends.
				const data = err.data as { retryAfterSeconds?: unknown } | undefined;
				const store = (req.$route as RateLimitedRoute | undefined)?.rateLimit?.store;
				const seconds =
					typeof data?.retryAfterSeconds === "number"
						? data.retryAfterSeconds
						: store
							? Math.max(1, Math.ceil((store.resetTime - Date.now()) / 1000))
							: 60;
				res.setHeader("Retry-After", String(seconds));
				copyRateLimitHeaders(res);
			}
			res.writeHead(status);
			res.end(JSON.stringify(body));
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
			handler(this: ThisService) {
				return { live: true, nodeID: this.broker.nodeID };
			},
		},
		ready: {
			rest: "GET /health/ready",
			auth: "public",
			params: {},
			handler(this: ThisService, ctx: Ctx) {
				const readiness = nodeReadiness(this.broker);
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
			return this.withCurrentStatus(ctx, user);
		},

		async authorize(this: ThisService, ctx: Ctx, route: Route, req: GatewayRequest) {
			const auth: ActionAuth = req.$action ? req.$action.auth : undefined;
			const problem = authorizationProblem(auth, ctx.meta.user ?? null, this.settings.requireAdminMfa);
			if (problem === "unauthenticated") throw new MoleculerClientError("Authentication required", 401, "UNAUTHORIZED");
			if (problem === "inactive")
				throw new MoleculerClientError("Account is suspended or deleted", 403, "ACCOUNT_INACTIVE");
			if (problem === "role") throw new MoleculerClientError("Your role may not do this", 403, "FORBIDDEN_ROLE");
			if (problem === "mfa")
				throw new MoleculerClientError("This operation needs an MFA-verified login", 403, "MFA_REQUIRED");
		},

		/** The sign-in endpoints' budget per client address (429 past it); its RateLimit-* headers win. */
		async checkAuthBudget(this: ThisService, req: GatewayRequest, res: GatewayResponse): Promise<void> {
			const { store, max } = this.authLimiter;
			const count = await store.inc(`auth-ip:${clientIp(req, this.settings.trustProxy)}`);
			setRateLimitHeaders(res, max, max - count, store.resetTime);
			if (count > max)
				throw new MoleculerClientError("Too many sign-in requests from this address", 429, "RATE_LIMITED", {
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
				if (!current) throw new MoleculerClientError("User no longer exists", 401, "INVALID_TOKEN");
				// Logout, a new password, role or status, or a deletion moved the epoch on: this session is over.
				if ((current.sessionEpoch ?? 0) !== (user.sessionEpoch ?? 0))
					throw new MoleculerClientError("This session has ended; sign in again", 401, "SESSION_REVOKED");
				return {
					...user,
					status: current.status,
					role: current.role,
					supplierId: current.supplierId || null,
					mfaEnabled: current.mfaEnabled,
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
