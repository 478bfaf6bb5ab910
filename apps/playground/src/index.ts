export { startServer, type RunningServer, type ServerOptions } from "./server.js";
export { Metrics } from "./metrics.js";
