/**
 * Every documented operation's `operationId` (what client generators name their methods after, and what the
 * TypeScript SDK calls), and its security when it is not the bearer of its scope. Applied to each route as it is
 * registered (`describeOperation`); a documented route missing here fails the start, so a new route cannot ship
 * without a name.
 */
const IDS: Record<string, string> = {
  'POST /v1/verifications': 'createVerification',
  'GET /v1/verifications': 'listVerifications',
  'POST /v1/verifications/check': 'checkVerificationByRecipient',
  'GET /v1/verifications/{id}': 'getVerification',
  'GET /v1/verifications/{id}/messages': 'listVerificationMessages',
  'POST /v1/verifications/{id}/check': 'checkVerification',
  'POST /v1/verifications/{id}/resend': 'resendVerification',
  'POST /v1/verifications/{id}/next': 'nextVerificationStep',
  'POST /v1/verifications/{id}/cancel': 'cancelVerification',
  'POST /v1/templates': 'createTemplate',
  'GET /v1/templates': 'listTemplates',
  'GET /v1/templates/{id}': 'getTemplate',
  'PUT /v1/templates/{id}': 'replaceTemplate',
  'DELETE /v1/templates/{id}': 'deleteTemplate',
  'POST /v1/templates/preview': 'previewTemplate',
  'POST /v1/senders': 'createSender',
  'GET /v1/senders': 'listSenders',
  'DELETE /v1/senders/{id}': 'deleteSender',
  'GET /v1/analytics/summary': 'getAnalyticsSummary',
  'GET /v1/analytics/series': 'getAnalyticsSeries',
  'GET /dev/messages': 'listDevMessages',
  'POST /v1/client-sessions': 'createClientSession',
  'GET /client/v1/session': 'clientGetSession',
  'GET /verify': 'getHostedVerificationPage',
  'POST /client/v1/verifications': 'clientStartVerification',
  'POST /client/v1/verifications/{id}/resend': 'clientResendVerification',
  'POST /client/v1/verifications/{id}/check': 'clientCheckVerification',
  'POST /admin/v1/apps': 'adminCreateApp',
  'GET /admin/v1/apps': 'adminListApps',
  'GET /admin/v1/apps/{id}': 'adminGetApp',
  'PATCH /admin/v1/apps/{id}': 'adminUpdateApp',
  'DELETE /admin/v1/apps/{id}': 'adminDeleteApp',
  'POST /admin/v1/apps/{id}/callback-secret': 'adminRotateCallbackSecret',
  'POST /admin/v1/apps/{id}/keys': 'adminCreateKey',
  'GET /admin/v1/apps/{id}/keys': 'adminListKeys',
  'DELETE /admin/v1/apps/{id}/keys/{keyId}': 'adminRevokeKey',
  'POST /admin/v1/apps/{id}/clients': 'adminCreateClient',
  'GET /admin/v1/apps/{id}/clients': 'adminListClients',
  'POST /admin/v1/apps/{id}/clients/{clientId}/rotate': 'adminRotateClient',
  'DELETE /admin/v1/apps/{id}/clients/{clientId}': 'adminRevokeClient',
  'GET /admin/v1/apps/{id}/lockouts': 'adminListLockouts',
  'DELETE /admin/v1/apps/{id}/lockouts/{to}': 'adminUnblockPhone',
  'GET /admin/v1/audit': 'adminListAudit',
  'GET /admin/v1/apps/{id}/guard': 'adminGetGuard',
  'PATCH /admin/v1/apps/{id}/guard': 'adminUpdateGuard',
  'GET /admin/v1/apps/{id}/guard/decisions': 'adminListGuardDecisions',
  'GET /admin/v1/apps/{id}/guard/blocks': 'adminListGuardBlocks',
  'POST /admin/v1/apps/{id}/guard/unblock': 'adminUnblockGuard',
  'POST /admin/v1/apps/{id}/webhooks': 'adminCreateWebhook',
  'GET /admin/v1/apps/{id}/webhooks': 'adminListWebhooks',
  'PATCH /admin/v1/apps/{id}/webhooks/{webhookId}': 'adminUpdateWebhook',
  'DELETE /admin/v1/apps/{id}/webhooks/{webhookId}': 'adminDeleteWebhook',
  'GET /admin/v1/apps/{id}/webhook-deliveries': 'adminListWebhookDeliveries',
  'GET /admin/v1/apps/{id}/webhook-deliveries/{deliveryId}/attempts': 'adminListWebhookDeliveryAttempts',
  'POST /admin/v1/apps/{id}/webhook-deliveries/{deliveryId}/replay': 'adminReplayWebhookDelivery',
  'GET /admin/v1/providers': 'adminListProviders',
  'POST /admin/v1/apps/{id}/connections': 'adminCreateAppConnection',
  'GET /admin/v1/apps/{id}/connections': 'adminListAppConnections',
  'GET /admin/v1/apps/{id}/connections/{cid}': 'adminGetAppConnection',
  'PATCH /admin/v1/apps/{id}/connections/{cid}': 'adminUpdateAppConnection',
  'DELETE /admin/v1/apps/{id}/connections/{cid}': 'adminDeleteAppConnection',
  'POST /admin/v1/apps/{id}/connections/{cid}/test': 'adminTestAppConnection',
  'POST /admin/v1/connections': 'adminCreateSharedConnection',
  'GET /admin/v1/connections': 'adminListSharedConnections',
  'GET /admin/v1/connections/{cid}': 'adminGetSharedConnection',
  'PATCH /admin/v1/connections/{cid}': 'adminUpdateSharedConnection',
  'DELETE /admin/v1/connections/{cid}': 'adminDeleteSharedConnection',
  'POST /admin/v1/connections/{cid}/test': 'adminTestSharedConnection',
  'GET /admin/v1/analytics/summary': 'adminGetAnalyticsSummary',
  'GET /admin/v1/analytics/series': 'adminGetAnalyticsSeries',
  'GET /admin/v1/apps/{appId}/verifications': 'adminListAppVerifications',
  'GET /admin/v1/apps/{appId}/verifications/{id}': 'adminGetAppVerification',
  'GET /admin/v1/apps/{appId}/verifications/{id}/messages': 'adminListAppVerificationMessages',
  'POST /admin/v1/apps/{appId}/verifications/{id}/cancel': 'adminCancelAppVerification',
  'GET /admin/v1/apps/{appId}/verifications/{id}/timeline': 'adminGetAppVerificationTimeline',
  'POST /admin/v1/apps/{appId}/templates': 'adminCreateAppTemplate',
  'GET /admin/v1/apps/{appId}/templates': 'adminListAppTemplates',
  'GET /admin/v1/apps/{appId}/templates/{id}': 'adminGetAppTemplate',
  'PUT /admin/v1/apps/{appId}/templates/{id}': 'adminReplaceAppTemplate',
  'DELETE /admin/v1/apps/{appId}/templates/{id}': 'adminDeleteAppTemplate',
  'POST /admin/v1/apps/{appId}/templates/preview': 'adminPreviewAppTemplate',
  'POST /admin/v1/apps/{appId}/senders': 'adminCreateAppSender',
  'GET /admin/v1/apps/{appId}/senders': 'adminListAppSenders',
  'DELETE /admin/v1/apps/{appId}/senders/{id}': 'adminDeleteAppSender',
  'POST /dashboard/api/session': 'createDashboardSession',
  'GET /dashboard/api/session': 'getDashboardSession',
  'DELETE /dashboard/api/session': 'deleteDashboardSession',
  'POST /oauth/token': 'createOAuthToken',
  'GET /metrics': 'getMetrics',
  'POST /webhooks/twilio/{provider}': 'receiveTwilioCallback',
  'GET /webhooks/vonage/{provider}': 'receiveVonageReceiptByQuery',
  'POST /webhooks/vonage/{provider}': 'receiveVonageReceipt',
  'GET /webhooks/whatsapp/{provider}': 'verifyWhatsAppWebhook',
  'POST /webhooks/whatsapp/{provider}': 'receiveWhatsAppStatus',
  'GET /webhooks/http/{provider}': 'receiveHttpReceiptByQuery',
  'POST /webhooks/http/{provider}': 'receiveHttpReceipt',
  'GET /healthz': 'getHealth',
  'GET /readyz': 'getReadiness',
  'GET /problems/{code}': 'getProblemType',
};

