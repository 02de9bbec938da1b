/**
 * One instance per process, even across bundles. A function may load a lazily built chunk
 * beside its bundle (the API loads the Salesforce modules on the first Salesforce request);
 * that chunk carries its own copy of the modules both use. Keyed on `globalThis`, the
 * logger, the metrics buffer and the AWS clients stay one per process, as if one bundle.
 */
export function processSingleton<T>(name: string, create: () => T): T {
  const key = Symbol.for(`roster.${name}`);
  const store = globalThis as unknown as Record<symbol, T | undefined>;
  return (store[key] ??= create());
}
