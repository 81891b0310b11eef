import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// One project per package so each can run alone (`npx vitest run --project agent`).
// `stroom-source` makes workspace imports resolve to TypeScript sources, not dist/.
// Without 'module': vitest hands the conditions to Node for external packages too, and some
// (OpenTelemetry) map 'module' to extensionless ESM builds only bundlers can load.
const withoutModule = (conditions: readonly string[]): string[] => conditions.filter((c) => c !== 'module');
const shared = {
  resolve: { conditions: ['stroom-source', ...withoutModule(defaultClientConditions)] },
  ssr: { resolve: { conditions: ['stroom-source', ...withoutModule(defaultServerConditions)] } },
};

export default defineConfig({
  test: {
    projects: [
      { ...shared, test: { name: 'protocol', root: 'protocol', include: ['test/**/*.test.ts'] } },
      { ...shared, test: { name: 'agent', root: 'agent', include: ['test/**/*.test.ts'] } },
      { ...shared, test: { name: 'collector', root: 'collector', include: ['test/**/*.test.ts'] } },
      { ...shared, test: { name: 'dashboard', root: 'dashboard', include: ['test/**/*.test.ts'] } },
      { ...shared, test: { name: 'cli', root: 'cli', include: ['test/**/*.test.ts'] } },
      { ...shared, test: { name: 'e2e', root: 'test', include: ['**/*.test.ts'], testTimeout: 60_000 } },
    ],
  },
});
