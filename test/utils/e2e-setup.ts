// E2E tests boot whole apps and processes: allow them a minute each (the project-level `testTimeout` option
// is not applied per project by Jest).
jest.setTimeout(60_000);
