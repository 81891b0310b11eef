import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// One project per package so each can run alone (`npx vitest run --project agent`).
// `stroom-source` makes workspace imports resolve to TypeScript sources, not dist/.
const shared = {
  resolve: { conditions: ['stroom-source', ...defaultClientConditions] },
  ssr: { resolve: { conditions: ['stroom-source', ...defaultServerConditions] } },
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
