/**
 * Every setting of GasRápido comes from an environment variable with a default that works on a
 * laptop. This module is the single place that reads process.env; the README's table mirrors it.
 */
import os from "os";
import path from "path";

function str(name: string, fallback: string): string {
	const value = process.env[name];
	return value === undefined || value === "" ? fallback : value;
}

function int(name: string, fallback: number): number {
	const raw = process.env[name];
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isFinite(value)) throw new Error(`Environment variable ${name} must be a number, got '${raw}'`);
	return Math.trunc(value);
}

export const ALL_SERVICES = [
	"api",
	"users",
	"invitations",
	"verification",
	"orders",
	"products",
	"couriers",
	"notifications",
	"payments",
	"analytics",
	"alerts",
	"vouchers",
	"reviews",
	"receipts",
	"proofs",
] as const;

export function readConfig() {
	const transporter = str("TRANSPORTER", "");
	const dataDir = str("DATA_DIR", "./data");
	const production = str("NODE_ENV", "") === "production";
	return {
		nodeID: str("NODE_ID", `${os.hostname()}-${process.pid}`),
		production,
		namespace: str("NAMESPACE", ""),
		services: str("SERVICES", ""),
		transporter,
		cacher: str("CACHER", "Memory"),
		mongoUri: str("MONGO_URI", ""),
		/** PostgreSQL for every service's store (one schema per service); takes precedence over MONGO_URI. */
		databaseUrl: str("DATABASE_URL", ""),
		/** ":memory:" keeps the store in memory only (tests); otherwise a folder for SQLite/NeDB files and documents. */
		dataDir,
		inMemoryStore: dataDir === ":memory:",
		/**
		 * Durable events: explicit adapter URL, else NATS JetStream when the transporter is NATS, else
		 * "sqlite" (in-process, durable in DATA_DIR/events.sqlite). "Fake" selects the package's
		 * in-memory, fire-and-forget adapter (loses events under load and on a crash).
		 */
		channelsAdapter: str("CHANNELS_ADAPTER", transporter.startsWith("nats://") ? transporter : "sqlite"),
		port: int("PORT", 3000),
		healthPort: int("HEALTH_PORT", 0),
		metricsPort: int("METRICS_PORT", 3030),
		jwtSecret: str("JWT_SECRET", ""),
		jwtPrivateKey: str("JWT_PRIVATE_KEY", ""),
		jwtPublicKey: str("JWT_PUBLIC_KEY", ""),
		/** Access tokens are short-lived; clients renew them with their refresh token. */
		jwtExpiresIn: str("JWT_EXPIRES_IN", "15m"),
		refreshTokenTtl: str("REFRESH_TOKEN_TTL", "30d"),
		documentsKey: str("DOCUMENTS_KEY", ""),
		adminEmail: str("ADMIN_EMAIL", ""),
		adminPassword: str("ADMIN_PASSWORD", ""),
		/** true: every admin needs an MFA-verified login for sensitive operations (enrol first); on by default in production. */
		requireAdminMfa: str("REQUIRE_ADMIN_MFA", production ? "true" : "false") === "true",
		logLevel: str("LOG_LEVEL", "info"),
		logFormat: str("LOG_FORMAT", "json"),
		tracingExporter: str("TRACING_EXPORTER", "none"),
		tracingEndpoint: str("TRACING_ENDPOINT", ""),
		rateLimitWindowMs: int("RATE_LIMIT_WINDOW_MS", 60_000),
		rateLimitMax: int("RATE_LIMIT_MAX", 600),
		rateLimitRedis: str("RATE_LIMIT_REDIS", ""),
		/** Sign-in, registration and MFA requests per window per client address (besides RATE_LIMIT_MAX). */
		authRateLimitMax: int("AUTH_RATE_LIMIT_MAX", 30),
		/** Behind a reverse proxy / ingress: take the client address from the first X-Forwarded-For hop. */
		trustProxy: str("TRUST_PROXY", "false") === "true",
		requestTimeoutMs: int("REQUEST_TIMEOUT_MS", 10_000),
		shutdownTimeoutMs: int("SHUTDOWN_TIMEOUT_MS", 10_000),
		bodyLimit: str("BODY_LIMIT", "100kb"),
		smtpUrl: str("SMTP_URL", ""),
		inviteTtlHours: int("INVITE_TTL_HOURS", 24 * 7),
		inviteExpirySweepMs: int("INVITE_EXPIRY_SWEEP_MS", 60_000),
		/** A claim older than this with no user behind it (a crash mid-registration) is released. */
		inviteClaimTimeoutMs: int("INVITE_CLAIM_TIMEOUT_MS", 5 * 60_000),
		requiredServices: str("REQUIRED_SERVICES", ""),
		/** Who issues delivered orders' receipts (lib/infra/receipts.ts): "html" (ours, no fiscal value). */
		receiptProvider: str("RECEIPT_PROVIDER", "html"),
		eventMaxAttempts: int("EVENT_MAX_ATTEMPTS", 4),
		eventRetryBaseMs: int("EVENT_RETRY_BASE_MS", 200),
		/** Durable events one consumer (service instance) handles at once per topic. */
		eventMaxInFlight: int("EVENT_MAX_IN_FLIGHT", 50),
		/** How long a consumer remembers an event id (longer than any redelivery can take). */
		eventLedgerRetentionMs: int("EVENT_LEDGER_RETENTION_MS", 7 * 24 * 3600_000),
		/** Verification documents (encrypted); default DATA_DIR/documents. */
		documentsDir: str("DOCUMENTS_DIR", ""),
		publicUrl: str("PUBLIC_URL", "http://localhost:3000"),
		mailFrom: str("MAIL_FROM", "GasRápido <no-reply@gasrapido.local>"),
		notify: {
			maxAttempts: int("NOTIFY_MAX_ATTEMPTS", 5),
			retryBaseMs: int("NOTIFY_RETRY_BASE_MS", 30_000),
			claimTimeoutMs: int("NOTIFY_CLAIM_TIMEOUT_MS", 2 * 60_000),
			sweepMs: int("NOTIFY_SWEEP_MS", 60_000),
		},
		alertEscalationCheckMs: int("ALERT_ESCALATION_CHECK_MS", 30_000),
		dispatch: {
			retryMs: int("DISPATCH_RETRY_MS", 15_000),
			/** How long a courier has to accept a job offer; 0 = no offers, the nearest courier is assigned at once. */
			offerMs: int("DISPATCH_OFFER_MS", 45_000),
			initialRadiusKm: Number(str("DISPATCH_RADIUS_KM", "5")),
			radiusGrowth: Number(str("DISPATCH_RADIUS_GROWTH", "1.5")),
			maxRadiusKm: Number(str("DISPATCH_MAX_RADIUS_KM", "30")),
			alertAfterMs: int("DISPATCH_ALERT_AFTER_MS", 10 * 60_000),
			positionMaxAgeMs: int("DISPATCH_POSITION_MAX_AGE_MS", 15 * 60_000),
			orphanAfterMs: int("COURIER_ORPHAN_MS", 60_000),
			locationFlushMs: int("LOCATION_FLUSH_MS", 5_000),
			locationMaxAgeMs: int("LOCATION_MAX_AGE_MS", 5 * 60_000),
			locationMaxSkewMs: int("LOCATION_MAX_SKEW_MS", 60_000),
			trackHeartbeatMs: int("TRACK_HEARTBEAT_MS", 15_000),
		},
		orderPromiseMinutes: int("ORDER_PROMISE_MINUTES", 60),
		orderEtaTimeoutMs: int("ORDER_ETA_TIMEOUT_MS", 500),
		/** How long an order may stay `created` before orders asks payments about it and repairs it. */
		orderPaymentDeadlineMs: int("ORDER_PAYMENT_DEADLINE_MS", 120_000),
		supplierTimeZone: str("SUPPLIER_TIME_ZONE", "America/Sao_Paulo"),
		/** How long stock stays reserved for an order that is neither confirmed nor cancelled. */
		reservationTtlMs: int("RESERVATION_TTL_MS", 15 * 60_000),
		/** How often reservations past their expiry or of finished orders are repaired (0 = only at start-up). */
		reservationSweepMs: int("RESERVATION_SWEEP_MS", 60_000),
		/** The marketplace's money: commission (basis points, 1000 = 10 %), courier fee, daily statements. */
		ledger: {
			commissionBps: int("COMMISSION_BPS", 1000),
			courierFeeBaseCents: int("COURIER_FEE_BASE_CENTS", 500),
			courierFeePerKmCents: int("COURIER_FEE_PER_KM_CENTS", 150),
			/** How often the daily-statement job looks for yesterday's missing statements (0 = off). */
			dailyStatementsCheckMs: int("DAILY_STATEMENTS_CHECK_MS", 3_600_000),
		},
		/** Reorder reminders (analytics): how often due reminders are looked for (0 = off). */
		reminders: {
			checkMs: int("REMINDER_CHECK_MS", 3_600_000),
		},
		/** Gás do Povo vouchers (the vouchers service). */
		vouchers: {
			provider: str("VOUCHER_PROVIDER", "simulated"),
			claimTtlMs: int("VOUCHER_CLAIM_TTL_MS", 30 * 60_000),
			/** The most an order paid with a voucher may cost (the programme's refill value). */
			maxCents: int("GAS_DO_POVO_MAX_CENTS", 15_000),
		},
		/** Addresses and maps (lib/infra/geocoder.ts, mixins/geo.mixin.ts, the web app's map). */
		geo: {
			/** A Nominatim-compatible geocoding API (self-hostable). */
			geocoderUrl: str("GEOCODER_URL", "https://nominatim.openstreetmap.org"),
			/** A ViaCEP-compatible CEP API; "none" uses the geocoder's postalcode search. */
			cepUrl: str("CEP_URL", "https://viacep.com.br") === "none" ? "" : str("CEP_URL", "https://viacep.com.br"),
			timeoutMs: int("GEOCODER_TIMEOUT_MS", 5000),
			countryCodes: str("GEOCODER_COUNTRIES", "br"),
			/** Map tiles for the web app ({z}/{x}/{y}); the pages work without them. */
			tileUrl: str("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
			tileAttribution: str("MAP_TILE_ATTRIBUTION", "© OpenStreetMap contributors"),
		},
		payments: {
			provider: str("PAYMENT_PROVIDER", "simulated"),
			providerTimeoutMs: int("PAYMENT_PROVIDER_TIMEOUT_MS", 5000),
			pixAutoConfirmMs: int("PIX_AUTO_CONFIRM_MS", 3000),
			/** A PIX charge not paid this long after it was created expires (the order is cancelled). */
			pixExpiryMs: int("PIX_EXPIRY_MS", 10 * 60_000),
			reconcileIntervalMs: int("RECONCILE_INTERVAL_MS", 300_000),
			reconcileGraceMs: int("RECONCILE_GRACE_MS", 60_000),
			/** More repairs than this in one reconciliation run publish reconciliation.mismatch (0 = never). */
			reconcileAlertThreshold: int("RECONCILIATION_ALERT_THRESHOLD", 5),
			/** How long a customer may pay again after a failed payment before the order is cancelled (0 = cancel at once). */
			retryGraceMs: int("PAYMENT_RETRY_GRACE_MS", 10 * 60_000),
		},
	};
}

export type AppConfig = ReturnType<typeof readConfig>;

/** Read per call so that tests can change the environment between brokers. */
export function config(): AppConfig {
	return readConfig();
}

export function dataPath(...parts: string[]): string {
	return path.resolve(config().dataDir, ...parts);
}