/** What each 201 answers: a name (the schema's title, which generators name the type after) and a description. */
const CREATED: Record<string, [title: string, description: string]> = {
  createVerification: ['Verification', 'The verification, started: its code is on its way'],
  createTemplate: ['Template', 'The template, created'],
  createSender: ['Sender', 'The sender, registered'],
  createClientSession: ['ClientSession', 'The client session: give its token to the widget or the hosted page'],
  clientStartVerification: ['ClientVerification', "The verification, started for the session's recipient"],
  adminCreateApp: ['CreatedApp', 'The app, with its first API key (shown once) and its callback secret'],
  adminCreateKey: ['CreatedApiKey', 'The API key (shown once: only its hash is kept)'],
  adminCreateClient: ['CreatedOAuthClient', 'The OAuth client, with its secret (shown once)'],
  adminCreateWebhook: ['CreatedWebhookEndpoint', 'The webhook endpoint, with its signing secret (shown once)'],
  adminCreateAppConnection: ['Connection', "The app's provider connection, credentials masked"],
  adminCreateSharedConnection: ['Connection', 'The shared provider connection, credentials masked'],
  adminCreateAppTemplate: ['Template', 'The template, created'],
  adminCreateAppSender: ['Sender', 'The sender, registered'],
};

/** Routes anyone may call (no credential; provider callbacks carry their provider's signature). */
const PUBLIC = /^(\/healthz|\/readyz|\/problems\/|\/webhooks\/|\/oauth\/token|\/verify$|\/dashboard\/api\/session$)/;

