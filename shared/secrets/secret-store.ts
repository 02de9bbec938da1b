/**
 * The port to tenant credentials. Secrets live only here (Secrets Manager deployed, its
 * local stand-in otherwise), named per tenant and integration (`roster/<tenant>/postgres`),
 * never in DynamoDB, logs or answers.
 */
export interface SecretStore {
  get(name: string): Promise<string | undefined>;
  /** Creates the secret or stores a new version of it. */
  put(name: string, value: string, description?: string): Promise<void>;
  /** Deletes at once (no recovery window: the tenant asked for it to be gone). */
  delete(name: string): Promise<void>;
}

/** The secret name of a tenant's integration: the tenant is part of every name, so no lookup can cross tenants. */
export const integrationSecretName = (tenantId: string, kind: 'postgres' | 'salesforce') => `roster/${tenantId}/${kind}`;
