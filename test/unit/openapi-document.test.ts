import { describe, expect, it } from 'vitest';
import { allApiRoutes } from '../../shared/http/api-contract.js';
import { buildOpenApiDocument } from '../../shared/http/openapi-document.js';

describe('OpenAPI document', () => {
  const document = buildOpenApiDocument(allApiRoutes, { version: '1.2.3' }) as any;

  it('is OpenAPI 3.1 and describes every route of the route table', () => {
    expect(document.openapi).toBe('3.1.0');
    for (const route of allApiRoutes) {
      expect(document.paths[route.path][route.method.toLowerCase()].operationId).toBe(route.operationId);
    }
  });

  it('takes parameter rules from the schemas that validate requests', () => {
    const limit = document.paths['/properties'].get.parameters.find((p: any) => p.name === 'limit');
    expect(limit).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', maximum: 1000, minimum: 1, default: 50 } });
  });

  it('marks public routes as needing no API key and the rest as bearer-protected', () => {
    expect(document.paths['/health'].get.security).toEqual([]);
    expect(document.paths['/properties'].get.security).toBeUndefined();
    expect(document.security).toEqual([{ apiKey: [] }]);
    expect(document.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});
