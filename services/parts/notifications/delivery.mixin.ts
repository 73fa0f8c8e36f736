/**
 * Notifications' delivery (a mixin of the notifications service): each message that is not in-app
 * is claimed (compare-and-set pending → sending, so two instances never both send it), handed to
 * its channel's sender, and recorded `sent` with notification.sent; a failure goes back to pending
 * with a backoff (a "notifications.retry" timer), or `failed` with notification.failed after
 * NOTIFY_MAX_ATTEMPTS. The "sweeper" timer (TimersMixin, every NOTIFY_SWEEP_MS) attempts what is
 * due after a restart or a missed timer, and gives back messages claimed by an instance that died
 * while sending.
 */
import { ServiceSchema } from "moleculer";
import type { Notification } from "../../../lib/contracts/notifications";
import { outcomeEvent } from "../../../lib/domain/notifications";
import { config } from "../../../lib/infra/config";
import { nowIso } from "../../../lib/infra/ids";
import { backoffMs, OutgoingMessage } from "../../../lib/infra/senders";
import type { TimerJobs } from "../../../mixins/timers.mixin";
import type { DeliveryMethods, Settings, ThisService } from "./types";

const schema: Partial<ServiceSchema<Settings, ThisService>> & { timers: TimerJobs<ThisService> } = {
	methods: {
		/** A "notifications.retry" timer: one delivery attempt after `delayMs`. */
		scheduleAttempt(this: ThisService, id: string, delayMs: number) {
			const timer = setTimeout(() => {
				this.retryTimers.delete(timer);
				this.attemptDelivery(id).catch((err: Error) =>
					this.logger.error({ notificationId: id }, `[notifications.retry] attempt crashed: ${err.message}`),
				);
			}, delayMs);
			timer.unref?.();
			this.retryTimers.add(timer);
		},

		/** One attempt to send a pending message; claims it first so two instances never both send it. */
		async attemptDelivery(this: ThisService, id: string) {
			if (this.stopping) return;
			const claimed = await this.compareAndSet(
				null,
				{ _id: id, status: "pending", nextAttemptAt: { $lte: nowIso() } },
				{ $set: { status: "sending", claimedAt: nowIso() } },
			);
			if (!claimed) return;
			const sender = this.senders[claimed.channel];
			const attempt = claimed.attemptCount + 1;
			try {
				if (!sender) throw new Error(`No sender for channel ${claimed.channel}`);
				const message: OutgoingMessage = {
					notificationId: claimed._id,
					channel: claimed.channel,
					to: claimed.to,
					subject: claimed.subject,
					text: claimed.body,
				};
				const result = await sender.send(message);
				await this.updateEntity(
					null,
					id,
					{
						$set: { status: "sent", sentAt: nowIso(), attemptCount: attempt },
						$push: { attempts: { at: nowIso(), ok: true, providerId: result.providerId || null } },
					},
					[outcomeEvent("notification.sent", claimed)],
				);
			} catch (err) {
				await this.recordFailure(claimed, attempt, String((err as Error)?.message ?? err).slice(0, 500));
			}
		},

		/** Back to pending with a backoff, or failed for good (with notification.failed) after the last attempt. */
		async recordFailure(this: ThisService, claimed: Notification, attempt: number, error: string) {
			const failedForGood = attempt >= this.maxAttempts;
			const delay = backoffMs(attempt, this.retryBaseMs);
			await this.updateEntity(
				null,
				claimed._id,
				{
					$set: {
						status: failedForGood ? "failed" : "pending",
						attemptCount: attempt,
						lastError: error,
						nextAttemptAt: new Date(Date.now() + delay).toISOString(),
						...(failedForGood ? { failedAt: nowIso() } : {}),
					},
					$push: { attempts: { at: nowIso(), ok: false, error } },
				},
				failedForGood ? [outcomeEvent("notification.failed", claimed, error)] : [],
			);
			this.logger.warn(
				{ notificationId: claimed._id, channel: claimed.channel, attempt },
				`Notification delivery failed: ${error}`,
			);
			if (!failedForGood) this.scheduleAttempt(claimed._id, delay);
		},

		/** Pending messages whose time has come (after a restart, or a missed timer). */
		async deliverDue(this: ThisService) {
			await this.reclaimAbandoned();
			const due = await this.findEntities({
				query: { status: "pending", nextAttemptAt: { $lte: nowIso() } },
				limit: 100,
			});
			for (const n of due) await this.attemptDelivery(n._id);
			return { attempted: due.length };
		},

		/** A message claimed by an instance that died while sending goes back to pending. */
		async reclaimAbandoned(this: ThisService) {
			const before = new Date(Date.now() - this.claimTimeoutMs).toISOString();
			const stuck = await this.findEntities({ query: { status: "sending", claimedAt: { $lt: before } }, limit: 100 });
			for (const n of stuck)
				await this.compareAndSet(
					null,
					{ _id: n._id, status: "sending", claimedAt: n.claimedAt },
					{ $set: { status: "pending" } },
				);
		},
	} satisfies DeliveryMethods & ThisType<ThisService>,

	// Attempts every message that is due, every NOTIFY_SWEEP_MS; a sweep still running when the next
	// is due is skipped.
	timers: {
		sweeper: {
			everyMs: () => config().notify.sweepMs,
			run(this: ThisService) {
				return this.deliverDue();
			},
		},
	},

	created(this: ThisService) {
		this.retryTimers = new Set();
		this.stopping = false;
	},

	stopped(this: ThisService) {
		this.stopping = true;
		for (const timer of this.retryTimers) clearTimeout(timer);
		this.retryTimers.clear();
	},
};

// Moleculer types a mixin's `this` as a plain Service; ours is ThisService.
export const NotificationDeliveryMixin = schema as unknown as Partial<ServiceSchema>;
