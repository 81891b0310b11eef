/** Agent version reported in Hello; kept in step with package.json. */
export const AGENT_VERSION = '0.1.0';

/** Default sampling interval in ms. */
export const DEFAULT_INTERVAL_MS = 1000;
