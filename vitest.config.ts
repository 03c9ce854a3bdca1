import { defineConfig } from 'vitest/config';

// `npx vitest run` from the root runs every package's tests (packages/<pkg>/test, apps/cli/test), each as a project.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
  },
});
