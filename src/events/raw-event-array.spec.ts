import { scanRawJson } from '../common/http/json-depth.middleware';
import { eventSpansFromScan, scanEventArray } from './raw-event-array';

const spans = (text: string, count = (JSON.parse(text) as unknown[]).length) => {
  const buf = Buffer.from(text);
  const s = scanEventArray(buf, count);
  return s && Array.from(s.starts, (start, i) => [buf.toString('utf8', start, s.ends[i]), s.plain[i]]);
};

describe(scanEventArray.name, () => {
  it('should find each element of the top-level array, strings with commas and brackets included', () => {
    expect(spans(' \n[ {"a":"x,]}\\"[{"} , {"b":[1,{"c":2}]},\n{}\t]  ')).toEqual([
      ['{"a":"x,]}\\"[{"}', 1],
      ['{"b":[1,{"c":2}]}', 1],
      ['{}', 1],
    ]);
    expect(spans('[]')).toEqual([]);
    expect(spans('\uFEFF[{"a":1}]', 1)).toEqual([['{"a":1}', 1]]);
  });

  it('should flag the elements whose text does not read back as JSON.stringify writes it', () => {
    const flags = (value: string) => spans(`[{"v":${value}},{"ok":"1e5 -0 \\\\"}]`)!.map(([, p]) => p);
    for (const value of [
      '1e5',
      '1E5',
      '2.5e-3',
      '1e+2',
      '-0',
      '-0.0',
      '-0.5',
      `1${'0'.repeat(301)}`,
      '"\\u0000"',
    ]) {
      expect([value, flags(value)]).toEqual([value, [0, 1]]);
    }
    for (const value of [
      'true',
      'false',
      'null',
      '-1',
      '0',
      '0.5',
      '10',
      '"\\u00e9"',
      `1${'0'.repeat(299)}`,
    ]) {
      expect([value, flags(value)]).toEqual([value, [1, 1]]);
    }
  });

  it('should refuse texts that are not an array of exactly `count` elements', () => {
    expect(spans('{"a":1}', 1)).toBeUndefined();
    expect(spans('[{"a":1},{"b":2}]', 1)).toBeUndefined();
    expect(spans('[{"a":1}]', 2)).toBeUndefined();
    expect(spans('["unterminated', 1)).toBeUndefined();
  });

  it('should take linear time on many NUL escapes and elements', () => {
    const many = (n: number) => `[${Array.from({ length: n }, () => '{"a":"\\u0000\\u0000"}').join(',')}]`;
    const time = (text: string) => {
      const buf = Buffer.from(text);
      const n = (JSON.parse(text) as unknown[]).length;
      let best = Infinity;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        scanEventArray(buf, n);
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    const small = time(many(5_000));
    const large = time(many(50_000));
    expect(large / Math.max(small, 0.05)).toBeLessThan(30);
  });
});

describe(eventSpansFromScan.name, () => {
  const fromScan = (text: string) => {
    const buf = Buffer.from(text);
    const scan = scanRawJson(buf, 1000);
    const count = (JSON.parse(text.replace(/^\uFEFF/, '')) as unknown[]).length;
    return eventSpansFromScan(
      buf,
      { bounds: scan.bounds!, numberFlags: scan.numberFlags!, maxDepth: scan.maxDepth, maxObjectKeys: 1000 },
      count,
    );
  };

  it("should give the same spans and flags as scanEventArray, from the body parser's scan", () => {
    const texts = [
      ' \n[ {"a":"x,]}\\"[{"} , {"b":[1,{"c":2}]},\n{}\t]  ',
      '[]',
      '[ ]',
      '\uFEFF[{"a":1}]',
      '[{"a":"\\u0000"},{"b":"\\u00e9"},{"c":"\\\\u0000"}]',
      '[{"n":-1.5},{"n":-0},{"n":-0.5},{"n":1e5},{"n":2E-3},{"n":1.5e+2},{"s":"1e5 -0 +"},{"t":true,"f":false}]',
      `[{"big":1${'0'.repeat(301)}},{"ok":1${'0'.repeat(299)}},{"k":[1,2,3]}]`,
      '[1, "two" ,[3] , {"four":4} ,null]',
    ];
    for (const text of texts) {
      const count = (JSON.parse(text.replace(/^\uFEFF/, '')) as unknown[]).length;
      const expected = scanEventArray(Buffer.from(text), count);
      expect([text, fromScan(text)]).toEqual([text, expected]);
    }
  });

  it('should refuse a scan that does not describe the array', () => {
    const buf = Buffer.from('[{"a":1},{"b":2}]');
    const scan = scanRawJson(buf, 1000);
    const array = { bounds: scan.bounds!, numberFlags: [], maxDepth: scan.maxDepth, maxObjectKeys: 1000 };
    expect(eventSpansFromScan(buf, array, 1)).toBeUndefined();
    expect(eventSpansFromScan(buf, array, 3)).toBeUndefined();
  });
});
