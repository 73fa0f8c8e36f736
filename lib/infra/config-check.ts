/**
 * Every setting in the README's configuration table, checked before a node starts
 * (scripts/start.js): an invalid value is one clear line naming the variable, the value and what
 * is expected, and the node exits with EXIT_CODES.config instead of starting with a setting it
 * would silently ignore or fail on later (LOG_FORMAT=xml, CACHER=memcached://…, JWT_EXPIRES_IN=forever
 * → every login a 500, an unknown TRACING_EXPORTER …).
 *
 * Empty or unset means the default (see lib/infra/config.ts), and the default is always valid.
 */
import crypto from "crypto";
import { ALL_SERVICES } from "./config";

/** Process exit codes of a node that cannot start (sysexits.h where one fits). */
export const EXIT_CODES = {
	/** EX_CONFIG: an invalid setting. */
	config: 78,
	/** A port this node must listen on is taken (98 is EADDRINUSE's errno on Linux). */
	portInUse: 98,
} as const;

export interface SettingProblem {
	variable: string;
	value: string;
	problem: string;
}

type Env = Record<string, string | undefined>;
/** Returns what is wrong with a (non-empty) value, or null when it is fine. */
type Check = (value: string, env: Env) => string | null;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"];
export const TRACING_EXPORTERS = ["none", "console", "zipkin", "otlp", "jaeger"];

const oneOf =
	(values: string[], caseInsensitive = false): Check =>
	(v) =>
		(caseInsensitive ? values.map((x) => x.toLowerCase()).includes(v.toLowerCase()) : values.includes(v))
			? null
			: `expected one of ${values.join(", ")}`;

const int =
	(min: number, max = Number.MAX_SAFE_INTEGER): Check =>
	(v) =>
		/^-?\d+$/.test(v.trim()) && Number(v) >= min && Number(v) <= max
			? null
			: `expected a whole number${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` from ${min} to ${max}`}`;

const num =
	(min: number, exclusiveMin = false): Check =>
	(v) => {
		const n = Number(v);
		if (v.trim() === "" || !Number.isFinite(n) || (exclusiveMin ? n <= min : n < min))
			return `expected a number ${exclusiveMin ? ">" : "≥"} ${min}`;
		return null;
	};

const port = int(0, 65535);
const bool = oneOf(["true", "false"]);

function url(schemes: string[]): Check {
	return (v) => {
		let u: URL;
		try {
			u = new URL(v);
		} catch {
			return `expected a URL (${schemes.map((s) => `${s}//…`).join(" or ")})`;
		}
		if (!schemes.includes(u.protocol)) return `expected a ${schemes.map((s) => `${s}//`).join(" or ")} URL`;
		if (!u.hostname) return "the URL has no host";
		if (u.port && !(Number(u.port) > 0 && Number(u.port) <= 65535)) return "the URL's port is out of range";
		return null;
	};
}

/** Durations as jsonwebtoken takes them: seconds as a number, or the `ms` package's "12h", "7d", "30m" … */
const DURATION =
	/^\d+(\.\d+)?\s*(ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?|y|yrs?|years?)?$/i;
const duration: Check = (v) =>
	DURATION.test(v.trim()) && Number.parseFloat(v) > 0
		? null
		: 'expected a duration such as "12h", "30m", "7d" or seconds';

/** Body sizes as body-parser (the bytes package) takes them: "100kb", "1mb", 512. */
const byteSize: Check = (v) =>
	/^\d+(\.\d+)?\s*(b|kb|mb|gb|tb|pb)?$/i.test(v.trim()) ? null : 'expected a size such as "100kb" or "1mb"';

const NAME = /^[A-Za-z0-9_-]+$/;

function pem(kind: "private" | "public"): Check {
	return (v) => {
		try {
			const text = v.replace(/\\n/g, "\n");
			if (kind === "private") crypto.createPrivateKey(text);
			else crypto.createPublicKey(text);
			return null;
		} catch {
			return `expected a PEM ${kind} key`;
		}
	};
}

