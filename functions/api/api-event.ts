import type { APIGatewayProxyEventV2WithLambdaAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** What the authorizer hands every authenticated request (functions/authorizer). */
export interface AuthorizerContext {
  /** Empty when the request carries no valid key (then `refusal` says why). */
  tenantId: string;
  keyId: string;
  /** Why there is no tenant: no `Authorization` header, or a key that is unknown, malformed or revoked. */
  refusal?: 'missing' | 'invalid' | '';
}

export type ApiEvent = APIGatewayProxyEventV2WithLambdaAuthorizer<AuthorizerContext>;
export type ApiResult = APIGatewayProxyStructuredResultV2;
