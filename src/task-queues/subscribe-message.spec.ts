import { parseReply, parseSubscribe, SubscribeViolation } from './subscribe-message';

describe(parseSubscribe.name, () => {
  it('should accept a subscribe frame and keep key order without duplicates', () => {
    expect(parseSubscribe({ type: 'subscribe', keys: ['b', 'a', 'b'], client_id: 'w1' })).toEqual({
      ok: true,
      keys: ['b', 'a'],
      clientId: 'w1',
    });
  });

  it.each([
    [null, SubscribeViolation.TYPE],
    ['subscribe', SubscribeViolation.TYPE],
    [[], SubscribeViolation.TYPE],
    [{ type: 'auth', keys: ['a'], client_id: 'x' }, SubscribeViolation.TYPE],
    [{ keys: ['a'], client_id: 'x' }, SubscribeViolation.TYPE],
    [{ type: 'subscribe', client_id: 'x' }, SubscribeViolation.KEYS],
    [{ type: 'subscribe', keys: [], client_id: 'x' }, SubscribeViolation.KEYS],
    [{ type: 'subscribe', keys: 'a', client_id: 'x' }, SubscribeViolation.KEYS],
    [{ type: 'subscribe', keys: [1], client_id: 'x' }, SubscribeViolation.KEYS],
    [{ type: 'subscribe', keys: ['a'] }, SubscribeViolation.CLIENT_ID],
    [{ type: 'subscribe', keys: ['a'], client_id: '' }, SubscribeViolation.CLIENT_ID],
    [{ type: 'subscribe', keys: ['a'], client_id: null }, SubscribeViolation.CLIENT_ID],
  ])('should refuse %j with %s', (message, reason) => {
    expect(parseSubscribe(message)).toEqual({ ok: false, reason });
  });

  it('should check keys before client_id, as upstream', () => {
    expect(parseSubscribe({ type: 'subscribe' })).toEqual({ ok: false, reason: SubscribeViolation.KEYS });
  });
});

describe(parseReply.name, () => {
  it('should classify replies', () => {
    expect(parseReply({ type: 'ack' })).toBe('ack');
    expect(parseReply({ type: 'quit' })).toBe('quit');
    expect(parseReply({ type: 'nack' })).toBe('other');
    expect(parseReply('ack')).toBe('other');
    expect(parseReply(null)).toBe('other');
  });
});
