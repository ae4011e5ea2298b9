import { exceedsDepth, findWideObject, parseArrayElements, scanRawJson } from './json-depth.middleware';

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

describe('parseArrayElements', () => {
  // The value of a top-level array parsed element by element, or undefined when the scan or an element refuses.
  const byElements = (text: string | Buffer): unknown[] | undefined => {
    const buf = typeof text === 'string' ? Buffer.from(text) : text;
    const { bounds } = scanRawJson(buf, 10_000);
    return bounds ? parseArrayElements(buf, bounds) : undefined;
  };

  it('should give what JSON.parse gives for well-formed arrays', () => {
    const texts = [
      '[]',
      ' \r\n\t[ ]\n',
      '[1]',
      '[{"a":[1,{"b":"x,y]}"}],"c":null},"s\\"",[[]],2.5e3,-0,true,null]',
      '[ {"k":"\\u00e9\\"\\\\"} , "\\\\" ,{"a":1,"a":2}]\n',
      JSON.stringify([{ 'prefect.resource.id': 'x', é: '\u{1F600}', n: [1, 2, { m: '[,]' }] }, 'tail']),
    ];
    for (const text of texts) {
      expect(byElements(text)).toEqual(JSON.parse(text));
    }
  });

  it('should skip a UTF-8 byte-order mark as body-parser does', () => {
    expect(byElements(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[1,{"a":2}]')]))).toEqual([
      1,
      { a: 2 },
    ]);
  });

  it('should refuse (leave to JSON.parse) every text JSON.parse refuses', () => {
    const malformed = [
      '[1,,2]',
      '[,]',
      '[1,]',
      '[1 2]',
      '[{"a":1]}',
      '[1]]',
      '[1] x',
      '[1][2]',
      '["a\u0001"]',
      '[{"a":1}',
      '["unterminated]',
      '[01]',
      '[1,{"a":}]',
    ];
    for (const text of malformed) {
      expect(() => JSON.parse(text) as unknown).toThrow();
      expect(byElements(text)).toBeUndefined();
    }
  });

  it('should not handle anything but a top-level array', () => {
    expect(scanRawJson(Buffer.from('{"a":[1,2]}'), 10).bounds).toBeUndefined();
    expect(scanRawJson(Buffer.from('1'), 10).bounds).toBeUndefined();
  });

  it('should still find a wide object inside or after the array', () => {
    const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`k${i}`, i])));
    expect(scanRawJson(Buffer.from(`[1,{"a":${wide}}]`), 5).wide).toEqual({ loc: [1, 'a'] });
    expect(scanRawJson(Buffer.from(`[1] ${wide}`), 5)).toEqual({ wide: { loc: [] }, maxDepth: 1 });
  });

  it('should take linear time on many separators', () => {
    const n = 200_000;
    const time = (text: string): number => {
      const started = process.hrtime.bigint();
      byElements(text);
      return Number(process.hrtime.bigint() - started);
    };
    const small = time(`${' '.repeat(n / 10)}[${'0,'.repeat(n / 10)}0]`);
    const large = time(`${' '.repeat(n)}[${'0,'.repeat(n)}0]`);
    expect(large).toBeLessThan(small * 40);
  });
});

describe('scanRawJson, depth and number flags', () => {
  it('should measure the nesting depth as checkJsonShape counts it', () => {
    for (const depth of [1, 2, 5, 40]) {
      const text = JSON.stringify([nested(depth - 1)]);
      expect(scanRawJson(Buffer.from(text), 1000).maxDepth).toBe(depth);
      expect(exceedsDepth(JSON.parse(text), depth)).toBe(false);
      expect(exceedsDepth(JSON.parse(text), depth - 1)).toBe(true);
    }
    expect(scanRawJson(Buffer.from('{"a":"[[[{{{","b":[{}]}'), 1000).maxDepth).toBe(3);
  });

  it('should flag the array elements with exponents, negative zeros or long digit runs, not strings', () => {
    const text = `[{"a":1},{"e":1e5},{"s":"1e5 -0 +"},{"z":-0.5},[1,2,{"x":-10}],{"E":2E3},{"p":1e+2},{"l":1${'0'.repeat(301)}},{"t":true}]`;
    expect(scanRawJson(Buffer.from(text), 1000).numberFlags).toEqual([1, 3, 5, 6, 7]);
  });
});
