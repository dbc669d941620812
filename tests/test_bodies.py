from __future__ import annotations

import copy
from typing import Any

import pytest

from app.bodies import BODY_TYPES, validate_body
from app.body_text import plain_text, replace_text, text_body
from app.content import MAX_DEPTH, MAX_NODES, BodyError

LINK: dict[str, Any] = {
    "type": "link",
    "link": {"text": "Track order", "url": "https://shop.example/o/42"},
}
IMAGE: dict[str, Any] = {
    "type": "image",
    "image": {"images": [{"mediaUrl": "https://cdn.example/cat.png"}], "text": "Our cat"},
}

VALID_BODIES: dict[str, dict[str, Any]] = {
    "text": {"type": "text", "text": {"text": "Your order shipped", "actions": [LINK]}},
    "html": {"type": "html", "html": {"html": "<p>Hello <b>Ada</b></p>", "text": "Hello Ada"}},
    "image": IMAGE,
    "gif": {"type": "gif", "gif": {"mediaUrl": "https://cdn.example/wave.gif", "text": "Hi!"}},
    "file": {
        "type": "file",
        "file": {
            "files": [
                {
                    "contentType": "application/pdf",
                    "mediaUrl": "https://cdn.example/invoice.pdf",
                    "filename": "invoice.pdf",
                }
            ],
            "text": "Your invoice",
        },
    },
    "location": {
        "type": "location",
        "location": {
            "coordinates": {"latitude": 52.3676, "longitude": 4.9041},
            "location": {"label": "Bird HQ", "address": "Trompenburgstraat 2C, Amsterdam"},
        },
    },
    "carousel": {
        "type": "carousel",
        "carousel": {
            "text": "New arrivals",
            "items": [{"title": "Red shoes", "mediaUrl": "https://cdn.example/red.png"}],
        },
    },
    "list": {
        "type": "list",
        "list": {
            "title": "Pick a delivery slot",
            "items": [{"title": "Morning", "actions": [LINK]}],
        },
    },
    "section": {
        "type": "section",
        "section": {"items": [{"type": "text", "text": {"text": "Look at this:"}}, IMAGE]},
    },
    "authentication": {
        "type": "authentication",
        "authentication": {
            "otp": {
                "disclaimer": True,
                "expirationTime": 600,
                "actions": [{"type": "postback", "postback": {"text": "Copy code"}}],
            }
        },
    },
    "action": {
        "type": "action",
        "action": {"action": "permissionRequest", "permissionRequest": {"resource": "call"}},
    },
}


def details_of(body: object, path: str = "input.body") -> dict[str, list[str]]:
    with pytest.raises(BodyError) as caught:
        validate_body(body, path)
    return caught.value.details


