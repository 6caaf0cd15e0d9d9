"""The gateway policy builder and its strict parser (components/gateway_policy.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.caller_headers import (
    CALLER_HEADERS,
    HEADER_NAMES,
    METHOD_OVERRIDE_HEADERS,
    SUBSCRIPTION_KEY_HEADER,
    SUBSCRIPTION_KEY_QUERY,
    TEMPLATES,
    TOKEN_VARIABLE,
)
from components.gateway_policy import (
    SECTIONS,
    UNAUTHORIZED_MESSAGE,
    ApiPolicySpec,
    AuthenticationManagedIdentity,
    Base,
    Claim,
    OperationPolicySpec,
    PolicyDocument,
    SetBackendService,
    SetHeader,
    SetQueryParameter,
    TokenCheck,
    UnsupportedPolicyError,
    ValidateAzureAdToken,
    build_api_policy,
    build_operation_policy,
    forbidden_message,
    parse_api_policy,
    parse_operation_policy,
    parse_policy,
)

GOLDEN = Path(__file__).parent / "golden"
TENANT = "{{tenant-id}}"
V2_AUDIENCE = ("{{orders-audience}}",)
BOTH_AUDIENCES = ("{{orders-audience}}", "{{orders-audience-v1}}")
ORDERS_ROLES = ("Orders.Read", "Orders.Write")
CLIENTS = ("{{client-storefront}}", "04b07795-8ddb-461a-bbee-02f9e1bf7b46")

HOP = "{{orders-audience}}"
V2_CHECK = TokenCheck(TENANT, CLIENTS, V2_AUDIENCE, ORDERS_ROLES, True)
V1_CHECK = TokenCheck(TENANT, CLIENTS, BOTH_AUDIENCES, ORDERS_ROLES, False)
V2_ONLY = ApiPolicySpec(V2_CHECK, "orders-backend", HOP)
ACCEPTS_V1 = ApiPolicySpec(V1_CHECK, "orders-backend", HOP)
UNAUTHENTICATED_HOP = ApiPolicySpec(V2_CHECK, "orders-backend")
WRITE_ONLY = OperationPolicySpec(V2_CHECK, ("Orders.Write",))
READ_OR_WRITE = OperationPolicySpec(V1_CHECK, ORDERS_ROLES)


def _validate(document: PolicyDocument) -> ValidateAzureAdToken:
    """The one validation of an API policy, or the role check (the last) of an operation's."""
    validations = [s for s in document.inbound if isinstance(s, ValidateAzureAdToken)]
    return validations[-1]


def _rejects(xml: str, message: str) -> None:
    with pytest.raises(UnsupportedPolicyError, match=re.escape(message)):
        parse_policy(xml)


# --- the documents as reviewed -----------------------------------------------------------


@pytest.mark.parametrize(
    ("golden", "xml"),
    [
        ("api_policy_v2_only.xml", build_api_policy(V2_ONLY)),
        ("api_policy_accepts_v1.xml", build_api_policy(ACCEPTS_V1)),
        ("operation_policy_one_role.xml", build_operation_policy(WRITE_ONLY)),
        ("operation_policy_two_roles.xml", build_operation_policy(READ_OR_WRITE)),
        ("api_policy_unauthenticated_hop.xml", build_api_policy(UNAUTHENTICATED_HOP)),
    ],
)
def test_builder_output_is_byte_identical_to_the_reviewed_golden_file(
    golden: str, xml: str
) -> None:
    assert xml == (GOLDEN / golden).read_text(encoding="utf-8")


@pytest.mark.parametrize("xml", [build_api_policy(V2_ONLY), build_api_policy(ACCEPTS_V1)])
def test_every_section_of_an_api_policy_starts_with_base(xml: str) -> None:
    document = parse_policy(xml)
    for section in (document.inbound, document.backend, document.outbound, document.on_error):
        assert section[0] == Base()


def test_an_operation_policy_judges_the_callers_token_before_base() -> None:
    # After <base />, the API scope's authentication-managed-identity has put the gateway's
    # own token into Authorization: a role check there would judge the gateway.
    document = parse_policy(build_operation_policy(WRITE_ONLY))
    assert [type(s) for s in document.inbound] == [
        ValidateAzureAdToken,
        ValidateAzureAdToken,
        Base,
    ]
    for section in (document.backend, document.outbound, document.on_error):
        assert section == (Base(),)


