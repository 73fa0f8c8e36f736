/**
 * Mixed into the gateway (services/api.service.ts): the OpenAPI 3.1 document of every route it
 * exposes, at GET /api/openapi.json, and an interactive reference (Swagger UI from the installed
 * swagger-ui-dist package, no CDN) at GET /api/docs. Both public.
 *
 * The document is built on each request from the gateway's aliases (what it really routes) and the
 * registry's action definitions; definitions are remembered, so the routes of a service with no
 * live instance (kept by the gateway, answering 503) stay documented.
 */
import { readFileSync } from "fs";
import path from "path";
import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import { buildOpenApi, OpenApiDocument, RoutedAction } from "../lib/infra/openapi";

/** The part of a moleculer-web alias this reads. */
interface GatewayAlias {
	method: string;
	fullPath: string;
	action: string | null;
	type: string;
	route?: { path?: string };
}

interface ActionDefinition {
	params?: unknown;
	auth?: unknown;
	description?: string;
}

interface OpenApiThis {
	broker: ServiceBroker;
	aliases?: GatewayAlias[];
	actionDefinitions?: Map<string, ActionDefinition>;
	routedActions(): RoutedAction[];
}

type DocsMeta = { $responseType?: string; $responseHeaders?: Record<string, string> };

/** The /api route's prefix (services/api.service.ts). */
export const API_PREFIX = "/api";

const isRecord = (value: unknown): value is Record<string, unknown> =>
	typeof value === "object" && value !== null && !Array.isArray(value);

const SWAGGER_DIR = path.dirname(require.resolve("swagger-ui-dist/package.json"));
const ASSET_TYPES: Record<string, string> = {
	"swagger-ui.css": "text/css; charset=utf-8",
	"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
	"swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
	"favicon-32x32.png": "image/png",
};
/** Our own initializer (no inline script in the page). */
const INITIALIZER = `window.onload = function () {
	window.ui = SwaggerUIBundle({
		url: "${API_PREFIX}/openapi.json",
		dom_id: "#swagger-ui",
		deepLinking: true,
		persistAuthorization: true,
		presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
		layout: "StandaloneLayout",
	});
};
`;
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>GasRápido API reference</title>
<link rel="stylesheet" href="${API_PREFIX}/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="${API_PREFIX}/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${API_PREFIX}/docs/swagger-ui-bundle.js"></script>
<script src="${API_PREFIX}/docs/swagger-ui-standalone-preset.js"></script>
<script src="${API_PREFIX}/docs/swagger-initializer.js"></script>
</body>
</html>
`;
const assetCache = new Map<string, Buffer>();

function asset(file: string): Buffer {
	const cached = assetCache.get(file);
	if (cached) return cached;
	const content =
		file === "swagger-initializer.js" ? Buffer.from(INITIALIZER) : readFileSync(path.join(SWAGGER_DIR, file));
	assetCache.set(file, content);
	return content;
}

const version = (): string => {
	try {
		const pkg: unknown = JSON.parse(readFileSync(path.resolve(__dirname, "../package.json"), "utf8"));
		return isRecord(pkg) && typeof pkg.version === "string" ? pkg.version : "0.0.0";
	} catch {
		// From dist/mixins the package.json is one folder further up.
		try {
			const pkg: unknown = JSON.parse(readFileSync(path.resolve(__dirname, "../../package.json"), "utf8"));
			return isRecord(pkg) && typeof pkg.version === "string" ? pkg.version : "0.0.0";
		} catch {
			return "0.0.0";
		}
	}
};

export const OpenApiMixin: Partial<ServiceSchema> = {
	actions: {
		openapi: {
			rest: "GET /openapi.json",
			auth: "public",
			params: {},
			handler(this: OpenApiThis): OpenApiDocument {
				return buildOpenApi(this.routedActions(), { version: version() });
			},
		},
		docs: {
			rest: "GET /docs",
			auth: "public",
			params: {},
			handler(ctx: Context<unknown, DocsMeta>): string {
				ctx.meta.$responseType = "text/html; charset=utf-8";
				return PAGE;
			},
		},
		docsAsset: {
			rest: "GET /docs/:file",
			auth: "public",
			params: { file: { type: "enum", values: [...Object.keys(ASSET_TYPES), "swagger-initializer.js"] } },
			handler(ctx: Context<{ file: string }, DocsMeta>): Buffer {
				const file = ctx.params.file;
				ctx.meta.$responseType = ASSET_TYPES[file] ?? "text/javascript; charset=utf-8";
				ctx.meta.$responseHeaders = { "Cache-Control": "public, max-age=3600" };
				return asset(file);
			},
		},
	},
	methods: {
		/** Every alias of the /api route that calls an action, with the action's definition. */
		routedActions(this: OpenApiThis): RoutedAction[] {
			const definitions = (this.actionDefinitions = this.actionDefinitions ?? new Map());
			for (const item of this.broker.registry.getActionList({ skipInternal: true })) {
				const action: unknown = (item as { action?: unknown }).action;
				if (!isRecord(action)) continue;
				definitions.set(item.name, {
					params: action.params,
					auth: action.auth,
					description: typeof action.description === "string" ? action.description : undefined,
				});
			}
			const routes: RoutedAction[] = [];
			for (const alias of this.aliases ?? []) {
				if (!alias.action || alias.route?.path !== API_PREFIX || alias.method === "*") continue;
				const def = definitions.get(alias.action) ?? {};
				routes.push({ method: alias.method, path: alias.fullPath, action: alias.action, type: alias.type, ...def });
			}
			return routes;
		},
	},
};