export const SETTINGS: Record<string, Check> = {
	NODE_ID: (v) => (/^[^\s*>]+$/.test(v) ? null : "expected no spaces, '*' or '>' (it is part of NATS subjects)"),
	NAMESPACE: (v) =>
		NAME.test(v) ? null : "expected letters, digits, '-' or '_' (it prefixes NATS subjects and streams)",
	SERVICES: (v) => {
		const unknown = v
			.split(",")
			.map((s) => s.trim())
			.filter((s) => s && !s.includes("/") && !(ALL_SERVICES as readonly string[]).includes(s));
		return unknown.length
			? `unknown service(s) ${unknown.join(", ")}; expected a comma list of ${ALL_SERVICES.join(", ")}`
			: null;
	},
	TRANSPORTER: url(["nats:", "tls:"]),
	CACHER: (v) =>
		["memory", "none"].includes(v.toLowerCase())
			? null
			: url(["redis:", "rediss:"])(v, {}) && "expected Memory, none, or a redis:// URL",
	MONGO_URI: url(["mongodb:", "mongodb+srv:"]),
	DATABASE_URL: url(["postgres:", "postgresql:"]),
	DATA_DIR: () => null,
	CHANNELS_ADAPTER: (v) =>
		v === "Fake" || v === "sqlite"
			? null
			: url(["nats:", "redis:", "rediss:"])(v, {}) &&
				"expected a nats:// or redis:// URL, sqlite (one process, on disk) or Fake (in-process, in memory)",
	PORT: port,
	HEALTH_PORT: port,
	METRICS_PORT: port,
	JWT_SECRET: (v) => (v.length >= 16 ? null : "expected at least 16 characters"),
	JWT_PRIVATE_KEY: pem("private"),
	JWT_PUBLIC_KEY: pem("public"),
	JWT_EXPIRES_IN: duration,
	REFRESH_TOKEN_TTL: (v) =>
		/^\d+(\.\d+)?\s*(ms|s|m|h|d|w)?$/i.test(v.trim()) && Number.parseFloat(v) > 0
			? null
			: 'expected a duration such as "30d", "12h" or seconds',
	DOCUMENTS_KEY: (v) => (/^[0-9a-fA-F]{64}$/.test(v) ? null : "expected 64 hex characters (openssl rand -hex 32)"),
	ADMIN_EMAIL: (v) => (/^[^\s@]+@[^\s@]+$/.test(v) ? null : "expected an e-mail address"),
	ADMIN_PASSWORD: (v) => (v.length >= 8 ? null : "expected at least 8 characters"),
	REQUIRE_ADMIN_MFA: bool,
	LOG_LEVEL: oneOf(LOG_LEVELS),
	LOG_FORMAT: oneOf(["json", "pretty"]),
	TRACING_EXPORTER: oneOf(TRACING_EXPORTERS, true),
	TRACING_ENDPOINT: url(["http:", "https:"]),
	RATE_LIMIT_WINDOW_MS: int(1),
	RATE_LIMIT_MAX: int(1),
	RATE_LIMIT_REDIS: url(["redis:", "rediss:"]),
	AUTH_RATE_LIMIT_MAX: int(1),
	TRUST_PROXY: bool,
	REQUEST_TIMEOUT_MS: int(0),
	SHUTDOWN_TIMEOUT_MS: int(0),
	BODY_LIMIT: byteSize,
	REQUIRED_SERVICES: (v) =>
		v.split(",").every((s) => !s.trim() || /^[A-Za-z0-9_.$-]+$/.test(s.trim()))
			? null
			: "expected a comma list of service names",
	SMTP_URL: url(["smtp:", "smtps:"]),
	INVITE_TTL_HOURS: int(1),
	INVITE_EXPIRY_SWEEP_MS: int(1),
	INVITE_CLAIM_TIMEOUT_MS: int(1),
	DOCUMENTS_DIR: () => null,
	EVENT_MAX_ATTEMPTS: int(1),
	EVENT_RETRY_BASE_MS: int(0),
	EVENT_LEDGER_RETENTION_MS: int(1),
	EVENT_MAX_IN_FLIGHT: int(1),
	PAYMENT_PROVIDER: oneOf(["simulated"]),
	PAYMENT_PROVIDER_TIMEOUT_MS: int(1),
	PIX_AUTO_CONFIRM_MS: int(0),
	PIX_EXPIRY_MS: int(1),
	RECONCILE_INTERVAL_MS: int(0),
	RECONCILE_GRACE_MS: int(0),
	RECONCILIATION_ALERT_THRESHOLD: int(0),
	ORDER_PAYMENT_DEADLINE_MS: int(1),
	RESERVATION_TTL_MS: int(1),
	RESERVATION_SWEEP_MS: int(0),
	PAYMENT_RETRY_GRACE_MS: int(0),
	ORDER_PROMISE_MINUTES: int(1),
	ORDER_ETA_TIMEOUT_MS: int(1),
	SUPPLIER_TIME_ZONE: (v) => {
		try {
			new Intl.DateTimeFormat("en", { timeZone: v });
			return null;
		} catch {
			return "expected an IANA time zone such as America/Sao_Paulo";
		}
	},
	DISPATCH_RETRY_MS: int(1),
	DISPATCH_RADIUS_KM: num(0, true),
	DISPATCH_RADIUS_GROWTH: num(1),
	DISPATCH_MAX_RADIUS_KM: (v, env) =>
		num(0, true)(v, env) ??
		(Number(v) < Number(env.DISPATCH_RADIUS_KM || 5) ? "expected at least DISPATCH_RADIUS_KM" : null),
	DISPATCH_ALERT_AFTER_MS: int(1),
	DISPATCH_POSITION_MAX_AGE_MS: int(1),
	COURIER_ORPHAN_MS: int(1),
	LOCATION_FLUSH_MS: int(0),
	LOCATION_MAX_AGE_MS: int(1),
	LOCATION_MAX_SKEW_MS: int(0),
	TRACK_HEARTBEAT_MS: int(1),
	PUBLIC_URL: url(["http:", "https:"]),
	MAIL_FROM: (v) => (/@/.test(v) ? null : 'expected a sender such as "GasRápido <no-reply@example.com>"'),
	NOTIFY_MAX_ATTEMPTS: int(1),
	NOTIFY_RETRY_BASE_MS: int(0),
	NOTIFY_SWEEP_MS: int(1),
	NOTIFY_CLAIM_TIMEOUT_MS: int(1),
	ALERT_ESCALATION_CHECK_MS: int(1),
	RECEIPT_PROVIDER: oneOf(["html"]),
	COMMISSION_BPS: int(0, 10_000),
	COURIER_FEE_BASE_CENTS: int(0),
	COURIER_FEE_PER_KM_CENTS: int(0),
	DAILY_STATEMENTS_CHECK_MS: int(0),
	VOUCHER_PROVIDER: oneOf(["simulated"]),
	VOUCHER_CLAIM_TTL_MS: int(1),
	GAS_DO_POVO_MAX_CENTS: int(1),
	REMINDER_CHECK_MS: int(0),
	DISPATCH_OFFER_MS: int(0),
	GEOCODER_URL: url(["http:", "https:"]),
	CEP_URL: (v, env) => (v === "none" ? null : url(["http:", "https:"])(v, env)),
	GEOCODER_TIMEOUT_MS: int(1),
	GEOCODER_COUNTRIES: (v) => (/^[a-z]{2}(,[a-z]{2})*$/i.test(v) ? null : "expected country codes such as br or br,pt"),
	MAP_TILE_URL: (v) =>
		/^(https?:\/\/|\/)/.test(v) && ["{z}", "{x}", "{y}"].every((p) => v.includes(p))
			? null
			: "expected a tile URL template with {z}, {x} and {y}",
	MAP_TILE_ATTRIBUTION: (v) => (v.length <= 200 ? null : "expected at most 200 characters"),
};

