/**
 * Bounded sample windows for the alert rules: each sample is counted once (claimed by its event id)
 * in its series' minute bucket; reading a window reads at most windowMinutes + 1 buckets and prunes
 * the older ones, so the work per event does not grow with history.
 */
import type { SeenMark, WindowBucket } from "../contracts/alerts";
import { bucketOf, bucketWindowStats, WindowStats } from "../domain/alert-rules";
import { Collection, UniqueViolationError } from "./store/types";

export class WindowCounters {
	constructor(
		private counters: Collection<WindowBucket>,
		private seen: Collection<SeenMark>,
	) {}

	/** Counts a sample once; false when this event was counted before. */
	async add(sample: { id: string; type: string; time: string }, series: string, failed: boolean): Promise<boolean> {
		try {
			await this.seen.insert({ _id: `sample:${sample.id}`, type: sample.type, at: sample.time });
		} catch (err) {
			if (err instanceof UniqueViolationError) return false;
			throw err;
		}
		const start = bucketOf(sample.time);
		const _id = `${series}:${start}`;
		const inc = { total: 1, failed: failed ? 1 : 0 };
		if (await this.counters.updateOne({ _id }, { $inc: inc })) return true;
		try {
			await this.counters.insert({ _id, series, start, ...inc });
		} catch (err) {
			if (!(err instanceof UniqueViolationError)) throw err;
			await this.counters.updateOne({ _id }, { $inc: inc });
		}
		return true;
	}

	/** The window ending at `now`, after pruning the buckets older than it. */
	async read(series: string, now: string, windowMinutes: number): Promise<{ stats: WindowStats; bucketsRead: number }> {
		const first = bucketOf(Date.parse(now) - windowMinutes * 60_000);
		await this.counters.removeMany({ series, start: { $lt: first } });
		const buckets = await this.counters.find({ query: { series, start: { $gte: first, $lte: bucketOf(now) } } });
		return { stats: bucketWindowStats(buckets, now, windowMinutes), bucketsRead: buckets.length };
	}

	stored(series: string): Promise<number> {
		return this.counters.count({ series });
	}
}

/** Insert that treats "already there" as done. */
export async function insertOnce<T extends { _id: string }>(
	collection: Collection<T & Record<string, unknown>>,
	doc: T & Record<string, unknown>,
): Promise<boolean> {
	try {
		await collection.insert(doc);
		return true;
	} catch (err) {
		if (err instanceof UniqueViolationError) return false;
		throw err;
	}
}
