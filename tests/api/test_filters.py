"""GET /api/v3/core/tokens/ filters (docs/api.md §8, §9): exact matching, choice and datetime
validation, whitespace, duplicated and empty parameters, NUL and invalid UTF-8 in values, and
malformed query strings. Every case runs as the admin on the standard world (world.py); one
case = raw query string -> expected identifiers (a 200 page compared whole) or Err(status, body).
"""

import pytest

from world import BOOTSTRAP, Err, Page, check_list

ALL = ["Zeta", "a-1", "a1", "aB", "aZ", "a_1", "ab", BOOTSTRAP, "bob-api", "bob-app",
       "carol-api", "dave-api", "elodie-api", "erin-3", "erin-api", "frank-api", "gina-api",
       "henry-api"]
ALICE = ["a-1", "a1", "aB", "aZ", "a_1", "ab"]
API = [i for i in ALL if i not in ("a1", "aB", "a_1", "bob-app")]
EXPIRING = ["a-1", "a1"]
NOT_EXPIRING = [i for i in ALL if i not in EXPIRING]

BAD_DATETIME = {"expires": ["Enter a valid date/time."]}
NUL = ["Null characters are not allowed."]


def bad_choice(value):
    return {"intent": [f"Select a valid choice. {value} is not one of the available choices."]}


def cases(table):
    return pytest.mark.parametrize("query,expected", table, ids=[repr(c[0]) for c in table])


def test_unfiltered_list_is_every_token_in_identifier_order(std, admin):
    check_list(admin, std, None, ALL)


