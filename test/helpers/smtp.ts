/** A real local SMTP server for e-mail tests (smtp-server): records every message it accepts. */
import { SMTPServer } from "smtp-server";

export interface Mail {
	to: string[];
	raw: string;
}

/** Listens on a free port; recipients whose address starts with "bounce" are refused (550). */
export function startSmtp(mails: Mail[]): Promise<SMTPServer> {
	const server = new SMTPServer({
		authOptional: true,
		disabledCommands: ["STARTTLS"],
		logger: false,
		onRcptTo(address, _session, callback) {
			if (address.address.startsWith("bounce")) return callback(new Error("550 mailbox unavailable"));
			callback();
		},
		onData(stream, session, callback) {
			let raw = "";
			stream.on("data", (chunk: Buffer) => (raw += chunk.toString("utf8")));
			stream.on("end", () => {
				mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw });
				callback();
			});
		},
	});
	return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

export function decodeQuotedPrintable(raw: string): string {
	return raw.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}
