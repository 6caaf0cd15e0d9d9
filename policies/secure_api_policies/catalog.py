"""The rule catalogue: one row per policy, mirroring the rules table of `policies/README.md`.

Kept apart from the rule code so a security reviewer can map every policy name to its
number and to the scanner / Azure Policy IDs it mirrors without reading any logic.

Two groups: `security` (rules 1-35, each mirroring scanner / Azure Policy IDs, 44-46 for
the CI identities, 47-53 and 62 for the backend hop, 55-60 for private networks and secret
lifetimes)
and `deployability` (rules 36-43 and 61, "preflight": what Resource Manager or Microsoft Graph
refuse at deploy time, or what leaves a deployed service unreachable). For a deployability row
`mirrors` holds the *source* of the refusal (an issue thread or a documentation page), so every
report that prints it names where it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pulumi_policy import EnforcementLevel, Severity

Level = Literal["mandatory", "advisory"]
Group = Literal["security", "deployability"]


@dataclass(frozen=True)
class RuleInfo:
    number: int
    mirrors: str
    severity: Severity
    level: Level
    title: str
    group: Group = "security"
    note: str = ""  # how a rule decides what it cannot see directly; shown in its description

    @property
    def enforcement_level(self) -> EnforcementLevel:
        return (
            EnforcementLevel.MANDATORY if self.level == "mandatory" else EnforcementLevel.ADVISORY
        )


_H, _M, _L, _C = Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.CRITICAL
_MAN: Level = "mandatory"
_ADV: Level = "advisory"
_DEPLOY: Group = "deployability"

RULES: dict[str, RuleInfo] = {
    "webapp-https-only": RuleInfo(
        1, "CKV_AZURE_14, Azure Policy a4af4a39", _H, _MAN, "Web Apps accept HTTPS only"
    ),
    "webapp-min-tls-1-2": RuleInfo(
        2, "CKV_AZURE_15, Azure Policy f0e6e85b", _H, _MAN, "Web Apps require TLS 1.2 or later"
    ),
    "webapp-no-plain-ftp": RuleInfo(
        3, "CKV_AZURE_78, Azure Policy 4d24b6d4", _H, _MAN, "Web Apps do not allow plain FTP"
    ),
    "webapp-ftp-basic-auth-disabled": RuleInfo(
        4, "Azure Policy 871b205b", _H, _MAN, "Every Web App turns off FTP basic-auth publishing"
    ),
    "webapp-scm-basic-auth-disabled": RuleInfo(
        5, "Azure Policy aede300b", _H, _MAN, "Every Web App turns off SCM basic-auth publishing"
    ),
    "webapp-managed-identity": RuleInfo(
        6,
        "CKV_AZURE_16/71, Azure Policy 2b9ad585",
        _H,
        _MAN,
        "Web Apps have a system-assigned managed identity",
    ),
    "webapp-remote-debugging-off": RuleInfo(
        7, "CKV_AZURE_72, Azure Policy cb510bfd", _H, _MAN, "Web Apps keep remote debugging off"
    ),
    "webapp-no-wildcard-cors": RuleInfo(
        8, "CKV_AZURE_57, Azure Policy 5744710e", _H, _MAN, "Web Apps allow no wildcard CORS"
    ),
    "webapp-http2-enabled": RuleInfo(
        9, "CKV_AZURE_18, Azure Policy 8c122334", _L, _ADV, "Web Apps use HTTP/2"
    ),
    "webapp-health-check": RuleInfo(10, "CKV_AZURE_213", _L, _ADV, "Web Apps set a health check"),
    "webapp-no-public-network-access": RuleInfo(
        11,
        "CKV_AZURE_222, Azure Policy 1b5ef780",
        _M,
        _ADV,
        "Web Apps are not publicly reachable (or only from API Management)",
    ),
    "app-service-plan-production-sizing": RuleInfo(
        12,
        "CKV_AZURE_211/212/225",
        _L,
        _ADV,
        "App Service plans are production sized and zone redundant",
    ),
    "apim-no-legacy-protocols": RuleInfo(
        13,
        "CKV_AZURE_173",
        _H,
        _MAN,
        "API Management turns off SSL 3.0, TLS 1.0 and TLS 1.1 on gateway and backend side",
    ),
    "apim-no-weak-ciphers": RuleInfo(
        14, "PSRule Azure.APIM.Ciphers", _M, _ADV, "API Management turns off weak ciphers"
    ),
    "apim-managed-identity": RuleInfo(
        15,
        "PSRule Azure.APIM.ManagedIdentity",
        _M,
        _ADV,
        "API Management has a managed identity",
    ),
    "apim-private-network": RuleInfo(
        16,
        "CKV_AZURE_107/174",
        _M,
        _ADV,
        "API Management sits in a virtual network or has no public access",
    ),
    "apim-api-https-only": RuleInfo(
        17,
        "Azure Policy ee7495e7, PSRule Azure.APIM.HTTPEndpoint",
        _H,
        _MAN,
        "APIs are served over HTTPS only",
    ),
    "apim-subscription-not-all-apis": RuleInfo(
        18, "Azure Policy 3aa03346", _M, _MAN, "Subscriptions are not scoped to all APIs"
    ),
    "apim-backend-https": RuleInfo(
        19,
        "CKV_AZURE_215, PSRule Azure.APIM.HTTPBackend",
        _H,
        _MAN,
        "Backends are called over HTTPS",
    ),
    "apim-backend-certificate-validation": RuleInfo(
        20, "Azure Policy 92bb331d", _H, _MAN, "Backend certificate validation stays on"
    ),
    "apim-secret-named-values-in-key-vault": RuleInfo(
        21,
        "Azure Policy f1cc7827, PSRule Azure.APIM.EncryptValues",
        _H,
        _MAN,
        "Secret named values come from Key Vault",
    ),
    "apim-policy-base-in-every-section": RuleInfo(
        22,
        "Azure Policy d5448c98, PSRule Azure.APIM.PolicyBase",
        _M,
        _MAN,
        "Gateway policies keep <base /> in every section",
    ),
    "apim-api-validates-entra-token": RuleInfo(
        23,
        "Azure Policy 8ac833bd (made concrete)",
        _C,
        _MAN,
        "Every API validates Entra tokens: tenant, audience and roles",
    ),
    "apim-policy-no-wildcard-cors": RuleInfo(
        24, "PSRule Azure.APIM.CORSPolicy", _H, _MAN, "Gateway CORS allows no wildcard origin"
    ),
    "apim-api-subscription-required": RuleInfo(
        25, "project", _M, _MAN, "Every API requires a subscription"
    ),
    "entra-no-password-credentials": RuleInfo(
        26,
        "Entra guidance 'no password credentials'",
        _H,
        _MAN,
        "No client secrets on applications or service principals",
    ),
    "entra-identifier-uri-format": RuleInfo(
        27,
        "Entra identifier-URI restrictions",
        _M,
        _MAN,
        "Identifier URIs are api://<clientId> or a verified-domain HTTPS URI",
    ),
    "entra-assignment-required": RuleInfo(
        28,
        "Entra 'restrict to a set of users'",
        _C,
        _MAN,
        "API service principals require app-role assignment",
    ),
    "entra-v2-access-tokens": RuleInfo(
        29, "project", _L, _ADV, "API registrations issue v2 access tokens"
    ),
    "entra-single-tenant": RuleInfo(30, "project", _H, _MAN, "App registrations are single tenant"),
    "entra-no-implicit-grant": RuleInfo(
        31, "project", _H, _MAN, "App registrations do not use the implicit grant"
    ),
    "entra-app-role-well-formed": RuleInfo(
        32,
        "project",
        _M,
        _MAN,
        "App roles have a value without spaces, a stable uuid5 ID and User/Application members",
    ),
    "entra-app-role-values-unique": RuleInfo(
        32, "project", _M, _MAN, "App role values and IDs are unique per app registration"
    ),
    "entra-consumer-identity-has-direct-role": RuleInfo(
        33,
        "project",
        _H,
        _MAN,
        "Every consumer identity holds an app-role assignment directly, not through a group",
    ),
    "entra-required-roles-defined": RuleInfo(
        34,
        "project",
        _C,
        _MAN,
        "Roles that gateway policies require and consumers are granted exist on the API's "
        "registration",
    ),
    "entra-federated-credential-scoped": RuleInfo(
        35,
        "CKV_AZURE_249",
        _H,
        _MAN,
        "Federated credentials name an exact subject, the expected issuer and audience",
    ),
    # --- deployability (preflight): `mirrors` is the source of the refusal ----------------
    "preflight-apim-client-certificate": RuleInfo(
        36,
        "ARM NotSupported; pulumi/pulumi-azure-native#1741, #1865",
        _H,
        _MAN,
        "API Management outside Consumption does not send enableClientCertificate=false",
        _DEPLOY,
    ),
    "preflight-key-vault-reference-resolves": RuleInfo(
        37,
        "learn.microsoft.com/azure/app-service/app-service-key-vault-references",
        _H,
        _MAN,
        "Key Vault references are written only after the site's identity can read the secret",
        _DEPLOY,
        "A WebApp's own siteConfig never qualifies (its system identity does not exist before "
        "it); a settings resource must depend, directly or transitively, on a RoleAssignment "
        "of Key Vault Secrets User, Secrets Officer or Administrator to the site's identity "
        "whose scope covers the vault or secret; a scope or role unknown at preview counts",
    ),
    "preflight-apim-operation-unique": RuleInfo(
        38,
        "APIM ValidationError on urlTemplate; Azure/apiops#670, "
        "Azure/azure-api-management-devops-resource-kit#346",
        _H,
        _MAN,
        "No two operations of one API share a method and URL template",
        _DEPLOY,
    ),
    "preflight-apim-v2-cipher-settings": RuleInfo(
        39,
        "learn.microsoft.com/azure/api-management/api-management-howto-manage-protocols-ciphers",
        _H,
        _MAN,
        "Consumption and v2 tiers get no protocol or cipher customProperties",
        _DEPLOY,
    ),
    "preflight-key-vault-deletion-protection": RuleInfo(
        40,
        "ARM BadRequest; Azure/azure-rest-api-specs#18106, "
        "learn.microsoft.com/azure/key-vault/general/soft-delete-change",
        _H,
        _MAN,
        "Key Vaults never send enableSoftDelete=false or enablePurgeProtection=false",
        _DEPLOY,
    ),
    "preflight-app-role-group-licence": RuleInfo(
        41,
        "learn.microsoft.com/entra/identity-platform/howto-add-app-roles-in-apps",
        _L,
        _ADV,
        "App roles assigned to principals outside the stack (groups need Entra ID P1/P2)",
        _DEPLOY,
        "Heuristic: a principalObjectId computed from a stack resource (a Web App or gateway "
        "identity, a service principal) or equal to one's ID is a stack principal and passes; "
        "a group of the stack, or a literal object ID matching nothing in the stack (it may be "
        "a group), is reported",
    ),
    "preflight-azure-name-limits": RuleInfo(
        42,
        "learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules",
        _H,
        _MAN,
        "Resource names and API Management IDs stay within Azure's length and character rules",
        _DEPLOY,
        "Names unknown at preview, or left to auto-naming, are skipped",
    ),
    "preflight-role-assignment-principal-type": RuleInfo(
        43,
        "ARM UnmatchedPrincipalType; Azure/modern-web-app-pattern-dotnet#129",
        _H,
        _MAN,
        "Role assignments to managed identities send principalType=ServicePrincipal",
        _DEPLOY,
    ),
    # --- the CI identities (the bootstrap plan), pipeline.py ----------------------------------
    "pipeline-preview-identity-read-only": RuleInfo(
        44,
        "project; Azure built-in Reader (*/read, no data action)",
        _C,
        _MAN,
        "An identity that pull requests can use holds Reader (or read-only roles) and reads no "
        "secret",
    ),
    "pipeline-permission-granting-only-protected": RuleInfo(
        45,
        "Graph permissions reference (permissions that grant authorization)",
        _C,
        _MAN,
        "Permission-granting Graph permissions only for identities of protected environments",
        note="Protection is what the bootstrap declares in each federated credential's "
        "description; GitHub's own setting is checked in GitHub (docs/ci.md)",
    ),
    "pipeline-federated-subject-exact": RuleInfo(
        46,
        "CKV_AZURE_249 (made exact)",
        _H,
        _MAN,
        "Federated credentials name one exact GitHub subject (no expression, no pattern)",
    ),
    # --- the backend hop, backend_hop.py -------------------------------------------------------
    "apim-backend-hop-authenticated": RuleInfo(
        47,
        "learn.microsoft.com/azure/api-management/authentication-managed-identity-policy",
        _C,
        _MAN,
        "Every API policy calls its backend with the gateway's own managed-identity token, "
        "after validating the caller's (or its Backend declares why not)",
    ),
    "apim-backend-hop-exception": RuleInfo(
        48,
        "project (backendAuth: {mode: none, reason})",
        _M,
        _ADV,
        "Backends called without the gateway's token, with the reason given",
    ),
    "apim-caller-headers-not-forgeable": RuleInfo(
        49,
        "project",
        _H,
        _MAN,
        "Headers the gateway derives for the backend are removed from the caller's request "
        "first and set only after token validation",
    ),
    "apim-caller-credentials-stop-at-gateway": RuleInfo(
        62,
        "project; learn.microsoft.com/azure/api-management/set-header-policy, "
        "set-query-parameter-policy",
        _H,
        _MAN,
        "Every API policy removes, after validating the caller, the caller's subscription key "
        "(header and query), its token (unless the hop replaces it) and method-override headers",
    ),
    "entra-gateway-role-only-gateway": RuleInfo(
        50,
        "project",
        _C,
        _MAN,
        "The gateway role is for applications only and held by the gateway's identity alone",
        note="Without the APIM service in the stack (an existing gateway), 'the gateway' is the "
        "one principal holding the role that holds no other role and is no Web App identity",
    ),
    "entra-gateway-role-assigned": RuleInfo(
        51,
        "Entra AADSTS501051 (assignment required)",
        _H,
        _MAN,
        "Every hop asks for the API's own registration, whose gateway role the gateway holds",
    ),
    "webapp-backend-accepts-only-the-gateway": RuleInfo(
        52,
        "learn.microsoft.com/azure/app-service/configure-authentication-provider-aad",
        _C,
        _MAN,
        "Backend sites require authentication, answer 401 and allow only the gateway's identity",
    ),
    "webapp-backend-issuer-matches-token-version": RuleInfo(
        53,
        "learn.microsoft.com/azure/app-service/configure-authentication-provider-aad",
        _H,
        _MAN,
        "Backend sites trust the issuer of their API registration's token version",
    ),
    # --- private network and secret lifetime, private_network.py -----------------------------
    "private-network-key-vault-closed": RuleInfo(
        55,
        "CKV_AZURE_189, CKV_AZURE_109, Azure Policy 405c5871, 55615ac9",
        _H,
        _MAN,
        "In a private network, Key Vaults disable public network access and deny by default",
        note="A stack is private when it has a virtual network or a resource tagged "
        "network=private",
    ),
    "private-network-key-vault-endpoint": RuleInfo(
        56,
        "Azure Policy a6abeaec; learn.microsoft.com/azure/private-link/private-endpoint-dns",
        _H,
        _MAN,
        "In a private network, Key Vaults have a private endpoint registered in "
        "privatelink.vaultcore.azure.net, linked to the stack's VNet",
    ),
    "private-network-web-apps": RuleInfo(
        57,
        "CKV_AZURE_222, Azure Policy 72d04c29, a691eacb, 1b5ef780",
        _H,
        _MAN,
        "In a private network, Web Apps join the VNet, route all outbound traffic through it and "
        "take no public traffic (private endpoint or deny-by-default access restrictions)",
    ),
    "private-network-gateway": RuleInfo(
        58,
        "CKV_AZURE_107, Azure Policy ef619a2c",
        _H,
        _MAN,
        "In a private network, the API Management gateway sits in the stack's VNet",
        note="External mode keeps the gateway endpoint reachable for its callers; what the rule "
        "requires is that the gateway calls backends from inside the network",
    ),
    "key-vault-secret-expiry": RuleInfo(
        59,
        "CKV_AZURE_41, Azure Policy 98728c90",
        _M,
        _ADV,
        "Key Vault secrets have an expiry date",
    ),
    "key-vault-secret-content-type": RuleInfo(
        60,
        "CKV_AZURE_114, Azure Policy 75262d3e",
        _L,
        _ADV,
        "Key Vault secrets have a content type",
    ),
    "preflight-apim-injection-network": RuleInfo(
        61,
        "learn.microsoft.com/azure/api-management/virtual-network-reference, "
        "virtual-network-injection-resources",
        _H,
        _MAN,
        "A VNet-injected API Management subnet has an NSG admitting ApiManagement:3443, "
        "AzureLoadBalancer:6390 (and clients on 443 in external mode); its public IP is Standard "
        "and in its region",
        _DEPLOY,
    ),
}
