import { AppConfig } from '../../config/app-config';
import { ApiAuthService, decodeBasicCredentials } from './api-auth.service';

const basic = (s: string): string => `Basic ${Buffer.from(s, 'utf8').toString('base64')}`;

describe(ApiAuthService.name, () => {
  describe('decodeBasicCredentials', () => {
    it('should decode what Prefect clients send: Basic base64(auth_string)', () => {
      expect(decodeBasicCredentials(basic('admin:pass'))).toBe('admin:pass');
      expect(decodeBasicCredentials(basic('sécret ✓'))).toBe('sécret ✓');
    });

    it.each([
      ['no header', undefined],
      ['empty', ''],
      ['another scheme', `Bearer ${Buffer.from('admin:pass').toString('base64')}`],
      [
        'lower-case scheme (upstream compares exactly)',
        `basic ${Buffer.from('admin:pass').toString('base64')}`,
      ],
      ['three parts', `Basic ${Buffer.from('a').toString('base64')} extra`],
      ['not base64', 'Basic ***'],
      ['bad padding', 'Basic YWJj='],
      ['not UTF-8', `Basic ${Buffer.from([0xff, 0xfe, 0xfd]).toString('base64')}`],
    ])('should refuse %s', (_name, header) => {
      expect(decodeBasicCredentials(header)).toBeUndefined();
    });
  });

  describe('isAuthorized', () => {
    const withAuth = new ApiAuthService(AppConfig.fromEnv({ PREFECT_SERVER_API_AUTH_STRING: 'admin:pass' }));
    const without = new ApiAuthService(AppConfig.fromEnv({}));

    it('should let everything through when no auth string is set', () => {
      expect(without.enabled).toBe(false);
      expect(without.isAuthorized(undefined)).toBe(true);
      expect(without.isAuthorized('Basic garbage')).toBe(true);
    });

    it('should need exactly the auth string when one is set', () => {
      expect(withAuth.enabled).toBe(true);
      expect(withAuth.isAuthorized(basic('admin:pass'))).toBe(true);
      expect(withAuth.isAuthorized(basic('admin:pass '))).toBe(false);
      expect(withAuth.isAuthorized(basic('admin:pas'))).toBe(false);
      expect(withAuth.isAuthorized(basic(''))).toBe(false);
      expect(withAuth.isAuthorized(undefined)).toBe(false);
    });
  });
});