def test_api_policy_answers_401_for_every_token_problem() -> None:
    validate = _validate(parse_policy(build_api_policy(V2_ONLY)))
    assert validate.failed_validation_httpcode == 401
    assert validate.failed_validation_error_message == UNAUTHORIZED_MESSAGE
    assert validate.header_name == "Authorization"
    assert validate.tenant_id == "{{tenant-id}}"


def test_api_policy_refuses_a_caller_holding_none_of_the_apis_roles() -> None:
    validate = _validate(parse_policy(build_api_policy(V2_ONLY)))
    assert Claim("roles", "any", None, ORDERS_ROLES) in validate.required_claims


def test_api_policy_routes_to_the_backend_after_validating_the_token() -> None:
    document = parse_policy(build_api_policy(V2_ONLY))
    kinds = [type(s) for s in document.inbound]
    assert kinds == [
        Base,
        ValidateAzureAdToken,
        *[SetHeader] * 4,  # the caller's key and method overrides
        SetQueryParameter,  # the caller's key in the query
        *[SetHeader] * 8,  # the caller headers: removed, then set from the token
        AuthenticationManagedIdentity,
        SetBackendService,
    ]
    assert document.inbound[-1] == SetBackendService("orders-backend")


@pytest.mark.parametrize("spec", [V2_ONLY, UNAUTHENTICATED_HOP], ids=["hop", "no-hop"])
def test_api_policy_removes_the_callers_key_and_method_overrides_after_validation(
    spec: ApiPolicySpec,
) -> None:
    inbound = parse_policy(build_api_policy(spec)).inbound
    after = inbound[[type(s) for s in inbound].index(ValidateAzureAdToken) + 1 :]
    deleted = {s.name for s in after if isinstance(s, SetHeader) and s.exists_action == "delete"}
    assert {SUBSCRIPTION_KEY_HEADER, *METHOD_OVERRIDE_HEADERS} <= deleted
    assert SetQueryParameter(SUBSCRIPTION_KEY_QUERY, "delete") in after


def test_api_policy_removes_the_callers_token_only_when_no_hop_replaces_it() -> None:
    def deletes_token(spec: ApiPolicySpec) -> bool:
        inbound = parse_policy(build_api_policy(spec)).inbound
        return SetHeader("Authorization", "delete", None) in inbound

    assert deletes_token(UNAUTHENTICATED_HOP)
    assert not deletes_token(V2_ONLY)  # authentication-managed-identity overrides it


def test_api_policy_removes_the_caller_headers_then_sets_them_from_the_validated_token() -> None:
    document = parse_policy(build_api_policy(V2_ONLY))
    assert _validate(document).output_token_variable_name == TOKEN_VARIABLE
    names = [h.name for h in CALLER_HEADERS]
    headers = [
        s for s in document.inbound if isinstance(s, SetHeader) and s.name.startswith("X-Caller-")
    ]
    assert headers[:4] == [SetHeader(name, "delete", None) for name in names]
    assert headers[4:] == [SetHeader(h.name, "override", h.expression) for h in CALLER_HEADERS]
    assert all(h.value in TEMPLATES for h in headers[4:])


def test_api_policy_authenticates_the_backend_hop_with_the_apis_own_registration() -> None:
    document = parse_policy(build_api_policy(V2_ONLY))
    hop = next(s for s in document.inbound if isinstance(s, AuthenticationManagedIdentity))
    # The system-assigned identity, no variable, errors not ignored: the documented defaults.
    assert hop == AuthenticationManagedIdentity(HOP)
    assert HOP in V2_AUDIENCE  # the same named value the token's audience is checked against


def test_an_api_whose_hop_is_not_authenticated_still_strips_and_sets_the_caller_headers() -> None:
    document = parse_policy(build_api_policy(UNAUTHENTICATED_HOP))
    assert not any(isinstance(s, AuthenticationManagedIdentity) for s in document.inbound)
    caller = [s for s in document.inbound if isinstance(s, SetHeader) and s.name in HEADER_NAMES]
    assert len(caller) == 8


def test_operation_policy_answers_403_naming_the_missing_role() -> None:
    validate = _validate(parse_policy(build_operation_policy(WRITE_ONLY)))
    assert validate.failed_validation_httpcode == 403
    assert validate.failed_validation_error_message == (
        "Forbidden. This operation requires the app role Orders.Write."
    )
    assert validate.required_claims == (Claim("roles", "any", None, ("Orders.Write",)),)