def nested_lists(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_the_schema_knows_exactly_the_eleven_body_types() -> None:
    assert set(BODY_TYPES) == set(VALID_BODIES)
    assert len(BODY_TYPES) == 11


@pytest.mark.parametrize("kind", sorted(VALID_BODIES))
def test_a_valid_body_of_each_type_is_returned_unchanged(kind: str) -> None:
    body = copy.deepcopy(VALID_BODIES[kind])

    assert validate_body(body) is body
    assert body == VALID_BODIES[kind]


@pytest.mark.parametrize("body", [[], "hello", None, 5, True])
def test_a_body_that_is_not_an_object_is_reported_at_the_body_path(body: object) -> None:
    assert details_of(body) == {"input.body": ["must be an object"]}


def test_a_body_without_a_type_is_reported_at_its_type_path() -> None:
    assert details_of({"text": {"text": "hi"}}) == {"input.body.type": ["is required"]}


@pytest.mark.parametrize("kind", ["sms", "TEXT", 5, None])
def test_an_unknown_type_lists_every_allowed_type(kind: object) -> None:
    assert details_of({"type": kind, "text": {"text": "hi"}}) == {
        "input.body.type": [
            "must be one of: action, authentication, carousel, file, gif, html, image, list, "
            "location, section, text"
        ]
    }


def test_a_text_body_without_text_is_reported_at_its_json_path() -> None:
    assert details_of({"type": "text", "text": {}}) == {"input.body.text.text": ["is required"]}


def test_a_text_that_is_not_a_string_is_reported_at_its_json_path() -> None:
    assert details_of({"type": "text", "text": {"text": 5}}) == {
        "input.body.text.text": ["must be a string"]
    }


def test_a_body_without_the_content_its_type_names_is_reported_at_the_content_path() -> None:
    assert details_of({"type": "image", "text": {"text": "hi"}}) == {
        "input.body.image": ["is required"]
    }


def test_errors_come_only_from_the_variant_the_type_selects() -> None:
    details = details_of({"type": "gif", "gif": {}, "text": {"text": 5}})

    assert details == {"input.body.gif.mediaUrl": ["is required"]}


def test_array_indices_appear_in_the_path_of_a_nested_action() -> None:
    body = {
        "type": "text",
        "text": {"text": "hi", "actions": [{"type": "link", "link": {"text": "Open"}}]},
    }

    assert details_of(body) == {"input.body.text.actions[0].link.url": ["is required"]}


def test_an_action_is_discriminated_by_its_own_type() -> None:
    body = {
        "type": "text",
        "text": {
            "text": "hi",
            "actions": [LINK, {"type": "call"}, {"type": "reply", "reply": {"text": 7}}],
        },
    }

    assert details_of(body) == {
        "input.body.text.actions[1].type": [
            "must be one of: buy, link, locationRequest, postback, reply"
        ],
        "input.body.text.actions[2].reply.text": ["must be a string"],
    }


def test_an_invalid_item_of_a_nested_section_is_reported_at_its_full_path() -> None:
    inner = {
        "type": "section",
        "section": {"items": [{"type": "image", "image": {"images": [{}]}}]},
    }
    body = {"type": "section", "section": {"items": [VALID_BODIES["text"], inner]}}

    assert details_of(body) == {
        "input.body.section.items[1].section.items[0].image.images[0].mediaUrl": ["is required"]
    }


def test_every_problem_in_a_body_is_reported_together() -> None:
    body = {
        "type": "location",
        "location": {"coordinates": {"latitude": "52.3"}, "location": {"label": "HQ"}},
    }

    assert details_of(body) == {
        "input.body.location.coordinates.latitude": ["must be a number"],
        "input.body.location.coordinates.longitude": ["is required"],
        "input.body.location.location.address": ["is required"],
    }


def test_an_action_body_reports_a_missing_permission_request_and_bad_enums() -> None:
    assert details_of({"type": "action", "action": {"action": "permissionRequest"}}) == {
        "input.body.action.permissionRequest": ["is required"]
    }
    body = {"type": "action", "action": {"action": "nag", "permissionRequest": {"resource": "sms"}}}
    assert details_of(body) == {
        "input.body.action.action": ["must be one of: permissionRequest"],
        "input.body.action.permissionRequest.resource": ["must be one of: call"],
    }


def test_a_boolean_is_not_accepted_where_an_integer_is_required() -> None:
    action = {"type": "buy", "buy": {"text": "Buy", "amountCents": True, "currency": "EUR"}}
    body = {"type": "text", "text": {"text": "hi", "actions": [action]}}

    assert details_of(body) == {
        "input.body.text.actions[0].buy.amountCents": ["must be an integer"]
    }


def test_a_key_that_is_not_an_identifier_is_quoted_in_the_path() -> None:
    body = {"type": "html", "html": {"html": "<p/>", "metadata": {"headers": {"X-Trace Id": 1}}}}

    assert details_of(body) == {
        'input.body.html.metadata.headers["X-Trace Id"]': ["must be a string"]
    }


def test_the_path_prefix_can_be_chosen_by_the_caller() -> None:
    details = details_of({"type": "text", "text": {}}, path="input.messages[2].body")

    assert details == {"input.messages[2].body.text.text": ["is required"]}


def test_no_error_is_the_useless_not_valid_under_any_schema_message() -> None:
    bodies: list[object] = [
        {"type": "section", "section": {"items": [{"type": "list", "list": {"items": [5]}}]}},
        {"type": "authentication", "authentication": {"otp": {"actions": [{"type": "buy"}]}}},
        {"type": "action", "action": {}},
        {"type": "file", "file": {"files": [{"mediaUrl": 1}]}},
    ]
    for body in bodies:
        for messages in details_of(body).values():
            assert not any("valid under" in message for message in messages), body


def test_the_error_message_names_the_path_and_the_problem() -> None:
    with pytest.raises(BodyError, match=r"input\.body\.text\.text: is required"):
        validate_body({"type": "text", "text": {}})


def test_a_body_nested_exactly_to_the_depth_limit_is_accepted() -> None:
    body = {"type": "text", "text": {"text": "hi"}, "extra": nested_lists(MAX_DEPTH - 1)}

    assert validate_body(body) is body


def test_a_body_nested_beyond_the_depth_limit_is_rejected_with_a_clear_message() -> None:
    body = {"type": "text", "text": {"text": "hi"}, "extra": nested_lists(MAX_DEPTH)}

    assert details_of(body) == {"input.body": ["must not be nested more than 32 levels deep"]}


def test_deeply_nested_sections_hit_the_depth_limit() -> None:
    body: dict[str, Any] = VALID_BODIES["text"]
    for _ in range(MAX_DEPTH // 3 + 1):
        body = {"type": "section", "section": {"items": [body]}}

    assert details_of(body) == {"input.body": ["must not be nested more than 32 levels deep"]}


def test_a_body_nested_beyond_the_interpreter_recursion_limit_is_rejected_without_crashing() -> (
    None
):
    body = {"type": "text", "text": {"text": "hi"}, "extra": nested_lists(200_000)}

    assert details_of(body) == {"input.body": ["must not be nested more than 32 levels deep"]}


def test_a_body_with_too_many_values_is_rejected_with_a_clear_message() -> None:
    body = {"type": "text", "text": {"text": "hi"}, "extra": [0] * MAX_NODES}

    assert details_of(body) == {"input.body": ["must not contain more than 10000 values"]}


def test_a_large_body_under_the_value_limit_is_accepted() -> None:
    actions = [LINK] * 500
    body = {"type": "text", "text": {"text": "hi", "actions": actions}}

    assert validate_body(body) is body


def test_text_body_builds_a_plain_text_body() -> None:
    assert text_body("hello") == {"type": "text", "text": {"text": "hello"}}
    assert validate_body(text_body("hello")) == text_body("hello")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("text", "Your order shipped"),
        ("html", "Hello Ada"),
        ("image", "Our cat"),
        ("gif", "Hi!"),
        ("file", "Your invoice"),
        ("location", "Bird HQ, Trompenburgstraat 2C, Amsterdam"),
        ("carousel", "New arrivals"),
        ("list", "Pick a delivery slot"),
        ("section", "Look at this:\nOur cat"),
        ("authentication", None),
        ("action", None),
    ],
)
def test_plain_text_of_each_body_type(kind: str, expected: str | None) -> None:
    assert plain_text(VALID_BODIES[kind]) == expected


