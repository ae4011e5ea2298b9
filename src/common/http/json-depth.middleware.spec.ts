import { exceedsDepth, findWideObject } from './json-depth.middleware';

const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) {
    v = i % 2 ? [v] : { a: v };
  }
  return v;
};

describe('exceedsDepth', () => {
  it('should count objects and arrays as levels, not scalars', () => {
    expect(exceedsDepth(1, 0)).toBe(false);
    expect(exceedsDepth('x', 0)).toBe(false);
    expect(exceedsDepth({}, 0)).toBe(true);
    expect(exceedsDepth({}, 1)).toBe(false);
    expect(exceedsDepth({ a: [1, { b: 2 }] }, 3)).toBe(false);
    expect(exceedsDepth({ a: [1, { b: {} }] }, 3)).toBe(true);
  });

  it('should pass exactly the limit and refuse one more', () => {
    expect(exceedsDepth(nested(256), 256)).toBe(false);
    expect(exceedsDepth(nested(257), 256)).toBe(true);
  });

  it('should not overflow the stack on a very deep value', () => {
    expect(exceedsDepth(nested(200_000), 256)).toBe(true);
  });

  it('should find a deep branch among wide shallow ones', () => {
    const wide = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, { x: i }]));
    expect(exceedsDepth({ ...wide, deep: nested(300) }, 256)).toBe(true);
    expect(exceedsDepth(wide, 256)).toBe(false);
  });
});

describe('findWideObject', () => {
  const wide = (n: number): Record<string, number> =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`k"\\:{[${i}`, i]));
  const scan = (value: unknown, max: number) => findWideObject(Buffer.from(JSON.stringify(value)), max);

  it('should find the first object with more keys than the limit, with its location', () => {
    expect(scan({ a: wide(5) }, 5)).toBeUndefined();
    expect(scan({ a: wide(6) }, 5)).toEqual({ loc: ['a'] });
    expect(scan({ 'x:"y': [1, { z: ['s:{', wide(3), wide(7)] }] }, 5)).toEqual({ loc: ['x:"y', 1, 'z', 2] });
    expect(scan(wide(6), 5)).toEqual({ loc: [] });
  });

  it('should not count colons, braces or escaped quotes inside strings', () => {
    expect(scan({ a: 'x:y:z:{"q":1,"r":2}\\":', b: { c: 1 } }, 2)).toBeUndefined();
  });

  it('should leave malformed text alone', () => {
    expect(findWideObject(Buffer.from('{"a":1,"b'), 1)).toBeUndefined();
  });
});
