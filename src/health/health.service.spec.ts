import { redactDriverText } from './health.service';

describe('redactDriverText', () => {
  it('should replace network error text that names hosts and ports', () => {
    expect(
      redactDriverText('database unavailable, 3 events buffered: connect ECONNREFUSED 127.0.0.1:5441'),
    ).toBe('database unavailable, 3 events buffered: unreachable');
    expect(redactDriverText('last flush failed: getaddrinfo ENOTFOUND db.internal')).toBe(
      'last flush failed: unreachable',
    );
    expect(redactDriverText('last iteration failed: read ECONNRESET')).toBe(
      'last iteration failed: unreachable',
    );
  });

  it('should keep other words as they are', () => {
    expect(redactDriverText('last iteration failed: Connection terminated unexpectedly')).toBe(
      'last iteration failed: Connection terminated unexpectedly',
    );
  });
});