/** A route's path as OpenAPI writes it (`:id` → `{id}`). */
export const openApiPath = (url: string): string => url.replace(/:(\w+)/g, '{$1}');

/**
 * Sets a documented route's operationId and its security: none for public routes, and on `/admin` the dashboard's
 * session (cookie + CSRF header) beside the admin token. Throws for a documented route that has no name here.
 */
export function describeOperation(route: { url: string; method: string | string[]; schema?: Record<string, unknown> | undefined }): void {
  const schema = route.schema;
  if (!schema || schema.hide === true) return;
  for (const method of [route.method].flat()) {
    if (method === 'HEAD') continue;
    const key = `${method} ${openApiPath(route.url)}`;
    const id = IDS[key];
    if (!id) throw new Error(`no operationId for ${key}: add it to api/operations.ts`);
    schema.operationId = id;
    const created = CREATED[id];
    const responses = schema.response as Record<string, Record<string, unknown>> | undefined;
    const ok = responses?.[201];
    if (responses && ok) {
      if (!created) throw new Error(`no name for the 201 of ${id}: add it to CREATED in api/operations.ts`);
      // A copy (the schema may be shared with other answers); a $ref keeps its component's name, an inline schema gets one.
      responses[201] = { ...ok, ...('$ref' in ok ? {} : { title: created[0] }), description: created[1] };
    }
  }
  const path = openApiPath(route.url);
  if (PUBLIC.test(path) && !(route.method === 'DELETE' && path.startsWith('/dashboard'))) schema.security = [];
  else if (path === '/dashboard/api/session') schema.security = [{ dashboardSession: [], csrfToken: [] }];
  else if (path.startsWith('/admin/')) schema.security = [{ adminToken: [] }, { dashboardSession: [], csrfToken: [] }];
}