@cases([
    ("identifier=a-1", ["a-1"]),
    ("identifier=A-1", []),                    # case-sensitive
    ("identifier=a", []),                      # exact, not a prefix
    ("identifier=Zeta", ["Zeta"]),
    ("identifier=zeta", []),
    ("identifier=a%2D1", ["a-1"]),
    ("identifier=authentik-bootstrap-token", [BOOTSTRAP]),
    ("identifier=nope", []),
    ("identifier=%27%20OR%20%271%27=%271", []),
    ("identifier=a-1%27--", []),
    ("identifier=", ALL),                      # empty values are ignored
])
def test_identifier(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    ("intent=api", API),
    ("intent=app_password", ["a1", "bob-app"]),
    ("intent=recovery", ["aB"]),
    ("intent=verification", ["a_1"]),
    ("intent=API", Err(400, bad_choice("API"))),
    ("intent=bogus", Err(400, bad_choice("bogus"))),
    ("intent=app-password", Err(400, bad_choice("app-password"))),
    ("intent=", ALL),
])
def test_intent(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    ("managed=m-ab", ["ab"]),
    ("managed=M-AB", []),
    ("managed=m-", []),
    ("managed=goauthentik.io%2Falice%2FaB", ["aB"]),
    ("managed=goauthentik.io/alice/aB", ["aB"]),
    ("managed=null", []),                      # null cannot be selected
    ("managed=m-dave", ["dave-api"]),          # inactive owner: still listed
    ("managed=", ALL),
])
def test_managed(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    ("user__username=alice", ALICE),
    ("user__username=Alice", []),
    ("user__username=ali", []),
    ("user__username=akadmin", ["Zeta", BOOTSTRAP]),
    ("user__username=dave", ["dave-api"]),
    ("user__username=nobody", []),
    ("user__username=", ALL),
])
def test_user_username(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    ("description=a", ["a-1"]),
    ("description=A", []),
    ("description=Caf%C3%A9%20Cr%C3%A8me", ["aB"]),
    ("description=caf%C3%A9%20cr%C3%A8me", []),
    ("description=Caf%C3%A9", []),
    ("description=%C3%A9", ["a1"]),
    ("description=%C3%89", []),
    ("description=%C3%89lan", ["aZ"]),
    ("description=100%25%20done", ["a_1"]),
    ("description=C:%5Ctemp", ["ab"]),
    ("description=say%20%22hi%22%20now", ["bob-api"]),
    ("description=x_y", ["henry-api"]),
    ("description=x%25y", []),
    ("description=", ALL),
])
def test_description(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    ("expires=2030-01-02T03:04:05.123456Z", ["a-1"]),
    ("expires=2030-01-02T05:04:05.123456%2B02:00", ["a-1"]),
    ("expires=2030-01-02T05:04:05.123456%2B0200", ["a-1"]),
    ("expires=2030-01-01T22:04:05.123456-05:00", ["a-1"]),
    ("expires=2030-01-02T03:04:05.123456%2B00:00", ["a-1"]),
    ("expires=2030-01-02T03:04:05.123456", ["a-1"]),          # naive = UTC
    ("expires=2030-01-02%2003:04:05.123456", ["a-1"]),        # space separator
    ("expires=2030-01-02T03:04:05Z", ["a1"]),
    ("expires=2030-01-02T03:04:05.000000Z", ["a1"]),
    ("expires=2030-01-02T03:04:05.123Z", []),                 # microsecond precision
    ("expires=2030-01-02T03:04:05.123457Z", []),
    ("expires=2030-01-02", ["a_1"]),                          # date only = midnight UTC
    ("expires=2030-01-02T00:00Z", ["a_1"]),
    ("expires=2030-01-02T00:00:00Z", ["a_1"]),
    ("expires=2031-01-01T00:00:00Z", ["Zeta"]),
    ("expires=2031-01-01T02:00:00%2B02:00", ["Zeta"]),
    ("expires=2035-01-01T00:00:00.5Z", ["frank-api"]),
    ("expires=2035-01-01T00:00:00.500000Z", ["frank-api"]),
    ("expires=2020-01-01T00:00:00Z", ["erin-api"]),
    ("expires=1999-01-01T00:00:00Z", []),
    ("expires=", ALL),
    ("expires=tomorrow", Err(400, BAD_DATETIME)),
    ("expires=null", Err(400, BAD_DATETIME)),
    ("expires=1893553445", Err(400, BAD_DATETIME)),
    ("expires=2030-13-01T00:00:00Z", Err(400, BAD_DATETIME)),
    ("expires=2030-02-30T00:00:00Z", Err(400, BAD_DATETIME)),
    ("expires=2030-01-02T25:00:00Z", Err(400, BAD_DATETIME)),
    ("expires=2030-12-31T23:59:60Z", Err(400, BAD_DATETIME)),
    ("expires=0000-01-01T00:00:00Z", Err(400, BAD_DATETIME)),
    ("expires=9999-12-31T23:59:59.999999Z", []),
    ("expires=2030-01-02T03:04:05.123456Zjunk", Err(400, BAD_DATETIME)),
    # an unencoded '+' is a space, which leaves " 02:00" after the time: invalid
    ("expires=2030-01-02T05:04:05.123456+02:00", Err(400, BAD_DATETIME)),
])
def test_expires(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    ("expiring=true", EXPIRING),
    ("expiring=True", EXPIRING),
    ("expiring=TRUE", EXPIRING),
    ("expiring=1", EXPIRING),
    ("expiring=false", NOT_EXPIRING),
    ("expiring=False", NOT_EXPIRING),
    ("expiring=FALSE", NOT_EXPIRING),
    ("expiring=fAlSe", NOT_EXPIRING),
    ("expiring=0", NOT_EXPIRING),
    # anything else is ignored (no filtering, no error)
    ("expiring=yes", ALL),
    ("expiring=on", ALL),
    ("expiring=t", ALL),
    ("expiring=2", ALL),
    ("expiring=-1", ALL),
    ("expiring=truee", ALL),
    ("expiring=%20true", ALL),
    ("expiring=", ALL),
])
def test_expiring(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    ("user__username=alice&intent=api", ["a-1", "aZ", "ab"]),
    ("user__username=alice&intent=api&expiring=true", ["a-1"]),
    ("user__username=bob&identifier=a-1", []),
    ("intent=app_password&expiring=true", ["a1"]),
    ("description=a&identifier=a-1&user__username=alice&intent=api&expiring=1"
     "&expires=2030-01-02T03:04:05.123456Z&search=a", ["a-1"]),
    ("description=a&identifier=a-1&user__username=alice&intent=recovery", []),
    # every invalid filter is reported in one 400
    ("intent=bogus&expires=bogus", Err(400, {**bad_choice("bogus"), **BAD_DATETIME})),
    ("expires=bogus&intent=bogus&identifier=a-1", Err(400, {**bad_choice("bogus"), **BAD_DATETIME})),
    # filters are validated before paging and searching
    ("intent=bogus&page=99", Err(400, bad_choice("bogus"))),
    ("expires=bogus&ordering=-identifier&search=a", Err(400, BAD_DATETIME)),
])
def test_combined_filters(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    ("foo=bar", ALL),
    ("user=2", ALL),                      # `user` is not a filter of this endpoint
    ("IDENTIFIER=a-1", ALL),              # parameter names are case-sensitive
    ("identifier__icontains=a", ALL),
    ("user__username__startswith=a", ALL),
    ("pk=00000000-0000-0000-0000-000000000000", ALL),
    ("key=x", ALL),
    ("name=Alice%20Liddell", ALL),
    ("format=json", ALL),
])
def test_unknown_parameters_are_ignored(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    # text filters compare the value stripped of surrounding (Unicode) whitespace
    ("identifier=%20a-1%20", ["a-1"]),
    ("identifier=%09a-1%0A", ["a-1"]),
    ("identifier=%C2%A0a-1%E3%80%80", ["a-1"]),
    ("identifier=a%20-1", []),
    ("identifier=%20", ALL),                 # blank after stripping: ignored
    ("identifier=%20%09%0D%0A", ALL),
    ("description=%20a%20", ["a-1"]),
    ("description=%20Caf%C3%A9%20Cr%C3%A8me%0A", ["aB"]),
    ("user__username=%20bob%0D%0A", ["bob-api", "bob-app"]),
    ("managed=%20m-ab%09", ["ab"]),
    # the intent choice filter is not stripped
    ("intent=%20api", Err(400, bad_choice(" api"))),
    ("intent=api%20", Err(400, bad_choice("api "))),
    ("intent=%09api", Err(400, bad_choice("\tapi"))),
    ("intent=%20", Err(400, bad_choice(" "))),
])
def test_whitespace(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    # a parameter given twice: the last value wins
    ("identifier=a-1&identifier=ab", ["ab"]),
    ("identifier=a-1&identifier=", ALL),
    ("identifier=&identifier=a-1", ["a-1"]),
    ("identifier=a-1&identifier", ALL),
    ("intent=bogus&intent=recovery", ["aB"]),
    ("intent=recovery&intent=bogus", Err(400, bad_choice("bogus"))),
    ("expires=bogus&expires=2030-01-02", ["a_1"]),
    ("expiring=true&expiring=maybe", ALL),
    ("expiring=maybe&expiring=true", EXPIRING),
    ("user__username=alice&user__username=bob", ["bob-api", "bob-app"]),
    ("search=zzz&search=alice", ALICE),
    ("ordering=-identifier&ordering=identifier", ALL),
    ("page=99&page=1", ALL),
    ("include_groups=true&include_groups=false", Page(ALL, groups=False)),
    ("include_groups=false&include_groups=true", Page(ALL, groups=True)),
])
def test_duplicated_parameters(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    # NUL in a text filter: Django's CharField validator
    ("identifier=a%00b", Err(400, {"identifier": NUL})),
    ("identifier=%00", Err(400, {"identifier": NUL})),
    ("identifier=%20%00%20", Err(400, {"identifier": NUL})),
    ("description=%00", Err(400, {"description": NUL})),
    ("user__username=alice%00", Err(400, {"user__username": NUL})),
    ("managed=m-ab%00", Err(400, {"managed": NUL})),
    ("identifier=a%00&description=b%00&user__username=c%00&managed=d%00",
     Err(400, {"identifier": NUL, "description": NUL, "user__username": NUL, "managed": NUL})),
    ("identifier=a%00&intent=bogus", Err(400, {"identifier": NUL, **bad_choice("bogus")})),
    ("intent=api%00", Err(400, bad_choice("api\x00"))),
    ("expires=%00", Err(400, BAD_DATETIME)),
    ("expires=2030-01-02%00", Err(400, BAD_DATETIME)),
    # elsewhere NUL is removed (search) or makes the value invalid for its parameter
    ("search=%00", ALL),
    ("search=al%00ice", ALICE),
    ("ordering=-identifier%00", ALL),        # unknown ordering name: dropped
    ("page=1%00", Err(404, {"detail": "Invalid page."})),
    ("page_size=1%00", ALL),                 # invalid page_size: default
    ("include_groups=true%00", Page(ALL, groups=False)),
    ("expiring=true%00", ALL),
    ("ident%00ifier=a-1", ALL),
    ("%00=a-1", ALL),
])
def test_nul_characters(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    # query values are decoded as UTF-8 with invalid sequences replaced by U+FFFD (Django);
    # erin-api's description is "bad\ufffdbyte" and erin-3's "bad\ufffd\ufffd\ufffdbyte"
    ("identifier=%FF", []),
    ("identifier=a-1%FF", []),
    ("description=bad%FFbyte", ["erin-api"]),
    ("description=bad%E2%82byte", ["erin-api"]),           # truncated sequence: one U+FFFD
    ("description=bad%EF%BF%BDbyte", ["erin-api"]),        # a real U+FFFD
    ("description=bad%ED%A0%80byte", ["erin-3"]),          # encoded surrogate: three
    ("description=bad%FF%FE%FDbyte", ["erin-3"]),
    ("description=%E9", []),                               # Latin-1 e-acute is not "é"
    ("user__username=%FFalice", []),
    ("managed=m-ab%FF", []),
    ("intent=%FF", Err(400, bad_choice("\ufffd"))),
    ("intent=api%FF", Err(400, bad_choice("api\ufffd"))),
    ("expires=%FF", Err(400, BAD_DATETIME)),
    ("search=%FF", ["erin-3", "erin-api"]),
    ("search=%C3", ["erin-3", "erin-api"]),
    ("search=bad%FFbyte", ["erin-api"]),
    ("ordering=-identifier%FF", ALL),
    ("page=%FF", Err(404, {"detail": "Invalid page."})),
    ("page_size=%FF", ALL),
    ("include_groups=%FF", Page(ALL, groups=False)),
    ("expiring=%FF", ALL),
    ("%FF=a-1", ALL),
    ("identifier%FF=a-1", ALL),
])
def test_invalid_utf8(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    ("", ALL),                                  # a bare '?'
    ("&&&", ALL),
    ("=", ALL),
    ("=a-1", ALL),
    ("==", ALL),
    ("identifier", ALL),                        # no '=': blank value, ignored
    ("identifier&intent=recovery", ["aB"]),
    ("identifier=a-1&", ["a-1"]),
    ("&identifier=a-1", ["a-1"]),
    ("&&identifier=a-1&&", ["a-1"]),
    ("identifier=a-1=x", []),                   # the value is "a-1=x"
    ("identifier=a-1;intent=api", []),          # ';' is not a separator
    ("identifier=%", []),                       # malformed escapes stay literal
    ("identifier=%zz", []),
    ("identifier=%2", []),
    ("identifier=%%", []),
    ("%69dentifier=a-1", ["a-1"]),              # names are %-decoded too
    ("identifier=a%2d1", ["a-1"]),
    ("description=Caf%C3%A9+Cr%C3%A8me", ["aB"]),  # '+' is a space
    ("description=Caf%C3%A9%2BCr%C3%A8me", []),
    ("description=100%25+done", ["a_1"]),
    ("description=100%+done", ["a_1"]),
    ("search=100%", ["a_1"]),
    ("intent=%", Err(400, bad_choice("%"))),
    ("page=%", Err(404, {"detail": "Invalid page."})),
])
def test_malformed_query_strings(std, admin, query, expected):
    check_list(admin, std, query, expected)
