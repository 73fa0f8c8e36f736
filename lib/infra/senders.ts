/**
 * Channel senders behind one interface: e-mail through nodemailer (SMTP_URL), SMS and push through
 * any provider that implements `Sender` (the built-in one logs and keeps an outbox). In-app
 * messages need no sender: storing them is delivering them.
 */
import nodemailer from "nodemailer";
import type { Channel } from "../domain/templates";

export interface OutgoingMessage {
	notificationId: string;
	channel: Channel;
	/** E-mail address, phone number or user id (push), by channel. */
	to: string;
	subject: string;
	text: string;
}

export interface SendResult {
	providerId?: string;
}

export interface Sender {
	readonly channel: Channel;
	send(message: OutgoingMessage): Promise<SendResult>;
	close?(): void;
}

export class EmailSender implements Sender {
	readonly channel = "email" as const;
	private transport: ReturnType<typeof nodemailer.createTransport>;

	constructor(
		smtpUrl: string,
		private from: string,
		timeoutMs = 10_000,
	) {
		const url = new URL(smtpUrl);
		this.transport = nodemailer.createTransport({
			host: url.hostname,
			port: Number(url.port) || (url.protocol === "smtps:" ? 465 : 25),
			secure: url.protocol === "smtps:",
			auth: url.username
				? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
				: undefined,
			ignoreTLS: url.searchParams.get("ignoreTLS") === "true",
			connectionTimeout: timeoutMs,
			greetingTimeout: timeoutMs,
			socketTimeout: timeoutMs,
		});
	}

	async send(message: OutgoingMessage): Promise<SendResult> {
		const info = await this.transport.sendMail({
			from: this.from,
			to: message.to,
			subject: message.subject,
			text: message.text,
			headers: { "X-Notification-Id": message.notificationId },
		});
		return { providerId: info.messageId };
	}

	close() {
		this.transport.close();
	}
}

/** A stand-in provider for SMS and push: logs each message and keeps it in `outbox`. */
export class LoggingSender implements Sender {
	readonly outbox: OutgoingMessage[] = [];

	constructor(
		readonly channel: Channel,
		private log: (line: string) => void = () => undefined,
	) {}

	async send(message: OutgoingMessage): Promise<SendResult> {
		this.outbox.push(message);
		this.log(`[${this.channel}] to ${maskAddress(message.to)}: ${message.subject}`);
		return { providerId: `${this.channel}-${this.outbox.length}` };
	}
}

/** Shows enough of an address to recognise it in logs without exposing it. */
export function maskAddress(address: string): string {
	if (address.length <= 4) return "****";
	return `${address.slice(0, 2)}***${address.slice(-2)}`;
}

/** Delay before retry number `attempt` (1-based): exponential, capped. */
export function backoffMs(attempt: number, baseMs: number, capMs = 10 * 60_000): number {
	return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

export interface SenderConfig {
	smtpUrl: string;
	mailFrom: string;
	log?: (line: string) => void;
}

export function sendersFromConfig(cfg: SenderConfig): Partial<Record<Channel, Sender>> {
	const senders: Partial<Record<Channel, Sender>> = {
		sms: new LoggingSender("sms", cfg.log),
		push: new LoggingSender("push", cfg.log),
	};
	if (cfg.smtpUrl) senders.email = new EmailSender(cfg.smtpUrl, cfg.mailFrom);
	return senders;
}
