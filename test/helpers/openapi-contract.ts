/**
 * Checks HTTP answers against the OpenAPI document: the operation exists for the method and path,
 * the status is documented for it, and a JSON body matches the documented schema (ajv, JSON Schema
 * 2020-12, with the document's components for $refs).
 */
import Ajv2020, { ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";

export interface Exchange {
	method: string;
	/** The request path, query string included or not. */
	path: string;
	status: number;
	contentType: string | null;
	body: unknown;
}

export class ContractChecker {
	private ajv = new Ajv2020({ strict: false, allErrors: true });
	private compiled = new Map<string, ValidateFunction>();
	private templates: { re: RegExp; template: string }[];

	constructor(private doc: any) {
		addFormats(this.ajv);
		// Literal segments before parameters: /api/notifications/read before /api/notifications/{id}.
		this.templates = Object.keys(doc.paths)
			.map((template) => ({
				template,
				re: new RegExp(`^${template.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}$`),
				params: (template.match(/\{/g) || []).length,
			}))
			.sort((a, b) => a.params - b.params)
			.map(({ re, template }) => ({ re, template }));
	}

	/** The documented path template for a concrete path, or undefined. */
	template(method: string, path: string): string | undefined {
		const bare = path.split("?")[0];
		const m = method.toLowerCase();
		return this.templates.find((t) => t.re.test(bare) && this.doc.paths[t.template][m])?.template;
	}

	private deref(node: any): any {
		if (!node || typeof node.$ref !== "string") return node;
		return node.$ref
			.slice(2)
			.split("/")
			.reduce((at: any, key: string) => at[key], this.doc);
	}

	/** Problems with one exchange ([] = it matches the document). */
	problems(x: Exchange): string[] {
		const template = this.template(x.method, x.path);
		if (!template) return [`${x.method} ${x.path}: no documented operation`];
		const op = this.doc.paths[template][x.method.toLowerCase()];
		const where = `${x.method} ${template} ${x.status}`;
		const response = this.deref(op.responses[String(x.status)]);
		if (!response) return [`${where}: status not documented (${Object.keys(op.responses).join(", ")})`];
		const type = (x.contentType || "").split(";")[0].trim();
		if (!type) return [];
		const content = response.content || {};
		if (!content[type]) return [`${where}: content type ${type} not documented (${Object.keys(content).join(", ")})`];
		if (type !== "application/json") return [];
		const key = `${x.method} ${template} ${x.status}`;
		let validate = this.compiled.get(key);
		if (!validate) {
			validate = this.ajv.compile({ ...content[type].schema, components: this.doc.components });
			this.compiled.set(key, validate);
		}
		return validate(x.body) ? [] : [`${where}: ${this.ajv.errorsText(validate.errors)}`];
	}
}