def test_operation_policy_with_several_roles_names_them_as_alternatives() -> None:
    validate = _validate(parse_policy(build_operation_policy(READ_OR_WRITE)))
    assert validate.failed_validation_error_message == (
        "Forbidden. This operation requires one of the app roles: Orders.Read, Orders.Write."
    )
    assert validate.required_claims == (Claim("roles", "any", None, ORDERS_ROLES),)


def test_operation_policy_first_repeats_the_apis_401_check_and_does_not_route() -> None:
    document = parse_policy(build_operation_policy(WRITE_ONLY))
    first = next(s for s in document.inbound if isinstance(s, ValidateAzureAdToken))
    api = next(s for s in parse_policy(build_api_policy(V2_ONLY)).inbound if s != Base())
    assert isinstance(api, ValidateAzureAdToken)
    assert first == api.__class__(**{**api.__dict__, "output_token_variable_name": None})
    assert not any(isinstance(s, SetBackendService) for s in document.inbound)


def test_audiences_are_named_values_so_every_environment_deploys_the_same_xml() -> None:
    assert _validate(parse_policy(build_api_policy(V2_ONLY))).audiences == V2_AUDIENCE
    assert _validate(parse_policy(build_api_policy(ACCEPTS_V1))).audiences == BOTH_AUDIENCES
    assert _validate(parse_policy(build_operation_policy(READ_OR_WRITE))).audiences == (
        BOTH_AUDIENCES
    )


def test_ver_claim_is_required_only_when_v1_tokens_are_refused() -> None:
    ver = Claim("ver", "all", None, ("2.0",))
    assert ver in _validate(parse_policy(build_api_policy(V2_ONLY))).required_claims
    assert ver not in _validate(parse_policy(build_api_policy(ACCEPTS_V1))).required_claims


def test_api_without_roles_and_accepting_v1_emits_no_required_claims() -> None:
    spec = ApiPolicySpec(TokenCheck(TENANT, CLIENTS, BOTH_AUDIENCES, (), False), "orders-backend")
    xml = build_api_policy(spec)
    assert "required-claims" not in xml
    assert parse_api_policy(xml) == spec


def test_documents_carry_no_xml_declaration_and_no_expression_but_the_templates() -> None:
    for xml in (build_api_policy(V2_ONLY), build_operation_policy(READ_OR_WRITE)):
        assert xml.startswith("<policies>\n")
        without = xml
        for template in TEMPLATES:
            without = without.replace(template, "")
        assert "@(" not in without and "@{" not in without and "<!--" not in xml
    assert "@(" not in build_operation_policy(READ_OR_WRITE)


def test_the_same_spec_builds_byte_identical_xml() -> None:
    again = ApiPolicySpec(
        TokenCheck(TENANT, CLIENTS, V2_AUDIENCE, ORDERS_ROLES, True), "orders-backend", HOP
    )
    assert build_api_policy(again) == build_api_policy(V2_ONLY)


def test_parsers_invert_the_builders_on_the_golden_documents() -> None:
    assert parse_api_policy(build_api_policy(V2_ONLY)) == V2_ONLY
    assert parse_api_policy(build_api_policy(ACCEPTS_V1)) == ACCEPTS_V1
    assert parse_operation_policy(build_operation_policy(WRITE_ONLY)) == WRITE_ONLY
    assert parse_operation_policy(build_operation_policy(READ_OR_WRITE)) == READ_OR_WRITE
    assert parse_api_policy(build_api_policy(UNAUTHENTICATED_HOP)) == UNAUTHENTICATED_HOP


