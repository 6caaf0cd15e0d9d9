"""IDs and policy XML shared by the policy-pack tests and the check tests."""

from __future__ import annotations

import uuid

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
APP_OBJECT_ID = "0b6f8c1e-7c49-4b0e-9d55-3c1f1c0d2a11"
SP_OBJECT_ID = "9a1c2b3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
PRINCIPAL_ID = "5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d0e"
ROLE_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://secure-api-calls/roles")
READ_ID = str(uuid.uuid5(ROLE_NS, "orders/Orders.Read"))
WRITE_ID = str(uuid.uuid5(ROLE_NS, "orders/Orders.Write"))
GATEWAY_ROLE_ID = str(uuid.uuid5(ROLE_NS, "orders/Gateway.Forward"))
GATEWAY_PRINCIPAL_ID = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"

# The shape the stack deploys at the API scope (compact, so tests can edit it as text).
API_POLICY = (
    "<policies><inbound><base />"
    '<validate-azure-ad-token tenant-id="{{tenant-id}}" header-name="Authorization" '
    'failed-validation-httpcode="401" failed-validation-error-message="Unauthorized">'
    "<client-application-ids><application-id>{{client-orders-client}}</application-id>"
    "</client-application-ids>"
    "<audiences><audience>{{orders-audience}}</audience></audiences>"
    '<required-claims><claim name="roles" match="any"><value>Orders.Read</value>'
    '<value>Orders.Write</value></claim><claim name="ver" match="all"><value>2.0</value></claim>'
    "</required-claims></validate-azure-ad-token>"
    '<set-header name="Ocp-Apim-Subscription-Key" exists-action="delete" />'
    '<set-header name="X-HTTP-Method-Override" exists-action="delete" />'
    '<set-header name="X-HTTP-Method" exists-action="delete" />'
    '<set-header name="X-Method-Override" exists-action="delete" />'
    '<set-query-parameter name="subscription-key" exists-action="delete" />'
    '<authentication-managed-identity resource="{{orders-audience}}" />'
    '<set-backend-service backend-id="orders-backend" /></inbound>'
    "<backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error>"
    "</policies>"
)
