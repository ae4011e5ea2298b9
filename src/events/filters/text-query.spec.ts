import { parseTextQuery } from './text-query';

describe('parseTextQuery', () => {
  it('should split plain, +required, -excluded terms and "quoted phrases"', () => {
    expect(parseTextQuery('fox -cat +"lazy dog" "brown fox" +x')).toEqual({
      include: ['fox', 'brown fox'],
      required: ['lazy dog', 'x'],
      exclude: ['cat'],
    });
  });
});
