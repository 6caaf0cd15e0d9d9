from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sandbox.rehearsal.emulators.directory import ApiApp, Directory


def test_a_resource_resolves_as_identifier_uri_with_or_without_slash_or_as_bare_guid(
    directory: Directory, ids
):
    for resource in (f"api://{ids.orders}", f"api://{ids.orders}/", ids.orders, ids.orders.upper()):
        app = directory.app_for_resource(resource)
        assert app is not None and app.client_id == ids.orders


def test_scopes_other_tenants_ids_and_near_misses_do_not_resolve(directory: Directory, ids):
    for resource in (
        f"api://{ids.orders}/.default",
        f"api://{ids.orders}//",
        f"https://{ids.orders}",
        f"api://{ids.tenant}",
        ids.orders_sp,  # the service principal's object ID is not a resource name
        "",
    ):
        assert directory.app_for_resource(resource) is None


_APP = ApiApp("6f1c2b1e-0000-4000-8000-00000000000a", "sp", "only")


@given(
    st.one_of(
        st.text(max_size=60),
        st.sampled_from([_APP.client_id, _APP.identifier_uri]).flatmap(
            lambda base: st.sampled_from(["", "/", "//", "/.default", " ", "x"]).map(
                lambda suffix: base + suffix
            )
        ),
        st.sampled_from([_APP.client_id.upper(), _APP.identifier_uri.upper()]),
    )
)
def test_arbitrary_text_resolves_only_in_the_three_accepted_forms(resource: str):
    directory = Directory("tenant", apps=(_APP,))
    accepted = resource in (_APP.identifier_uri, _APP.identifier_uri + "/") or (
        resource.lower() == _APP.client_id
    )
    assert (directory.app_for_resource(resource) is not None) == accepted


def test_an_identifier_uri_defaults_to_api_slash_client_id():
    assert ApiApp("abc", "sp", "x").identifier_uri == "api://abc"
    assert ApiApp("abc", "sp", "x", identifier_uri="api://orders").identifier_uri == "api://orders"


def test_a_managed_identity_gets_only_directly_assigned_roles(directory: Directory, ids):
    orders = directory.app_for_resource(ids.orders)
    assert orders is not None
    assert directory.direct_roles(ids.reader_mi, orders) == ("Orders.Read",)
    assert directory.direct_roles(ids.group_mi, orders) == ()


def test_a_user_gets_direct_and_group_held_roles(directory: Directory, ids):
    orders = directory.app_for_resource(ids.orders)
    assert orders is not None
    assert directory.direct_roles(ids.alice, orders) == ("Orders.Read", "Orders.Write")


def test_group_membership_counts_as_assignment_for_managed_identities_and_users(
    directory: Directory, ids
):
    orders = directory.app_for_resource(ids.orders)
    assert orders is not None
    assert directory.is_assigned(ids.group_mi, orders)
    assert directory.is_assigned(ids.alice, orders)
    assert not directory.is_assigned(ids.lonely_mi, orders)
    assert not directory.is_assigned(ids.bob, orders)


def test_default_access_assigns_without_adding_a_role(directory: Directory, ids):
    legacy = directory.app_for_resource(ids.legacy)
    assert legacy is not None
    assert directory.is_assigned(ids.alice, legacy)
    assert directory.direct_roles(ids.alice, legacy) == ()
