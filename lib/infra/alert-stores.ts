/** The alerts service's rule overrides and timed watches, on their record kinds. */
import type { RuleOverride, Watch } from "../contracts/alerts";
import { effectiveRule, RuleConfig, RuleName, WatchClose, WatchOpen } from "../domain/alert-rules";
import { nowIso } from "./ids";
import { Collection } from "./store/types";
import { insertOnce } from "./window-counters";

export class RuleStore {
	constructor(private rules: Collection<RuleOverride>) {}

	async config(name: RuleName): Promise<RuleConfig> {
		const override = await this.rules.findById(name);
		return effectiveRule(name, override ? override.config : null);
	}

	async save(name: RuleName, change: Partial<RuleConfig>, by: string): Promise<void> {
		const set = Object.fromEntries(Object.entries(change).map(([k, v]) => [`config.${k}`, v]));
		if (await this.rules.updateOne({ _id: name }, { $set: { ...set, updatedAt: nowIso(), updatedBy: by } })) return;
		const inserted = await insertOnce(this.rules, { _id: name, config: change, updatedAt: nowIso(), updatedBy: by });
		if (!inserted) await this.rules.updateOne({ _id: name }, { $set: set });
	}
}

export const watchId = (rule: string, subject: string) => `watch:${rule}:${subject}`;

export class WatchStore {
	constructor(private watches: Collection<Watch>) {}

	get(rule: string, subject: string): Promise<Watch | null> {
		return this.watches.findById(watchId(rule, subject));
	}

	/** Starts watching; nothing when already watched, or already closed by an event that overtook this one. */
	async open(watch: WatchOpen): Promise<void> {
		if (!watch.subject) return;
		const doc = {
			_id: watchId(watch.rule, watch.subject),
			...watch,
			closed: false,
			alerted: false,
			openedAt: nowIso(),
		};
		await insertOnce(this.watches, doc);
	}

	/** Stops watching (a tombstone when the opening event has not come yet). */
	async close(watch: WatchClose): Promise<void> {
		const _id = watchId(watch.rule, watch.subject);
		const set = { closed: true, closedAt: nowIso(), closeReason: watch.reason };
		if (!(await this.watches.updateOne({ _id, closed: false }, { $set: set })))
			await insertOnce(this.watches, { _id, rule: watch.rule, subject: watch.subject, ...set });
	}

	/** Open watches not yet alerted (the timer's work is the open conditions, not history). */
	pending(): Promise<Watch[]> {
		return this.watches.find({ query: { closed: false, alerted: false } });
	}

	/** Claims a watch for alerting: true for exactly one caller. */
	async claim(watch: Watch): Promise<boolean> {
		return !!(await this.watches.updateOne({ _id: watch._id, alerted: false }, { $set: { alerted: true } }));
	}
}