@pytest.mark.parametrize(
    "body",
    [
        {"type": "html", "html": {"html": "<p>only markup</p>"}},
        {"type": "gif", "gif": {"mediaUrl": "https://cdn.example/wave.gif"}},
        {"type": "image", "image": {"images": [], "text": ""}},
        {"type": "section", "section": {"items": [{"type": "gif", "gif": {"mediaUrl": "x"}}]}},
        {"type": "location", "location": {"location": {"label": "", "address": ""}}},
        {"type": "unknown"},
        {},
    ],
)
def test_plain_text_is_none_when_a_body_has_no_text(body: dict[str, Any]) -> None:
    assert plain_text(body) is None


def test_plain_text_of_a_list_prefers_its_text_over_its_title() -> None:
    assert plain_text({"type": "list", "list": {"title": "Menu", "text": "Pick one"}}) == "Pick one"


def test_plain_text_of_a_location_does_not_repeat_a_label_equal_to_its_address() -> None:
    place = {"label": "Dam 1, Amsterdam", "address": "Dam 1, Amsterdam"}
    body = {"type": "location", "location": {"location": place}}

    assert plain_text(body) == "Dam 1, Amsterdam"


def test_plain_text_of_an_authentication_body_with_a_text_is_that_text() -> None:
    body = {"type": "authentication", "authentication": {"text": "Your code", "otp": {}}}

    assert plain_text(body) == "Your code"


@pytest.mark.parametrize("kind", sorted(VALID_BODIES))
def test_replace_text_gives_a_valid_body_whose_plain_text_is_the_new_text(kind: str) -> None:
    original = copy.deepcopy(VALID_BODIES[kind])

    replaced = replace_text(original, "Edited")

    assert validate_body(replaced) == replaced
    assert plain_text(replaced) == "Edited"
    assert original == VALID_BODIES[kind]


@pytest.mark.parametrize("kind", ["html", "image", "gif", "file", "carousel", "list"])
def test_replace_text_keeps_everything_but_the_text_of_a_captioned_body(kind: str) -> None:
    replaced = replace_text(VALID_BODIES[kind], "Edited")

    assert replaced["type"] == kind
    assert {k: v for k, v in replaced[kind].items() if k != "text"} == {
        k: v for k, v in VALID_BODIES[kind][kind].items() if k != "text"
    }


@pytest.mark.parametrize("kind", ["location", "authentication", "action"])
def test_replace_text_turns_a_body_without_a_text_into_a_text_body(kind: str) -> None:
    assert replace_text(VALID_BODIES[kind], "Edited") == text_body("Edited")


def test_replace_text_of_a_section_replaces_all_of_its_joined_text() -> None:
    body = {
        "type": "section",
        "section": {
            "items": [
                {"type": "text", "text": {"text": "Hi"}},
                IMAGE,
                {"type": "text", "text": {"text": "Bye"}},
            ]
        },
    }

    replaced = replace_text(body, "Hello all")

    assert replaced == {
        "type": "section",
        "section": {
            "items": [
                {"type": "text", "text": {"text": "Hello all"}},
                {"type": "image", "image": {"images": IMAGE["image"]["images"]}},
            ]
        },
    }


def test_replace_text_of_a_section_without_text_appends_a_text_item() -> None:
    gif = {"type": "gif", "gif": {"mediaUrl": "https://cdn.example/wave.gif"}}
    body = {"type": "section", "section": {"items": [gif]}}

    assert replace_text(body, "Look!") == {
        "type": "section",
        "section": {"items": [gif, text_body("Look!")]},
    }


def test_values_at_the_edges_of_the_schemas_formats_are_accepted() -> None:
    otp = {"disclaimer": True, "expirationTime": 2**32 - 1}
    assert validate_body({"type": "authentication", "authentication": {"otp": otp}})
    for when in ("2024-12-03T12:00:00Z", "2024-12-03t12:00:00.5+02:00"):
        whatsapp = {"previewUrl": True, "callPermissionExpiration": when}
        body = {"type": "text", "text": {"text": "hi", "metadata": {"whatsapp": whatsapp}}}
        assert validate_body(body) is body