# --- specs refuse what cannot be deployed faithfully -------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TokenCheck("", CLIENTS, V2_AUDIENCE, ORDERS_ROLES, True), "tenant"),
        (lambda: TokenCheck(TENANT, CLIENTS, (), ORDERS_ROLES, True), "audiences needs"),
        (lambda: TokenCheck(TENANT, CLIENTS, V2_AUDIENCE, ("A", "A"), True), "duplicates"),
        (lambda: ApiPolicySpec(V2_CHECK, " "), "backend_id"),
        (lambda: ApiPolicySpec(V2_CHECK, "b", "@(context.Api.Id)"), "hop_resource must not"),
        (lambda: ApiPolicySpec(V2_CHECK, "b", ""), "hop_resource must not be empty"),
        (lambda: OperationPolicySpec(V2_CHECK, ()), "roles needs"),
        (lambda: OperationPolicySpec(V2_CHECK, ("A", "B", "A")), "duplicates"),
        (
            lambda: TokenCheck(TENANT, CLIENTS, ("a", "a"), ("A",), True),
            "audiences has duplicates",
        ),
        (lambda: OperationPolicySpec(V2_CHECK, ("",)), "roles must not be empty"),
        (lambda: OperationPolicySpec(V2_CHECK, ("@(1)",)), "policy expression"),
        (lambda: TokenCheck("@{x}", CLIENTS, V2_AUDIENCE, ("A",), True), "policy expression"),
        (lambda: OperationPolicySpec(V2_CHECK, ("A\x00",)), "XML cannot carry"),
        (lambda: OperationPolicySpec(V2_CHECK, ("A\rB",)), "XML cannot carry"),
        (lambda: TokenCheck(TENANT, CLIENTS, ("\ud800",), ("A",), True), "XML cannot carry"),
        (lambda: OperationPolicySpec(V2_CHECK, ("\ufffe",)), "XML cannot carry"),
    ],
)
def test_specs_refuse_values_the_policy_could_not_carry(make: object, message: str) -> None:
    assert callable(make)
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_forbidden_message_needs_a_role_to_name() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        forbidden_message(())


# --- the parser knows exactly the subset it can execute ----------------------------------

_OPTIONAL_FEATURES = """<policies>
    <inbound>
        <!-- comments are fine -->
        <validate-azure-ad-token tenant-id="t" output-token-variable-name="jwt">
            <client-application-ids><application-id>app-1</application-id></client-application-ids>
            <audiences><audience>aud</audience></audiences>
            <required-claims>
                <claim name="scp" separator=" "><value>API.Access</value></claim>
            </required-claims>
        </validate-azure-ad-token>
    </inbound>
    <backend><set-backend-service backend-id="b" /></backend>
    <outbound />
    <on-error />
</policies>"""


def test_parser_accepts_the_documented_optional_parts_and_applies_the_defaults() -> None:
    document = parse_policy(_OPTIONAL_FEATURES)
    assert document.inbound == (
        ValidateAzureAdToken(
            tenant_id="t",
            header_name="Authorization",
            failed_validation_httpcode=401,
            failed_validation_error_message=None,
            audiences=("aud",),
            client_application_ids=("app-1",),
            required_claims=(Claim("scp", "all", " ", ("API.Access",)),),
            output_token_variable_name="jwt",
        ),
    )
    assert document.backend == (SetBackendService("b"),)
    assert document.outbound == document.on_error == ()


def test_parser_reads_header_and_managed_identity_statements_with_their_defaults() -> None:
    xml = _OPTIONAL_FEATURES.replace(
        "</validate-azure-ad-token>",
        '</validate-azure-ad-token><set-header name="X-A"><value>literal</value></set-header>'
        '<set-header name="X-B" exists-action="delete" />'
        '<authentication-managed-identity resource="r" client-id="c" ignore-error="true" '
        'output-token-variable-name="v" />',
    )
    assert parse_policy(xml).inbound[1:] == (
        SetHeader("X-A", "override", "literal"),
        SetHeader("X-B", "delete", None),
        AuthenticationManagedIdentity("r", "c", "v", True),
    )


def _edit(xml: str, old: str, new: str) -> str:
    assert old in xml
    return xml.replace(old, new, 1)