/**
 * Values that only stand in for a secret: the k8s Secret's `REPLACE-ME…`, docker-compose.yml's
 * `dev-only-…` defaults and its example DOCUMENTS_KEY (00 01 02 … 1f), `changeme`.
 */
const PLACEHOLDER = /REPLACE[-_]?ME|^dev-only-|CHANGE[-_]?ME/i;
const EXAMPLE_DOCUMENTS_KEY = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, "0")).join("");

export function isPlaceholderSecret(value: string): boolean {
	return PLACEHOLDER.test(value) || value.toLowerCase() === EXAMPLE_DOCUMENTS_KEY || /^(.)\1*$/.test(value);
}

/** Secrets given whole, and URLs whose password is a secret. */
const SECRET_SETTINGS = ["JWT_SECRET", "DOCUMENTS_KEY", "ADMIN_PASSWORD"];
const URL_SETTINGS = [
	"DATABASE_URL",
	"MONGO_URI",
	"TRANSPORTER",
	"CACHER",
	"RATE_LIMIT_REDIS",
	"CHANNELS_ADAPTER",
	"SMTP_URL",
];

function urlPassword(value: string): string {
	try {
		return decodeURIComponent(new URL(value).password);
	} catch {
		return "";
	}
}

/** In production a placeholder secret is refused: one problem per setting. */
function placeholderProblems(env: Env): SettingProblem[] {
	const problems: SettingProblem[] = [];
	const problem = "is a placeholder: set a real secret in production (NODE_ENV=production)";
	for (const variable of SECRET_SETTINGS) {
		const value = env[variable];
		if (value && isPlaceholderSecret(value)) problems.push({ variable, value: "", problem });
	}
	for (const variable of URL_SETTINGS) {
		const password = env[variable] ? urlPassword(env[variable]!) : "";
		if (password && isPlaceholderSecret(password))
			problems.push({ variable, value: "", problem: `its password ${problem}` });
	}
	return problems;
}

