/**
 * Mixed into the gateway (services/api.service.ts): addresses and maps for the web app.
 *
 *   GET /api/geo/config            the map's tile URL and attribution (public)
 *   GET /api/geo/search?q=         places for an address in words (public)
 *   GET /api/geo/cep/:cep          the address of a CEP, with its point when it can be placed (public)
 *   GET /api/geo/reverse?lat=&lng= the address at a point (public)
 *   GET /api/vendor/leaflet/:file  Leaflet from the installed package (no CDN), and its images
 *
 * The geocoder is lib/infra/geocoder.ts (GEOCODER_URL, CEP_URL). A provider that cannot be reached
 * answers 503 GEOCODER_UNAVAILABLE (data.retryAfterSeconds); an unknown CEP 404. Answers are cached in
 * memory for an hour (the public Nominatim asks clients not to repeat the same query).
 */
import { readFileSync } from "fs";
import path from "path";
import { Context, Service, ServiceSchema } from "moleculer";
import { config } from "../lib/infra/config";
import { appError, notFound } from "../lib/infra/errors";
import { Geocoder, GeocoderUnavailableError, HttpGeocoder } from "../lib/infra/geocoder";

type AssetMeta = { $responseType?: string; $responseHeaders?: Record<string, string> };

interface GeoThis {
	geocoder: Geocoder;
	geoCache: Map<string, { value: unknown; expires: number }>;
	mapTiles: { tileUrl: string; attribution: string };
	geocode<T>(key: string, run: () => Promise<T>): Promise<T>;
}

const CACHE_TTL_MS = 3600_000;
const CACHE_MAX = 5_000;

const LEAFLET_DIR = path.join(path.dirname(require.resolve("leaflet/package.json")), "dist");
const LEAFLET_FILES: Record<string, string> = {
	"leaflet-src.esm.js": "text/javascript; charset=utf-8",
	"leaflet.css": "text/css; charset=utf-8",
};
const LEAFLET_IMAGES = ["layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png", "marker-shadow.png"];
const assets = new Map<string, Buffer>();
function leafletAsset(file: string): Buffer {
	let content = assets.get(file);
	if (!content) {
		content = readFileSync(path.join(LEAFLET_DIR, file));
		assets.set(file, content);
	}
	return content;
}

const latParam = { type: "number", min: -90, max: 90, convert: true } as const;
const lngParam = { type: "number", min: -180, max: 180, convert: true } as const;

function unavailable(err: GeocoderUnavailableError): Error {
	return appError("GEOCODER_UNAVAILABLE", `The address service is unavailable right now (${err.message})`, {
		retryAfterSeconds: 10,
	});
}

export const GeoMixin: Partial<ServiceSchema> = {
	actions: {
		geoConfig: {
			rest: "GET /geo/config",
			auth: "public",
			params: {},
			handler(this: GeoThis) {
				return this.mapTiles;
			},
		},
		geoSearch: {
			rest: "GET /geo/search",
			auth: "public",
			params: {
				q: { type: "string", min: 3, max: 200, trim: true },
				limit: { type: "number", integer: true, min: 1, max: 10, default: 5, convert: true },
			},
			handler(this: GeoThis, ctx: Context<{ q: string; limit: number }>) {
				const { q, limit } = ctx.params;
				return this.geocode(`search:${limit}:${q.toLowerCase()}`, async () => ({
					rows: await this.geocoder.search(q, limit),
				}));
			},
		},
		geoCep: {
			rest: "GET /geo/cep/:cep",
			auth: "public",
			params: { cep: { type: "string", pattern: /^\d{5}-?\d{3}$/, messages: { stringPattern: "A CEP has 8 digits" } } },
			async handler(this: GeoThis, ctx: Context<{ cep: string }>) {
				const cep = ctx.params.cep.replace("-", "");
				const place = await this.geocode(`cep:${cep}`, () => this.geocoder.cep(cep));
				if (!place) throw notFound("CEP", cep);
				return place;
			},
		},
		geoReverse: {
			rest: "GET /geo/reverse",
			auth: "public",
			params: { lat: latParam, lng: lngParam },
			async handler(this: GeoThis, ctx: Context<{ lat: number; lng: number }>) {
				// ~11 m: pins dragged a hand's width apart share an answer.
				const { lat, lng } = ctx.params;
				const key = `reverse:${lat.toFixed(4)},${lng.toFixed(4)}`;
				const place = await this.geocode(key, () => this.geocoder.reverse(lat, lng));
				if (!place) throw notFound("address at this point");
				return place;
			},
		},
		leafletAsset: {
			rest: "GET /vendor/leaflet/:file",
			auth: "public",
			params: { file: { type: "enum", values: Object.keys(LEAFLET_FILES) } },
			handler(ctx: Context<{ file: string }, AssetMeta>): Buffer {
				ctx.meta.$responseType = LEAFLET_FILES[ctx.params.file];
				ctx.meta.$responseHeaders = { "Cache-Control": "public, max-age=86400" };
				return leafletAsset(ctx.params.file);
			},
		},
		leafletImage: {
			rest: "GET /vendor/leaflet/images/:file",
			auth: "public",
			params: { file: { type: "enum", values: LEAFLET_IMAGES } },
			handler(ctx: Context<{ file: string }, AssetMeta>): Buffer {
				ctx.meta.$responseType = "image/png";
				ctx.meta.$responseHeaders = { "Cache-Control": "public, max-age=86400" };
				return leafletAsset(path.join("images", ctx.params.file));
			},
		},
	},

	methods: {
		/** One geocoder call per key per hour; a provider failure becomes 503 (and is not cached). */
		async geocode<T>(this: GeoThis, key: string, run: () => Promise<T>): Promise<T> {
			const hit = this.geoCache.get(key);
			if (hit && hit.expires > Date.now()) return hit.value as T;
			try {
				const value = await run();
				if (this.geoCache.size >= CACHE_MAX) this.geoCache.clear();
				this.geoCache.set(key, { value, expires: Date.now() + CACHE_TTL_MS });
				return value;
			} catch (err) {
				if (err instanceof GeocoderUnavailableError) throw unavailable(err);
				throw err;
			}
		},
	},

	created(this: Service) {
		const self = this as unknown as GeoThis;
		const geo = config().geo;
		self.geoCache = new Map();
		self.mapTiles = { tileUrl: geo.tileUrl, attribution: geo.tileAttribution };
		self.geocoder = new HttpGeocoder({
			geocoderUrl: geo.geocoderUrl,
			cepUrl: geo.cepUrl,
			timeoutMs: geo.timeoutMs,
			countryCodes: geo.countryCodes,
			userAgent: `GasRapido/1.0 (${config().publicUrl})`,
		});
	},
};