API_XML = build_api_policy(V2_ONLY)


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (
            _edit(API_XML, "<base />", '<choose><when condition="true" /></choose><base />'),
            "policies/inbound/choose: unsupported policy element",
        ),
        (
            _edit(API_XML, 'header-name="Authorization"', 'query-parameter-name="t"'),
            "policies/inbound/validate-azure-ad-token/@query-parameter-name: unsupported",
        ),
        (
            _edit(API_XML, 'backend-id="orders-backend"', 'backend-id="@(context.Api.Name)"'),
            "policies/inbound/set-backend-service/@backend-id: policy expressions",
        ),
        (
            _edit(API_XML, "{{orders-audience}}", '@("api://" + context.Api.Id)'),
            "validate-azure-ad-token/audiences/audience: policy expressions",
        ),
        (
            _edit(API_XML, "<audiences>", "<decryption-keys /><audiences>"),
            "validate-azure-ad-token/decryption-keys: unsupported policy element",
        ),
        (
            _edit(API_XML, "</required-claims>", "</required-claims><audiences />"),
            "validate-azure-ad-token/audiences: duplicated or out of the documented order",
        ),
        (_edit(API_XML, "<audience>{{orders-audience}}</audience>", ""), "needs at least one"),
        (_edit(API_XML, '"401"', '"four-oh-one"'), "not an HTTP status code"),
        (_edit(API_XML, 'match="any"', 'match="some"'), "must be all or any"),
        (_edit(API_XML, 'tenant-id="{{tenant-id}}" ', ""), "tenant-id is required"),
        (_edit(API_XML, "<base />", "<base>now</base>"), "policies/inbound/base: unexpected text"),
        (_edit(API_XML, "<base />", "<base />stray"), "unexpected text 'stray"),
        (_edit(API_XML, "<outbound>\n        <base />\n    </outbound>", ""), "missing section"),
        (_edit(API_XML, "<outbound>", "<backend /><outbound>"), "duplicated section"),
        (
            _edit(API_XML, "<outbound>\n        <base />", "<outbound><set-backend-service />"),
            "policies/outbound/set-backend-service: unsupported policy element",
        ),
        (_edit(API_XML, "<policies>", '<policies id="x">'), "policies/@id: unsupported"),
        (
            _edit(API_XML, 'GetValueOrDefault("oid", "")', 'GetValueOrDefault("upn", "")'),
            "set-header/value: policy expression",
        ),
        (
            _edit(API_XML, "<value>@(((Jwt)", "<value>@{ return ((Jwt)"),
            "not one of the caller-header templates",
        ),
        (_edit(API_XML, 'exists-action="delete"', 'exists-action="append"'), "is not emulated"),
        (_edit(API_XML, 'exists-action="delete"', 'exists-action="skip"'), "is not emulated"),
        (
            _edit(
                API_XML,
                'exists-action="delete" />',
                'exists-action="delete"><value /></set-header>',
            ),
            "a header being deleted takes no value",
        ),
        (
            _edit(API_XML, 'name="X-Caller-Roles" exists-action="delete"', 'name="a b"'),
            "not a header",
        ),
        (
            _edit(
                API_XML,
                '<authentication-managed-identity resource="{{orders-audience}}"',
                ('<authentication-managed-identity resource="@(context.Api.Id)"'),
            ),
            "authentication-managed-identity/@resource: policy expressions",
        ),
        (
            _edit(API_XML, 'resource="{{orders-audience}}"', 'resource="x" ignore-error="maybe"'),
            "must be true or false",
        ),
        (_edit(API_XML, ' resource="{{orders-audience}}"', ""), "resource is required"),
        (
            _edit(
                API_XML, "<outbound>\n        <base />", "<outbound><base /><set-header name='X' />"
            ),
            "policies/outbound/set-header: unsupported policy element",
        ),
        (
            _edit(API_XML, 'subscription-key" exists-action="delete"', 'subscription-key"'),
            "set-query-parameter/@exists-action: 'override' is not emulated",
        ),
        (
            _edit(API_XML, 'name="subscription-key" ', ""),
            "set-query-parameter/@name: name is required",
        ),
        (
            _edit(
                API_XML,
                'name="subscription-key" exists-action="delete" />',
                'name="subscription-key" exists-action="delete"><value>x</value>'
                "</set-query-parameter>",
            ),
            "set-query-parameter/value: unsupported policy element",
        ),
        ("<policy><inbound /></policy>", "the root element must be <policies>"),
        (API_XML.replace("</policies>", ""), "malformed XML"),
    ],
)
def test_parser_rejects_anything_it_cannot_execute_naming_where(xml: str, message: str) -> None:
    _rejects(xml, message)


def test_parse_api_policy_rejects_an_operation_policy() -> None:
    with pytest.raises(
        UnsupportedPolicyError, match="build_api_policy emits exactly 1 validate-azure-ad-token"
    ):
        parse_api_policy(build_operation_policy(WRITE_ONLY))


