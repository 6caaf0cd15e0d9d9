"""Rules 22 and 24 and the reading of validate-azure-ad-token, over real policy documents."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.secure_api_policies import UNKNOWN
from policies.secure_api_policies import gateway_policy_xml as rules
from tests.policy_fixtures import API_POLICY as STACK_POLICY

WHO = "ApiPolicy 'orders-policy'"


def policy(value: str, fmt: str = "xml") -> dict[str, str]:
    return {"format": fmt, "value": value, "apiId": "orders"}


def test_the_stack_policy_passes_base_and_cors_rules() -> None:
    assert rules.base_in_every_section(policy(STACK_POLICY), WHO) == []
    assert rules.no_wildcard_cors(policy(STACK_POLICY), WHO) == []


def test_rawxml_and_default_format_are_inspected() -> None:
    assert rules.base_in_every_section(policy(STACK_POLICY, "rawxml"), WHO) == []
    assert rules.base_in_every_section({"value": STACK_POLICY}, WHO) == []


def test_a_section_without_base_is_named_in_the_message() -> None:
    value = STACK_POLICY.replace("<outbound><base /></outbound>", "<outbound />")
    [message] = rules.base_in_every_section(policy(value), WHO)
    assert "<outbound>" in message
    assert "add <base />" in message


def test_a_missing_section_is_reported() -> None:
    value = STACK_POLICY.replace("<on-error><base /></on-error>", "")
    [message] = rules.base_in_every_section(policy(value), WHO)
    assert "<on-error>" in message


def test_base_inside_a_comment_does_not_count() -> None:
    value = STACK_POLICY.replace(
        "<backend><base /></backend>", "<backend><!-- <base /> --></backend>"
    )
    assert rules.base_in_every_section(policy(value), WHO)


def test_a_linked_policy_cannot_be_reviewed() -> None:
    [message] = rules.base_in_every_section(policy("https://x/p.xml", "xml-link"), WHO)
    assert 'format="xml"' in message


def test_malformed_xml_is_reported_not_raised() -> None:
    [message] = rules.base_in_every_section(policy("<policies><inbound>"), WHO)
    assert "not well-formed" in message
    assert rules.no_wildcard_cors(policy("<policies><inbound>"), WHO)


def test_a_document_without_policies_root_is_reported() -> None:
    assert "<policies>" in rules.base_in_every_section(policy("<inbound/>"), WHO)[0]


def test_an_unknown_policy_value_cannot_be_verified() -> None:
    assert "cannot be verified" in rules.base_in_every_section(policy(UNKNOWN), WHO)[0]


def cors(origins: str, credentials: str = "false") -> str:
    return STACK_POLICY.replace(
        "<inbound><base />",
        f'<inbound><base /><cors allow-credentials="{credentials}">'
        f"<allowed-origins>{origins}</allowed-origins>"
        "<allowed-methods><method>GET</method></allowed-methods></cors>",
    )


def test_cors_with_wildcard_origin_is_reported() -> None:
    [message] = rules.no_wildcard_cors(policy(cors("<origin>*</origin>")), WHO)
    assert 'origin "*"' in message


def test_cors_wildcard_with_credentials_says_so() -> None:
    value = cors("<origin>*</origin>", credentials="true")
    assert "allow-credentials=true" in rules.no_wildcard_cors(policy(value), WHO)[0]


def test_cors_with_exact_origins_passes() -> None:
    value = cors("<origin>https://portal.contoso.com</origin>")
    assert rules.no_wildcard_cors(policy(value), WHO) == []


def test_token_validation_is_read_from_inbound() -> None:
    [validation] = rules.token_validations(ET.fromstring(STACK_POLICY))
    assert validation.tenant_id == "{{tenant-id}}"
    assert validation.audiences == ("{{orders-audience}}",)
    assert validation.roles == ("Orders.Read", "Orders.Write")
    assert validation.has_roles_claim
    assert validation.failed_validation_httpcode == "401"


def test_a_token_validation_nested_in_choose_does_not_count() -> None:
    nested = STACK_POLICY.replace(
        "<validate-azure-ad-token", "<choose><when condition='x'><validate-azure-ad-token"
    ).replace("</validate-azure-ad-token>", "</validate-azure-ad-token></when></choose>")
    assert rules.token_validations(ET.fromstring(nested)) == []


_role = st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd")), min_size=1)


@given(roles=st.lists(_role, min_size=1, max_size=5, unique=True))
def test_roles_written_with_element_tree_are_read_back_exactly(roles: list[str]) -> None:
    root = ET.fromstring(STACK_POLICY)
    claim = root.find("inbound/validate-azure-ad-token/required-claims/claim")
    assert claim is not None
    for old in list(claim):
        claim.remove(old)
    for role in roles:
        ET.SubElement(claim, "value").text = role
    [validation] = rules.token_validations(ET.fromstring(ET.tostring(root)))
    assert validation.roles == tuple(roles)


@pytest.mark.parametrize("section", rules.SECTIONS)
def test_every_section_is_required(section: str) -> None:
    root = ET.fromstring(STACK_POLICY)
    element = root.find(section)
    assert element is not None
    root.remove(element)
    assert rules.base_in_every_section(policy(ET.tostring(root, encoding="unicode")), WHO)


def test_a_policy_declaring_entities_is_reported_not_expanded() -> None:
    bomb = '<!DOCTYPE p [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><policies>&b;</policies>'
    [message] = rules.base_in_every_section(policy(bomb), WHO)
    assert "not well-formed" in message