/** Settings that must be set together, or in production. */
function crossChecks(env: Env): SettingProblem[] {
	const problems: SettingProblem[] = [];
	const set = (k: string) => !!env[k];
	if (set("JWT_PRIVATE_KEY") !== set("JWT_PUBLIC_KEY")) {
		const missing = set("JWT_PRIVATE_KEY") ? "JWT_PUBLIC_KEY" : "JWT_PRIVATE_KEY";
		problems.push({ variable: missing, value: "", problem: "RS256 needs both JWT_PRIVATE_KEY and JWT_PUBLIC_KEY" });
	}
	if (env.NODE_ENV === "production") {
		if (!set("JWT_SECRET") && !set("JWT_PRIVATE_KEY"))
			problems.push({
				variable: "JWT_SECRET",
				value: "",
				problem: "must be set in production (NODE_ENV=production), or JWT_PRIVATE_KEY/JWT_PUBLIC_KEY",
			});
		if (!set("DOCUMENTS_KEY"))
			problems.push({
				variable: "DOCUMENTS_KEY",
				value: "",
				problem: "must be set in production (NODE_ENV=production): 64 hex characters",
			});
		problems.push(...placeholderProblems(env));
	}
	return problems;
}

/** Every problem with the settings in `env` (empty when the node may start). */
export function checkSettings(env: Env = process.env): SettingProblem[] {
	const problems: SettingProblem[] = [];
	for (const [variable, check] of Object.entries(SETTINGS)) {
		const value = env[variable];
		if (value === undefined || value === "") continue;
		const problem = check(value, env);
		if (problem) problems.push({ variable, value, problem });
	}
	return [...problems, ...crossChecks(env)];
}

/** Secrets are never echoed back in a log line. */
const SECRET = /SECRET|PASSWORD|KEY|SMTP_URL|MONGO_URI|TRANSPORTER|REDIS|CACHER/;

export function redact(variable: string, value: string): string {
	if (!value) return value;
	if (/URI|URL|TRANSPORTER|REDIS|CACHER|ADAPTER/.test(variable)) return redactUrl(value);
	return SECRET.test(variable) ? "<redacted>" : value;
}

/** A URL without its password (nats://user:***@host:4222). */
export function redactUrl(value: string): string {
	try {
		const u = new URL(value);
		if (u.password) u.password = "***";
		return u.toString();
	} catch {
		return value;
	}
}

export function describeProblem(p: SettingProblem): string {
	return p.value
		? `Invalid setting ${p.variable}=${JSON.stringify(redact(p.variable, p.value))}: ${p.problem}`
		: `Invalid setting ${p.variable}: ${p.problem}`;
}
