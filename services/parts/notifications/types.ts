/** How `this` looks inside the notifications service and its delivery mixin. */
import type { Context, Service } from "moleculer";
import type { DbMethods } from "../../../mixins/db.mixin";
import type { EventsMethods } from "../../../mixins/events.mixin";
import type { TimersMethods } from "../../../mixins/timers.mixin";
import type { Contact, Notification } from "../../../lib/contracts/notifications";
import type { EventEnvelope } from "../../../lib/domain/events";
import type { MessageSource, NewMessage } from "../../../lib/domain/notifications";
import type { Channel, PlannedMessage } from "../../../lib/domain/templates";
import type { Sender } from "../../../lib/infra/senders";
import type { PreferenceMethods } from "./preferences.mixin";

export interface Settings {
	rest: string;
}

export interface OwnMethods {
	notifyForEvent(envelope: EventEnvelope<object>, ctx: Context): Promise<void>;
	createMessages(ctx: Context, source: MessageSource, plan: PlannedMessage): Promise<Notification[]>;
	recipientsOf(ctx: Context, plan: PlannedMessage): Promise<Contact[]>;
	contactOf(ctx: Context, userId: string): Promise<Contact | null>;
	addressFor(contact: Contact, channel: Channel): string | null;
	storeMessage(ctx: Context, message: NewMessage): Promise<Notification | null>;
	publicNotification(n: Notification): Omit<Notification, "_id" | "notifKey" | "claimedAt"> & { id: string };
}

export interface DeliveryMethods {
	scheduleAttempt(id: string, delayMs: number): void;
	attemptDelivery(id: string): Promise<void>;
	recordFailure(claimed: Notification, attempt: number, error: string): Promise<void>;
	deliverDue(): Promise<{ attempted: number }>;
	reclaimAbandoned(): Promise<void>;
}

export type ThisService = Service<Settings> &
	DbMethods<Notification> &
	EventsMethods &
	TimersMethods &
	OwnMethods &
	DeliveryMethods &
	PreferenceMethods & {
		senders: Partial<Record<Channel, Sender>>;
		retryTimers: Set<NodeJS.Timeout>;
		stopping: boolean;
		publicUrl: string;
		maxAttempts: number;
		retryBaseMs: number;
		claimTimeoutMs: number;
	};
