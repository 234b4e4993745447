/**
 * Pulumi may call a provider's `read` with an id alone (`pulumi import`, `Resource.get`). Our
 * providers need the state's connection settings to find anything, so they refuse that plainly.
 */
export function stateOrRefuse<T>(type: string, id: string, props: T | undefined): T {
  if (props !== undefined) return props;
  throw new Error(
    `${type} "${id}" cannot be read from its id alone: it needs the connection settings its state holds, so \`pulumi import\` and \`.get()\` are not supported. ` +
      "Declare it in the program and run `npm run pulumi -- up`: existing objects are adopted, not recreated.",
  );
}
