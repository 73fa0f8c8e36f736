/** The contracts of GasRápido: entities, events, shared params and call shapes. Types only (plus schemas). */
export * from "./common";
export * from "./events";
export * from "./params";
export * from "./users";
export * from "./invitations";
export * from "./verification";
export * from "./products";
export * from "./orders";
export * from "./payments";
export * from "./couriers";
export * from "./notifications";
export * from "./analytics";
export * from "./alerts";
