import { globToLike, labelMatches, specificationMatches } from './resource-specification';

describe('ResourceSpecification', () => {
  const labels = {
    'prefect.resource.id': 'prefect.flow-run.abc',
    'prefect.resource.name': 'my-run',
    env: 'prod',
  };

  it('should match everything with an empty specification', () => {
    expect(specificationMatches({}, labels)).toBe(true);
  });

  it('should match exact values, globs with * and ?, and lists as alternatives', () => {
    expect(specificationMatches({ env: ['prod'] }, labels)).toBe(true);
    expect(specificationMatches({ 'prefect.resource.id': ['prefect.flow-run.*'] }, labels)).toBe(true);
    expect(specificationMatches({ 'prefect.resource.name': ['my-ru?'] }, labels)).toBe(true);
    expect(specificationMatches({ 'prefect.resource.name': ['my-r?'] }, labels)).toBe(false);
    expect(specificationMatches({ env: ['dev', 'prod'] }, labels)).toBe(true);
    expect(specificationMatches({ env: ['dev', 'staging'] }, labels)).toBe(false);
  });

  it('should negate a value with a leading !', () => {
    expect(specificationMatches({ env: ['!dev'] }, labels)).toBe(true);
    expect(specificationMatches({ env: ['!prod'] }, labels)).toBe(false);
    expect(specificationMatches({ env: ['!pr*'] }, labels)).toBe(false);
  });

  it('should require every listed label, and a missing label never matches (even negated)', () => {
    expect(specificationMatches({ env: ['prod'], missing: ['!x'] }, labels)).toBe(false);
    expect(labelMatches(undefined, ['*'])).toBe(false);
  });

  it('should treat regex and LIKE metacharacters literally', () => {
    expect(labelMatches('a.b', ['a?b'])).toBe(true);
    expect(labelMatches('axb', ['a.b'])).toBe(false);
    expect(globToLike('a_b%c*d?')).toBe('a\\_b\\%c%d_');
  });
});