def test_parse_operation_policy_rejects_an_api_policy() -> None:
    with pytest.raises(UnsupportedPolicyError, match="build_operation_policy emits exactly"):
        parse_operation_policy(build_api_policy(V2_ONLY))


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (_edit(API_XML, '"401"', '"403"'), "failed_validation_httpcode is 403"),
        (_edit(API_XML, "missing or invalid", "bad"), "failed_validation_error_message is"),
        (_edit(API_XML, "<value>2.0</value>", "<value>1.0</value>"), "required_claims is"),
        (_edit(API_XML, 'match="any"', 'match="all"'), "required_claims is"),
        (_edit(API_XML, "<backend>", "<backend><base />"), "policies/backend: build_api_policy"),
        (_edit(API_XML, ' backend-id="orders-backend"', ""), "backend-id is required"),
        (
            _edit(
                API_XML,
                ' output-token-variable-name="caller-token"',
                ' output-token-variable-name="t"',
            ),
            "output_token_variable_name is 't'",
        ),
        (
            _edit(API_XML, '<set-header name="X-Caller-Roles" exists-action="delete" />', ""),
            "policies/inbound: build_api_policy emits exactly",
        ),
        (
            _edit(API_XML, 'name="X-Caller-Roles" exists-action="override"', 'name="X-Caller-Oid"'),
            "name is 'X-Caller-Oid'",
        ),
        (
            _edit(
                API_XML,
                '<set-query-parameter name="subscription-key"',
                '<set-query-parameter name="page"',
            ),
            "name is 'page'",
        ),
        (
            _edit(API_XML, '<set-header name="X-HTTP-Method" exists-action="delete" />', ""),
            "policies/inbound: build_api_policy emits exactly",
        ),
        (
            _edit(
                API_XML, '"{{orders-audience}}" />', '"{{orders-audience}}" ignore-error="true" />'
            ),
            "ignore_error is True",
        ),
        (
            _edit(
                API_XML,
                "<authentication-managed-identity",
                "<base /><authentication-managed-identity",
            ),
            "policies/inbound: build_api_policy emits exactly",
        ),
    ],
)
def test_parse_api_policy_rejects_what_the_builder_would_not_emit(xml: str, message: str) -> None:
    with pytest.raises(UnsupportedPolicyError, match=re.escape(message)):
        parse_api_policy(xml)


def test_parse_operation_policy_rejects_a_policy_without_roles() -> None:
    xml = build_operation_policy(WRITE_ONLY)
    at = xml.index('failed-validation-httpcode="403"')
    xml = xml[:at] + xml[at:].replace('name="roles"', 'name="scp"', 1)
    with pytest.raises(UnsupportedPolicyError, match="roles needs at least one entry"):
        parse_operation_policy(xml)


def test_parse_operation_policy_rejects_a_role_check_after_base() -> None:
    xml = build_operation_policy(WRITE_ONLY)
    moved = xml.replace("        <base />\n    </inbound>", "    </inbound>", 1).replace(
        "<inbound>", "<inbound>\n        <base />", 1
    )
    with pytest.raises(UnsupportedPolicyError, match="build_operation_policy emits exactly"):
        parse_operation_policy(moved)


# --- properties at the XML boundary ------------------------------------------------------

# Characters XML 1.0 carries unchanged: the awkward ASCII ones, C1 controls that XML 1.0 (unlike
# 1.1) leaves alone, and any assigned non-control code point (surrogates are not UTF-8).
_ALPHABET = st.one_of(
    st.sampled_from(list("<>&\"' ]\t\n{}@()\x7f\x85\u00a0\u2028")),
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cn")),
)
_TEXT = st.one_of(
    st.sampled_from(["]]>", "<value>", "&amp;", "a\"'b", "Orders.Read", "\u00e9\u540d\U0001f512"]),
    st.text(_ALPHABET, min_size=1, max_size=12),
).filter(lambda s: bool(s.strip()) and not s.lstrip().startswith(("@(", "@{")))


def _texts(min_size: int) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(_TEXT, min_size=min_size, max_size=4, unique=True).map(tuple)


_CHECKS = st.builds(
    TokenCheck,
    tenant=_TEXT,
    client_application_ids=_texts(1),
    audiences=_texts(1),
    roles=_texts(0),
    require_v2=st.booleans(),
)
_API_SPECS = st.builds(
    ApiPolicySpec, token=_CHECKS, backend_id=_TEXT, hop_resource=st.none() | _TEXT
)
_OPERATION_SPECS = st.builds(OperationPolicySpec, token=_CHECKS, roles=_texts(1))


