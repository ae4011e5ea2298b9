import { isUuid } from './uuid';

describe(isUuid.name, () => {
  it('should take a hyphenated UUID of any version in either case', () => {
    expect(isUuid('0190b0c5-7b6e-7c3a-9d2e-4f1a2b3c4d5e')).toBe(true);
    expect(isUuid('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11')).toBe(true);
  });

  it('should refuse non-strings, wrong lengths, non-hex digits and misplaced hyphens', () => {
    for (const v of [
      42,
      null,
      '',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1',
      'g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    ]) {
      expect(isUuid(v)).toBe(false);
    }
    expect(isUuid('a0eebc999-c0b-4ef8-bb6d-6bb9bd380a11')).toBe(false);
  });

  it('should take 32 bare hex digits only when hyphens are optional', () => {
    expect(isUuid('a0eebc999c0b4ef8bb6d6bb9bd380a11')).toBe(false);
    expect(isUuid('a0eebc999c0b4ef8bb6d6bb9bd380a11', { hyphensOptional: true })).toBe(true);
    expect(isUuid('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', { hyphensOptional: true })).toBe(true);
  });
});
