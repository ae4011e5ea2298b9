import { exceedsDepth } from './json-depth.middleware';

const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
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
