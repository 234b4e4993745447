/**
 * What a dynamic provider receives, in a preview, for a value the engine does not know yet
 * (`unknownValue` of @pulumi/pulumi/runtime/rpc): e.g. the URL of a database not created yet.
 * Kept here, without importing the SDK, so providers load fast.
 */
export const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export const isUnknown = (value: unknown): boolean => value === UNKNOWN_VALUE;
