/**
 * The contracts shared by every service: call shapes, the business-event map and shared params.
 * Each service's entity and action types live in lib/contracts/<service>.ts (import them from there:
 * names like PaymentStatus mean one thing per service).
 */
export * from "./common";
export * from "./events";
export * from "./params";
