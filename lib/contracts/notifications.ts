/** Stored shapes of the notifications service, and its actions' params. */
import type { StoredDoc } from "../infra/store/types";
import type { Channel, Locale, TemplateName } from "../domain/templates";
import { CHANNELS } from "../domain/templates";
import { ROLES } from "../domain/access";
import { idParam, pageParams } from "./params";

export interface DeliveryAttempt {
	at: string;
	ok: boolean;
	providerId?: string | null;
	error?: string;
}

/** One message to one recipient on one channel (in-app messages are the inbox). */
export interface Notification extends StoredDoc {
	/** event id | recipient | channel: unique, so a redelivered event sends nothing twice. */
	notifKey: string;
	eventId: string;
	eventType: string;
	template: TemplateName;
	userId: string | null;
	channel: Channel;
	/** Address on the channel: user id (in-app, push), e-mail, phone. */
	to: string;
	locale: Locale;
	subject: string;
	body: string;
	read: boolean;
	readAt?: string;
	status: "pending" | "sending" | "sent" | "failed";
	attempts: DeliveryAttempt[];
	attemptCount: number;
	nextAttemptAt: string;
	claimedAt?: string;
	lastError?: string;
	createdAt: string;
	sentAt?: string;
	failedAt?: string;
}

/** users.contact: how to reach a user. */
export interface Contact {
	id: string | null;
	email: string | null;
	phone: string | null;
	locale: string;
	status?: string;
}

export interface ListNotificationsParams {
	channel: Channel;
	unread?: boolean;
	page: number;
	pageSize: number;
}
export interface NotificationIdParams {
	id: string;
}
export interface SendParams {
	userId?: string;
	role?: string;
	subject: string;
	body: string;
	channels: Channel[];
}

/** The actions' fastest-validator schemas. */
export const NOTIFICATION_PARAMS = {
	list: {
		channel: { type: "enum", values: CHANNELS, default: "inapp" },
		unread: { type: "boolean", optional: true, convert: true },
		...pageParams,
	},
	id: { id: idParam },
	send: {
		userId: { type: "string", max: 64, optional: true },
		role: { type: "enum", values: ROLES, optional: true },
		subject: { type: "string", min: 1, max: 200, trim: true },
		body: { type: "string", min: 1, max: 4000, trim: true },
		channels: { type: "array", items: { type: "enum", values: CHANNELS }, min: 1, unique: true, default: ["inapp"] },
	},
} as const;
