/**
 * The MongoDB path of the db mixin (mongoose, one database per service). Runs only with MONGO_URI;
 * every other service test also runs on MongoDB when MONGO_URI is set, since the mixin picks the
 * store from the environment.
 */
import mongoose from "mongoose";
import { ServiceBroker } from "moleculer";
import { startBroker } from "../helpers/broker";
import { describeWithMongo } from "../helpers/infra";

describeWithMongo("MongoDB store", () => {
	let broker: ServiceBroker;
	const dbSuffix = Math.random().toString(36).slice(2, 8);
	beforeAll(async () => {
		broker = await startBroker({ services: ["users"], env: { NAMESPACE: `mongo${dbSuffix}` } });
	});
	afterAll(() => broker.stop());

	test("users are stored in the users database with string ids and a unique e-mail", async () => {
		const user: any = await broker.call("users.register", {
			email: `m-${dbSuffix}@example.com`,
			password: "cylinder-pass-123",
			name: "M",
		});
		expect(typeof user.id).toBe("string");
		await expect(
			broker.call("users.register", { email: `M-${dbSuffix}@example.com`, password: "cylinder-pass-123", name: "M" }),
		).rejects.toMatchObject({ code: 409 });
		const conn = await mongoose.createConnection(process.env.MONGO_URI as string, { dbName: "users" }).asPromise();
		const stored = await conn.collection("users").findOne({ _id: user.id } as any);
		expect(stored).toMatchObject({ email: `m-${dbSuffix}@example.com` });
		await conn.close();
	});
});
