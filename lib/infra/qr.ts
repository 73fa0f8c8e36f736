/**
 * QR codes as SVG text, drawn on the server (no CDN, no script in the browser): the MFA enrolment
 * QR an authenticator app scans. The web app shows it as an <img> with a data: URL.
 */
import QRCode from "qrcode";

export function qrSvg(text: string): Promise<string> {
	return QRCode.toString(text, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
}

/** The SVG as a data: URL for an <img src>. */
export async function qrDataUrl(text: string): Promise<string> {
	return `data:image/svg+xml;base64,${Buffer.from(await qrSvg(text)).toString("base64")}`;
}
