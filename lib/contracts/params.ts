/**
 * fastest-validator schemas that several services share: ids, points, pages, time ranges.
 * Plain data, so each action's `params` reads as its contract.
 */
export const idParam = { type: "string", min: 1, max: 64 } as const;

export const optionalId = { ...idParam, optional: true } as const;

/** An ISO 8601 timestamp with a time zone (the service checks that the date is real). */
export const isoTimeParam = {
	type: "string",
	max: 40,
	pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/,
} as const;

export const pointParam = {
	type: "object",
	strict: true,
	props: {
		lat: { type: "number", min: -90, max: 90 },
		lng: { type: "number", min: -180, max: 180 },
	},
} as const;

/** page (1-based) and pageSize (1–100, default 20), converted from query strings. */
export const pageParams = {
	page: { type: "number", integer: true, min: 1, default: 1, convert: true },
	pageSize: { type: "number", integer: true, min: 1, max: 100, default: 20, convert: true },
} as const;

export const timeRangeParams = {
	from: { ...isoTimeParam, optional: true },
	to: { ...isoTimeParam, optional: true },
} as const;

/** Names of params that hold a date but are not a real one (2024-99-99T99:99Z passes the pattern). */
export function impossibleDates(params: Record<string, unknown>, names: string[]): string[] {
	return names.filter((name) => {
		const value = params[name];
		return typeof value === "string" && !Number.isFinite(Date.parse(value));
	});
}
