"""Generated models: secrets out of repr(), offsets required on date-times (custom templates)."""

from __future__ import annotations

from glocalflex_rest.models import LoginForm, LoginResponse, TokenRequest, TokenResponse


def test_login_models_hide_passwords_and_tokens() -> None:
    """Login form password, login JWT and device tokens are not in repr but stay in to_dict."""
    form = LoginForm(email="a@b.c", password="pw-SECRET")
    login = LoginResponse.from_dict(
        {"userId": "u1", "locations": [{"_id": "k1", "token": "dev-SECRET"}], "token": "jwt-SECRET"}
    )
    text = repr(form) + repr(login) + str(login)
    assert "SECRET" not in text
    assert "a@b.c" in text and "u1" in text and "k1" in text  # the rest is still shown
    assert login.to_dict()["locations"][0]["token"] == "dev-SECRET"


def test_oauth_models_hide_tokens() -> None:
    """OAuth2 access and refresh tokens and the password grant's password are not in repr."""
    request = TokenRequest.from_dict(
        {"grant_type": "password", "client_id": "c", "username": "u", "password": "pw-SECRET"}
    )
    response = TokenResponse.from_dict(
        {"access_token": "at-SECRET", "refresh_token": "rt-SECRET", "expires_in": 300,
         "token_type": "Bearer"}
    )  # fmt: skip
    assert "SECRET" not in repr(request) + repr(response)
    assert response.access_token == "at-SECRET"


def test_every_message_datetime_requires_an_offset() -> None:
    """Each datetime field of the message models is tz-aware (specs/templates/datamodel)."""
    import msgspec
    from glocalflex_messages import models

    def datetimes(info: object) -> list[msgspec.inspect.DateTimeType]:
        """The datetime types inside one msgspec type description."""
        if isinstance(info, msgspec.inspect.DateTimeType):
            return [info]
        if isinstance(info, msgspec.inspect.UnionType):
            return [d for t in info.types for d in datetimes(t)]
        if isinstance(info, msgspec.inspect.Metadata):  # Annotated[..., Meta(description=...)]
            return datetimes(info.type)
        return []

    found = [
        (cls.__name__, field.name, dt.tz)
        for cls in vars(models).values()
        if isinstance(cls, type) and issubclass(cls, msgspec.Struct)
        for field in msgspec.inspect.type_info(cls).fields  # type: ignore[attr-defined]
        for dt in datetimes(field.type)
    ]
    assert len(found) >= 10 and all(tz is True for *_, tz in found), found
