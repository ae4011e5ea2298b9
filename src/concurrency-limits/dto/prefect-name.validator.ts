import { ValidatorConstraint, ValidatorConstraintInterface, ValidationArguments } from 'class-validator';

/** Characters Prefect's `Name` type refuses. */
export const BANNED_NAME_CHARACTERS = ['/', '%', '&', '>', '<'];

/** Prefect's `Name`: no `/ % & > <` (they break URLs). */
@ValidatorConstraint({ name: 'value_error', async: false })
export class PrefectName implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value !== 'string' || !BANNED_NAME_CHARACTERS.some((c) => value.includes(c));
  }

  defaultMessage(args: ValidationArguments): string {
    const banned = `[${BANNED_NAME_CHARACTERS.map((c) => `'${c}'`).join(', ')}]`;
    return `Value error, Name '${String(args.value)}' contains an invalid character. Must not contain any of: ${banned}.`;
  }
}
