import * as z from 'zod';

export const propertyTypes = ['string', 'number', 'boolean', 'date', 'list'] as const;
export const propertyTypeSchema = z.enum(propertyTypes);
export type PropertyType = z.infer<typeof propertyTypeSchema>;

/** Where a property was first defined: by an admin through the API, or on first sight by a source. */
export type PropertySource = 'api' | 'csv' | 'postgres' | 'salesforce';

export interface PropertyDefinition {
  name: string;
  type: PropertyType;
  source: PropertySource;
  createdAt: string;
}

export interface PropertyPage {
  items: PropertyDefinition[];
  nextCursor: string | null;
}

/** The port to the tenant's property registry. */
export interface PropertyStore {
  list(tenantId: string, limit: number, cursor?: string): Promise<PropertyPage>;
}
