/** class-transformer's metadata storage (not in its public typings): where `@Type(() => X)` is recorded. */
declare module 'class-transformer/cjs/storage' {
  export const defaultMetadataStorage: {
    findTypeMetadata(target: object, propertyName: string): { typeFunction: () => unknown } | undefined;
  };
}
