import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { acknowledge } from './nag.js';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RouteSpec } from '../../shared/http/route-spec.js';

export interface HttpApiProps {
  /** The routes to create, one API Gateway route each (`allApiRoutes`). */
  routes: readonly Pick<RouteSpec, 'operationId' | 'method' | 'path' | 'auth' | 'throttle'>[];
  /** The function serving every route. */
  handler: lambda.IFunction;
  /** The Lambda authorizer (API key → tenant) of the `auth: true` routes and of `$default`. */
  authorizer: lambda.IFunction;
  /** Origins answered by the CORS preflight; `['*']` allows any. */
  corsOrigins: string[];
  /** Default-stage throttling. Defaults: 100 requests/s, burst 200. */
  throttle?: apigw.ThrottleSettings;
}

/** The HTTP API: one route per route spec, a Lambda authorizer, CORS, a throttled, logged default stage. */
export class HttpApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogs: logs.LogGroup;
  /** The base URL of the API, without a trailing slash (`https://{id}.execute-api.{region}.amazonaws.com`). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: HttpApiProps) {
    super(scope, id);

    this.api = new apigw.HttpApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-api`,
      description: 'Roster public HTTP API',
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: props.corsOrigins,
        allowHeaders: ['authorization', 'content-type'],
        allowMethods: [
          apigw.CorsHttpMethod.GET,
          apigw.CorsHttpMethod.POST,
          apigw.CorsHttpMethod.PUT,
          apigw.CorsHttpMethod.PATCH,
          apigw.CorsHttpMethod.DELETE,
          apigw.CorsHttpMethod.OPTIONS,
        ],
        maxAge: Duration.hours(1),
      },
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 100, burstLimit: 200 },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        // JSON lines; the route key (a template), never the query string, which may hold an email.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTime',
            sourceIp: '$context.identity.sourceIp',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            responseLatency: '$context.responseLatency',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
            tenantId: '$context.authorizer.tenantId',
          }),
        ),
      },
    });
    // The execute-api endpoint serves the `$default` stage at its root; no trailing slash.
    this.url = this.api.apiEndpoint;

    const integration = new HttpLambdaIntegration('ApiIntegration', props.handler, {
      payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
      // One invoke permission for the whole API instead of one per route (Lambda policies are capped at 20 KB).
      scopePermissionToRoute: false,
    });
    // No identity source and no gateway cache: with one, API Gateway answers a request without
    // the header itself, with a bare `{"message":"Unauthorized"}` that HTTP APIs cannot reshape.
    // So the authorizer sees every request, never refuses, and hands the API function the tenant
    // or the reason there is none; the function answers 401 in the API's error format. The
    // authorizer caches key answers itself (API_KEY_CACHE_SECONDS ≤ 60: API.md's revocation bound).
    const authorizer = new HttpLambdaAuthorizer('ApiKeyAuthorizer', props.authorizer, {
      authorizerName: 'api-key',
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: [],
      resultsCacheTtl: Duration.seconds(0),
    });
    const none = new apigw.HttpNoneAuthorizer();

    // CloudFormation's own spelling: RouteSettings is a map the L1 property does not translate.
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const route of props.routes) {
      const created = new apigw.HttpRoute(this, `Route${route.operationId}`, {
        httpApi: this.api,
        routeKey: apigw.HttpRouteKey.with(route.path, apigw.HttpMethod[route.method]),
        integration,
        authorizer: route.auth ? authorizer : none,
      });
      if (!route.auth) {
        acknowledge(created, 'AwsSolutions::AwsSolutions-APIG4', `${route.method} ${route.path} is public by design (API.md): it reads no tenant data.`);
      }
      if (route.throttle) {
        routeSettings[`${route.method} ${route.path}`] = { ThrottlingRateLimit: route.throttle.rateLimit, ThrottlingBurstLimit: route.throttle.burstLimit };
        // Route settings may only name routes that exist when the stage is created or updated.
        this.stage.node.addDependency(created);
      }
    }
    // Every other request reaches the function too, so an unknown path is a 404 in the API's
    // error format (the router's), not API Gateway's bare `{"message":"Not Found"}`.
    new apigw.HttpRoute(this, 'RouteDefault', { httpApi: this.api, routeKey: apigw.HttpRouteKey.DEFAULT, integration, authorizer });
    (this.stage.node.defaultChild as apigw.CfnStage).addPropertyOverride('RouteSettings', routeSettings);
  }
}
