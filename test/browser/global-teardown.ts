import e2eGlobalTeardown from '../utils/global-teardown';

/** Drops the run's databases only when this project created them (else the e2e project's teardown does). */
export default async function globalTeardown(): Promise<void> {
  if (globalThis.__PTR_BROWSER_OWNS_RUN__) {
    await e2eGlobalTeardown();
  }
}
