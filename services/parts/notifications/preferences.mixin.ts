/**
 * Notification preferences: each user may turn a kind of message (a template: reorder_reminder,
 * order_delivered…) off on a channel, or on every channel ("*"). Kept in the record kind
 * `preferences` (`_id` = user id, `muted`: "kind:channel" pairs); createMessages skips muted
 * channels (lib/domain/reminders.ts isMuted). Security notices (ALWAYS_ON_KINDS) cannot be muted.
 */
import { Service, ServiceSchema } from "moleculer";
import type { Ctx } from "../../../lib/contracts/common";
import { CHANNELS, TEMPLATE_NAMES } from "../../../lib/domain/templates";
import { ALWAYS_ON_KINDS, isAlwaysOn, isMuted, MutedList, setMuted } from "../../../lib/domain/reminders";
import { unprocessable } from "../../../lib/infra/errors";
import { nowIso } from "../../../lib/infra/ids";
import type { Collection, StoredDoc } from "../../../lib/infra/store/types";

export interface Preferences extends StoredDoc {
	muted: MutedList;
	updatedAt: string;
}

export interface PreferenceMethods {
	mutedFor(userId: string): Promise<MutedList>;
}

type PrefService = Service & PreferenceMethods & { kind<K extends StoredDoc>(name: string): Collection<K> };

const prefs = (s: PrefService) => s.kind<Preferences>("preferences");

/** Every kind with, per channel, whether it is on. */
function preferencesView(muted: MutedList) {
	return {
		kinds: Object.fromEntries(
			TEMPLATE_NAMES.map((kind) => [kind, Object.fromEntries(CHANNELS.map((c) => [c, !isMuted(muted, kind, c)]))]),
		),
		muted,
		alwaysOn: ALWAYS_ON_KINDS,
	};
}

export const preferencesSchema: Partial<ServiceSchema> = {
	actions: {
		getPreferences: {
			rest: "GET /notification-preferences",
			params: {},
			async handler(this: PrefService, ctx: Ctx<Record<string, never>>) {
				return preferencesView(await this.mutedFor(ctx.meta.user!.id));
			},
		},

		setPreference: {
			rest: "PUT /notification-preferences",
			params: {
				kind: { type: "enum", values: TEMPLATE_NAMES },
				channel: { type: "enum", values: [...CHANNELS, "*"] },
				enabled: { type: "boolean" },
			},
			async handler(this: PrefService, ctx: Ctx<{ kind: string; channel: string; enabled: boolean }>) {
				const userId = ctx.meta.user!.id;
				const { kind, channel, enabled } = ctx.params;
				if (!enabled && isAlwaysOn(kind))
					throw unprocessable("Security notices cannot be turned off", { field: "kind" });
				for (let attempt = 0; attempt < 5; attempt++) {
					const current = await prefs(this).findById(userId);
					const muted = setMuted(current?.muted ?? [], kind, channel, enabled);
					const updatedAt = nowIso();
					if (!current) {
						const inserted = await prefs(this)
							.insert({ _id: userId, muted, updatedAt })
							.catch(() => null);
						if (inserted) return preferencesView(muted);
						continue;
					}
					const saved = await prefs(this).updateOne(
						{ _id: userId, updatedAt: current.updatedAt },
						{ $set: { muted, updatedAt } },
					);
					if (saved) return preferencesView(muted);
				}
				throw new Error("Preferences changed concurrently; try again");
			},
		},
	},

	methods: {
		async mutedFor(this: PrefService, userId: string) {
			return (await prefs(this).findById(userId))?.muted ?? [];
		},
	},
};
