"""dohq-artifactory's security API (users, groups, permission targets, tokens, encrypted passwords)
against the reference server, the way cleanup jobs and provisioning scripts use it."""
import io

import pytest
import requests
from artifactory import ArtifactoryPath
from dohq_artifactory.admin import Group, PermissionTarget, Token, User
from dohq_artifactory.exception import ArtifactoryException

AUTH = ("admin", "password")


def admin(url):
    return ArtifactoryPath(url, auth=AUTH)


def test_users_groups_and_permission_targets(server_url):
    art = admin(server_url)
    group = Group(art, "interop-devs")
    group.description = "interop"
    group.create()
    assert group.read()
    user = User(art, "interop-user", email="iu@example.com", password="Interop-Pw-1")
    user.add_to_group(group)
    user.create()
    assert user.read()
    assert "interop-devs" in [str(g) for g in user.groups]
    assert user.realm == "internal"
    assert "interop-user" in User(art, "x", email="x@y", password="p").list()

    target = PermissionTarget(art, "interop-target", includes_pattern="interop-pt/**")
    target.add_repository("generic-local")
    target.add_user(user, PermissionTarget.ROLE_DEPLOY)
    target.add_group(group, PermissionTarget.ROLE_READ)
    target.create()
    again = PermissionTarget(art, "interop-target")
    assert again.read()
    assert again.includesPattern == "interop-pt/**"
    users = {str(k): v for k, v in again.users.items()}
    assert sorted(users["interop-user"]) == sorted(PermissionTarget.ROLE_DEPLOY)

    as_user = ArtifactoryPath(
        f"{server_url}/generic-local/interop-pt/a.txt", auth=("interop-user", "Interop-Pw-1")
    )
    as_user.deploy(io.BytesIO(b"allowed"))
    assert as_user.read_bytes() == b"allowed"
    outside = ArtifactoryPath(
        f"{server_url}/generic-local/interop-other/a.txt", auth=("interop-user", "Interop-Pw-1")
    )
    with pytest.raises(ArtifactoryException) as e:
        outside.deploy(io.BytesIO(b"refused"))
    assert "is not permitted to deploy 'interop-other/a.txt'" in str(e.value)
    # Overwriting needs delete permission, which ROLE_DEPLOY lacks.
    with pytest.raises(ArtifactoryException) as e:
        as_user.deploy(io.BytesIO(b"again"))
    assert "needs DELETE permission" in str(e.value)

    # The encrypted password stands in for the password.
    enc = user.encrypted_password
    assert enc.startswith("AP")
    by_enc = ArtifactoryPath(f"{server_url}/generic-local/interop-pt/a.txt", auth=("interop-user", enc))
    assert by_enc.read_bytes() == b"allowed"

    admin_path = ArtifactoryPath(f"{server_url}/generic-local/interop-pt", auth=AUTH)
    admin_path.rmdir()
    target.delete()
    assert not PermissionTarget(art, "interop-target").read()
    user.delete()
    assert not User(art, "interop-user", email="x@y", password="p").read()
    group.delete()
    assert not Group(art, "interop-devs").read()


def test_tokens_create_use_list_revoke(server_url):
    art = admin(server_url)
    f = ArtifactoryPath(f"{server_url}/generic-local/interop-tok/t.txt", auth=AUTH)
    f.deploy(io.BytesIO(b"token"))
    token = Token(art, username="admin", scope="member-of-groups:readers", refreshable=True)
    token.create()
    assert token.token["scope"] == "member-of-groups:readers api:*"
    assert token.token["token_type"] == "Bearer"
    assert token.token["refresh_token"]
    by_token = ArtifactoryPath(f"{server_url}/generic-local/interop-tok/t.txt", token=token.jwt_token)
    assert by_token.read_bytes() == b"token"
    # A readers-only token may not deploy, even for the admin.
    with pytest.raises(ArtifactoryException) as e:
        ArtifactoryPath(f"{server_url}/generic-local/interop-tok/u.txt", token=token.jwt_token).deploy(
            io.BytesIO(b"no")
        )
    assert "The user: 'admin' is not permitted to deploy" in str(e.value)
    listing = Token(art, username="admin", token_id=token.token_id)
    listing.read()
    assert token.token_id in listing.tokens
    assert listing.tokens[token.token_id]["refreshable"] is True
    Token(art, username="admin", token_id=token.token_id).delete()
    r = requests.get(f"{server_url}/generic-local/interop-tok/t.txt", headers={"Authorization": f"Bearer {token.jwt_token}"})
    assert r.status_code == 401
    # OAuth errors reach the client's exception text.
    with pytest.raises(requests.exceptions.HTTPError) as e:
        Token(art, username="admin", scope="no-such-scope").create()
    assert "Unaccepted scope: 'no-such-scope'" in str(e.value)
    f.unlink()
