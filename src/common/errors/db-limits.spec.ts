import type { Request } from 'express';
import { isProgramLimitError } from './db-errors';
import { HttpExceptionFilter } from './http-exception.filter';

/** What TypeORM throws for a value PostgreSQL cannot index (SQLSTATE 54000). */
const tooLarge = Object.assign(new Error('index row requires 22912 bytes, maximum size is 8191'), {
  driverError: { code: '54000' },
});

describe('database limit errors', () => {
  it('should recognise SQLSTATE class 54 only', () => {
    expect(isProgramLimitError(tooLarge)).toBe(true);
    expect(isProgramLimitError({ code: '54001' })).toBe(true);
    expect(isProgramLimitError({ code: '23505' })).toBe(false);
    expect(isProgramLimitError(new Error('x'))).toBe(false);
  });

  it('should answer 422 with a detail, not 500', () => {
    const sut = new HttpExceptionFilter();
    expect(sut.toResponse(tooLarge, { body: {} } as Request)).toEqual({
      status: 422,
      body: { detail: 'Invalid request: a value is too large to store.' },
    });
  });
});
