"""The ``flux_mock`` fixture and the assertion helper, as a user's own suite sees them."""

from __future__ import annotations

import pytest

USER_SUITE = '''
import httpx
import pytest

from contract_tests import ContractViolation, assert_client_conforms

TEXT = "/fal-ai/flux-pro/kontext/max/text-to-image"


def test_good_client(flux_mock):
    with httpx.Client(base_url=flux_mock.url, headers=flux_mock.headers) as http:
        ticket = http.post(TEXT, json={"prompt": "x"}).json()
        assert http.get(ticket["status_url"]).json()["status"] == "COMPLETED"
        assert http.get(ticket["response_url"]).status_code == 200
    flux_mock.assert_no_violations()
    assert len(flux_mock.entries()) == 3


def test_bad_client(flux_mock):
    with httpx.Client(base_url=flux_mock.url, headers=flux_mock.headers) as http:
        http.post(TEXT, json={"prompt": 5, "mood": "calm"})
    assert_client_conforms(flux_mock)


def test_journal_is_isolated_per_test(flux_mock):
    assert flux_mock.entries() == []
    httpx.get(flux_mock.url + "/nowhere")  # no test-id header: counts for the running test
    assert [e.status for e in flux_mock.entries()] == [404]


def test_warnings_only(flux_mock):
    with httpx.Client(base_url=flux_mock.url, headers=flux_mock.headers) as http:
        ticket = http.post(TEXT, json={"prompt": "x", "mood": "calm"}).json()
        http.get(ticket["status_url"])
        http.get(ticket["response_url"])
    assert [v.rule for v in flux_mock.violations()] == ["schema.unknown-field"]
    flux_mock.assert_no_violations()  # warnings fail only a strict check
    with pytest.raises(ContractViolation, match="schema.unknown-field"):
        assert_client_conforms(flux_mock, strict=True)


def test_a_client_that_retries_an_injected_429_passes(flux_mock):
    flux_mock.add_rule({"match": {"method": "POST"}, "times": 1,
                        "effect": {"type": "error", "status": 429, "retry_after": 0}})
    with httpx.Client(base_url=flux_mock.url, headers=flux_mock.headers) as http:
        assert http.post(TEXT, json={"prompt": "x"}).status_code == 429
        ticket = http.post(TEXT, json={"prompt": "x"}).json()
        assert http.get(ticket["status_url"]).json()["status"] == "COMPLETED"
        assert http.get(ticket["response_url"]).status_code == 200
    assert_client_conforms(flux_mock, strict=True)
    [note] = [v for e in flux_mock.entries() for v in e.violations]
    assert (note.rule, note.severity) == ("fault.injected", "info")


def test_a_fault_rule_reaches_an_untagged_client(flux_mock):
    flux_mock.add_rule({"match": {"method": "POST"}, "effect": {"type": "error", "status": 429, "retry_after": 1}})
    answer = httpx.post(flux_mock.url + TEXT, json={"prompt": "x"})
    assert answer.status_code == 429 and answer.headers["retry-after"] == "1"


def test_rules_end_with_their_test(flux_mock):
    assert httpx.post(flux_mock.url + TEXT, json={"prompt": "x"}).status_code == 200
    with pytest.raises(ValueError, match="refused"):
        flux_mock.add_rule({"effect": {"type": "no-such-effect"}})


@pytest.mark.flux_mock(api_key="sekret", time_scale=0)
def test_per_test_options(flux_mock, flux_mock_server):
    assert flux_mock.server is not flux_mock_server
    assert httpx.post(flux_mock.url + TEXT, json={"prompt": "x"}).status_code == 401
'''


def test_user_suite_with_flux_mock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=7, failed=1)
    out = result.stdout.str()
    assert "test_bad_client" in out
    assert "the client broke the contract (1 requests, 1 errors, 1 warnings, 0 notes)" in out
    assert "error   [schema.type_error.str] field 'prompt': str type expected" in out
    assert "warning [schema.unknown-field] field 'mood'" in out


def test_conformance_tests_skip_without_a_target(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--pyargs", "contract_tests", "-p", "no:cacheprovider", "-q", "-rs", "-k", "cancel"
    )
    result.assert_outcomes(skipped=6)
    assert "server conformance needs --target URL" in result.stdout.str()