@settings(deadline=None)
@given(_API_SPECS)
def test_any_api_spec_builds_well_formed_xml_that_parses_back_to_it(spec: ApiPolicySpec) -> None:
    xml = build_api_policy(spec)
    assert ET.fromstring(xml).tag == "policies"
    assert parse_api_policy(xml) == spec
    assert build_api_policy(spec) == xml


@settings(deadline=None)
@given(_OPERATION_SPECS)
def test_any_operation_spec_builds_xml_that_parses_back_and_names_its_roles(
    spec: OperationPolicySpec,
) -> None:
    xml = build_operation_policy(spec)
    assert parse_operation_policy(xml) == spec
    validate = _validate(parse_policy(xml))
    assert validate.failed_validation_error_message == forbidden_message(spec.roles)
    assert all(role in validate.failed_validation_error_message for role in spec.roles)


@settings(deadline=None)
@given(
    spec=_OPERATION_SPECS,
    section=st.sampled_from(SECTIONS),
    tag=st.sampled_from(["choose", "set-variable", "return-response", "validate-jwt", "foo"]),
    position=st.integers(min_value=0, max_value=2),
)
def test_an_unknown_element_anywhere_is_rejected_by_its_path(
    spec: OperationPolicySpec, section: str, tag: str, position: int
) -> None:
    root = ET.fromstring(build_operation_policy(spec))
    section_element = root.find(section)
    assert section_element is not None
    section_element.insert(position, ET.Element(tag))
    xml = ET.tostring(root, encoding="unicode")
    _rejects(xml, f"policies/{section}/{tag}: unsupported policy element")
    with pytest.raises(UnsupportedPolicyError):
        parse_operation_policy(xml)


@given(
    text=_TEXT,
    bad=st.sampled_from(["\x00", "\x08", "\x1f", "\r", "\ud800", "\ufffe", "\uffff"]),
)
def test_characters_xml_cannot_carry_are_refused_before_building(text: str, bad: str) -> None:
    with pytest.raises(ValueError, match="XML cannot carry"):
        OperationPolicySpec(V2_CHECK, (text + bad,))


def test_a_policy_with_a_dtd_or_entities_is_refused_not_expanded() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<policies><inbound>&b;</inbound></policies>"
    )
    with pytest.raises(UnsupportedPolicyError, match="malformed XML"):
        parse_policy(bomb)


# --- the allowed callers ------------------------------------------------------------------


def test_every_validation_lists_the_allowed_callers_before_the_audiences() -> None:
    for xml in (build_api_policy(V2_ONLY), build_operation_policy(WRITE_ONLY)):
        for element in ET.fromstring(xml).findall("inbound/validate-azure-ad-token"):
            assert [child.tag for child in element][:2] == ["client-application-ids", "audiences"]
            ids = [e.text for e in element.findall("client-application-ids/application-id")]
            assert tuple(ids) == CLIENTS


def test_a_spec_without_allowed_callers_is_refused() -> None:
    with pytest.raises(ValueError, match="client_application_ids needs at least one"):
        TokenCheck(TENANT, (), V2_AUDIENCE, ORDERS_ROLES, True)


def test_the_parser_gives_back_the_allowed_callers_and_refuses_a_document_without_them() -> None:
    assert parse_api_policy(build_api_policy(V2_ONLY)).token.client_application_ids == CLIENTS
    operation = parse_operation_policy(build_operation_policy(WRITE_ONLY))
    assert operation.token.client_application_ids == CLIENTS
    xml = build_api_policy(V2_ONLY)
    start, end = xml.index("<client-application-ids>"), xml.index("</client-application-ids>")
    without = xml[:start] + xml[end + len("</client-application-ids>") :]
    with pytest.raises(UnsupportedPolicyError, match="client_application_ids needs at least one"):
        parse_api_policy(without)


def test_allowed_callers_after_the_audiences_are_out_of_the_documented_order() -> None:
    xml = build_api_policy(V2_ONLY)
    start, end = xml.index("<client-application-ids>"), xml.index("</client-application-ids>")
    block = xml[start : end + len("</client-application-ids>")]
    moved = xml.replace(block, "").replace("</audiences>", "</audiences>" + block)
    _rejects(moved, "client-application-ids: duplicated or out of the documented order")
